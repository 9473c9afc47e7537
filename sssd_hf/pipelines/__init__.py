"""Generation pipelines."""

from .pipeline_sssd_ecg import SSSDECGPipeline, SSSDECGPipelineOutput, labels_to_codes

__all__ = ["SSSDECGPipeline", "SSSDECGPipelineOutput", "labels_to_codes"]
