"""Noise schedulers."""

from .scheduling_sssd_ecg import SSSDECGScheduler, SSSDECGSchedulerOutput

__all__ = ["SSSDECGScheduler", "SSSDECGSchedulerOutput"]
