"""sssd-hf: SSSD-ECG and SSSD-ECG-nle as a Hugging Face diffusers pipeline.

Quick start::

    from sssd_hf import SSSDECGPipeline
    pipe = SSSDECGPipeline.from_pretrained("path/or/hub-id")
    out = pipe(labels=["NORM", "AFIB"], generator=torch.Generator().manual_seed(0))
    out.ecgs  # (2, 12, 1000) millivolts, leads I, II, III, aVR, aVL, aVF, V1-V6
"""

__version__ = "0.1.0"

from .models.modeling_sssd_ecg import SSSDECGModel, SSSDECGModelOutput
from .pipelines.pipeline_sssd_ecg import SSSDECGPipeline, SSSDECGPipelineOutput
from .schedulers.scheduling_sssd_ecg import SSSDECGScheduler

__all__ = [
    "SSSDECGModel",
    "SSSDECGModelOutput",
    "SSSDECGPipeline",
    "SSSDECGPipelineOutput",
    "SSSDECGScheduler",
]
