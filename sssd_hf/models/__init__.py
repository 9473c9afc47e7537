"""Networks: the SSSD-ECG(-nle) noise predictor and its S4 layers."""

from .modeling_sssd_ecg import SSSDECGModel, SSSDECGModelOutput
from .s4 import BidirectionalS4, S4Kernel

__all__ = ["SSSDECGModel", "SSSDECGModelOutput", "BidirectionalS4", "S4Kernel"]
