"""Every pipeline configuration the project ships, through :class:`PipelineTesterMixin`."""

from diffusers import DPMSolverMultistepScheduler

from sssd_hf import SSSDECGPipeline
from sssd_hf.defaults import DEFAULT_PIPELINE_DIR
from sssd_hf.testing import make_tiny_pipeline

from .pipeline_tester import PipelineTesterMixin

NORM_AFIB_SR = ("NORM", "AFIB", "SR")


class TestNLEPipeline(PipelineTesterMixin):
    labels = ("NORM", "AFIB,SR", "SR")

    def make_pipeline(self):
        return make_tiny_pipeline(label_names=NORM_AFIB_SR, sample_length=64, seed=0)


class TestMultiHotPipeline(PipelineTesterMixin):
    labels = ("NORM", "AFIB,SR", "SR")

    def make_pipeline(self):
        return make_tiny_pipeline(label_names=NORM_AFIB_SR, label_embedding="multi_hot", sample_length=64, seed=1)


class TestUnconditionalPipeline(PipelineTesterMixin):
    labels = None

    def make_pipeline(self):
        return make_tiny_pipeline(label_names=None, sample_length=64, seed=2)


class TestGuidancePipeline(PipelineTesterMixin):
    """A learned null label: classifier-free guidance."""

    labels = ("NORM", "AFIB,SR", "SR")
    guidance_scale = 3.0

    def make_pipeline(self):
        return make_tiny_pipeline(label_names=NORM_AFIB_SR, sample_length=64, seed=3, learn_null_label=True)


class TestDefaultGuidancePipeline(PipelineTesterMixin):
    """A folder that recommends its guidance (``default_guidance_scale``): every call here gives none,
    so the outputs compared after save/load and ``from_pipe`` are guided by the carried default."""

    labels = ("NORM", "AFIB,SR", "SR")
    guidance_scale = 2.0
    pass_guidance_scale = False

    def make_pipeline(self):
        tiny = make_tiny_pipeline(label_names=NORM_AFIB_SR, sample_length=64, seed=5, learn_null_label=True)
        return SSSDECGPipeline(model=tiny.model, scheduler=tiny.scheduler, default_guidance_scale=self.guidance_scale)


class TestFewStepSolverPipeline(PipelineTesterMixin):
    """A folder that ships a stock solver and its step count (``default_num_inference_steps``)."""

    labels = ("NORM", "AFIB,SR", "SR")

    def make_pipeline(self):
        tiny = make_tiny_pipeline(label_names=NORM_AFIB_SR, sample_length=64, seed=4)
        solver = DPMSolverMultistepScheduler.from_config(tiny.scheduler.config)
        return SSSDECGPipeline(model=tiny.model, scheduler=solver, default_num_inference_steps=4)


class TestBundledDefaultPipeline(PipelineTesterMixin):
    """The default pipeline shipped in the package (trained on PTB-XL, real weights, 1000 samples at 100 Hz,
    guidance 3 by default)."""

    labels = ("SBRAD", "NORM,SR", "AFIB")
    steps = 2
    guidance_scale = 3.0  # the folder's default_guidance_scale: calls leave it out
    pass_guidance_scale = False

    def make_pipeline(self):
        return SSSDECGPipeline.from_pretrained(DEFAULT_PIPELINE_DIR)
