"""A pipeline test mixin in the spirit of diffusers' ``PipelineTesterMixin``, for SSSDECGPipeline.

A test class sets :meth:`make_pipeline` (a fresh pipeline) and :attr:`labels` (the statements of
a 3-ECG call, or ``None`` for an unconditional model), and inherits the checks: output layout,
save/load round trip (with and without a weight variant), dtypes, batch-vs-single consistency,
``callback_on_step_end`` and ``latents`` behaviour, output types, ``from_pipe``.
"""

from __future__ import annotations

import json
from typing import Optional, Sequence

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler
from diffusers.callbacks import PipelineCallback
from diffusers.utils.torch_utils import randn_tensor

from sssd_hf import SSSDECGPipeline
from sssd_hf.leads import STANDARD_LEADS


def _public(config) -> dict:
    """A config without diffusers' bookkeeping keys (``_name_or_path``...), tuples as lists."""
    return json.loads(json.dumps({k: v for k, v in dict(config).items() if not k.startswith("_")}))


def _generators(n: int, offset: int = 0):
    return [torch.Generator().manual_seed(offset + i) for i in range(n)]


class PipelineTesterMixin:
    #: denoising steps of every call (few: these are plumbing tests)
    steps = 3
    #: statements of the 3 ECGs of a standard call; ``None`` for an unconditional model
    labels: Optional[Sequence[str]] = None
    #: a guidance weight to test with, for models that support classifier-free guidance
    guidance_scale: Optional[float] = None
    #: ``False``: calls leave ``guidance_scale`` out, so that the pipeline's ``default_guidance_scale``
    #: (which must then equal :attr:`guidance_scale`) guides them
    pass_guidance_scale: bool = True

    def make_pipeline(self) -> SSSDECGPipeline:
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------------------------
    def ecg_kwargs(self, n: int = 3) -> dict:
        if self.labels is None:
            return {"num_ecgs": n}
        return {"labels": list(self.labels)[:n]}

    def run(self, pipe, n: int = 3, seed: int = 0, **kwargs):
        kwargs.setdefault("num_inference_steps", self.steps)
        kwargs.setdefault("generator", torch.Generator().manual_seed(seed))
        if self.guidance_scale is not None and self.pass_guidance_scale:
            kwargs.setdefault("guidance_scale", self.guidance_scale)
        return pipe(**self.ecg_kwargs(n), **kwargs)

    @pytest.fixture
    def pipe(self):
        pipe = self.make_pipeline()
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def latent_shape(self, pipe, n: int = 3):
        return (n, pipe.model.config.in_channels, pipe.model.config.sample_length)

    # -- outputs --------------------------------------------------------------------------------
    def test_output_layout(self, pipe):
        out = self.run(pipe)
        length = pipe.model.config.sample_length
        assert out.ecgs.shape == (3, 12, length) and out.ecgs.dtype == np.float32 and np.isfinite(out.ecgs).all()
        assert out.lead_names == list(STANDARD_LEADS)
        assert out.sampling_rate == pipe.model.config.sampling_rate
        assert len(out.labels) == 3 and (self.labels is not None or out.labels == [None] * 3)

    def test_dict_and_tuple_outputs_are_equivalent(self, pipe):
        out = self.run(pipe)
        ecgs, lead_names, rate, labels = self.run(pipe, return_dict=False)
        np.testing.assert_array_equal(out.ecgs, ecgs)
        assert (out.lead_names, out.sampling_rate, out.labels) == (lead_names, rate, labels)

    def test_output_types(self, pipe):
        reference = self.run(pipe).ecgs
        pt = self.run(pipe, output_type="pt").ecgs
        assert isinstance(pt, torch.Tensor) and pt.dtype == torch.float32
        np.testing.assert_array_equal(pt.numpy(), reference)
        latent = self.run(pipe, output_type="latent")
        assert tuple(latent.ecgs.shape) == self.latent_shape(pipe)
        assert latent.lead_names == list(pipe.model.config.generated_leads)
        np.testing.assert_array_equal(pipe.decode_latents(latent.ecgs).numpy(), reference)

    # -- persistence ----------------------------------------------------------------------------
    def test_save_load_round_trip(self, pipe, tmp_path):
        pipe.save_pretrained(tmp_path / "p")
        loaded = SSSDECGPipeline.from_pretrained(tmp_path / "p")
        loaded.set_progress_bar_config(disable=True)
        assert _public(loaded.model.config) == _public(pipe.model.config)
        assert type(loaded.scheduler) is type(pipe.scheduler)
        assert loaded.config.default_num_inference_steps == pipe.config.default_num_inference_steps
        assert loaded.config.default_guidance_scale == pipe.config.default_guidance_scale
        np.testing.assert_array_equal(self.run(pipe).ecgs, self.run(loaded).ecgs)

    def test_save_load_weight_variant(self, pipe, tmp_path):
        pipe.save_pretrained(tmp_path / "p", variant="demo")
        assert (tmp_path / "p" / "model" / "diffusion_pytorch_model.demo.safetensors").is_file()
        loaded = SSSDECGPipeline.from_pretrained(tmp_path / "p", variant="demo", local_files_only=True)
        np.testing.assert_array_equal(self.run(pipe).ecgs, self.run(loaded).ecgs)
        with pytest.raises((OSError, EnvironmentError)):
            SSSDECGPipeline.from_pretrained(tmp_path / "p")  # no plain weights in this folder

    def test_from_pipe_shares_the_model(self, pipe):
        other = SSSDECGPipeline.from_pipe(pipe, scheduler=DDIMScheduler.from_config(pipe.scheduler.config))
        assert other.model is pipe.model and isinstance(other.scheduler, DDIMScheduler)
        assert isinstance(pipe.scheduler, type(self.make_pipeline().scheduler))  # the original is untouched
        assert other.config.default_num_inference_steps == pipe.config.default_num_inference_steps
        assert other.config.default_guidance_scale == pipe.config.default_guidance_scale

    # -- dtypes ---------------------------------------------------------------------------------
    @pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float64])
    def test_model_dtype(self, pipe, dtype, tmp_path):
        """Same starting latents, deterministic DDIM: a bf16 / float64 model tracks float32."""
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
        latents = torch.randn(self.latent_shape(pipe), generator=torch.Generator().manual_seed(0))
        reference = self.run(pipe, latents=latents).ecgs
        pipe.save_pretrained(tmp_path / "p")
        other = SSSDECGPipeline.from_pretrained(tmp_path / "p", torch_dtype=dtype)
        other.set_progress_bar_config(disable=True)
        assert other.model.dtype == dtype and isinstance(other.scheduler, DDIMScheduler)
        out = self.run(other, latents=latents)
        assert out.ecgs.dtype == np.float32 and np.isfinite(out.ecgs).all()
        relative = np.linalg.norm(out.ecgs - reference) / np.linalg.norm(reference)
        # classifier-free guidance eps_u + w (eps_c - eps_u) scales the bf16 error of each pass by about w
        bf16_tolerance = 0.05 * max(1.0, self.guidance_scale or 1.0)
        assert relative < (bf16_tolerance if dtype == torch.bfloat16 else 1e-5), relative

    # -- batching -------------------------------------------------------------------------------
    def test_batch_and_single_ecgs_agree(self, pipe):
        batch = self.run(pipe, generator=_generators(3)).ecgs
        for i in range(3):
            kwargs = self.ecg_kwargs(3)
            if "labels" in kwargs:
                kwargs["labels"] = kwargs["labels"][i : i + 1]
            else:
                kwargs["num_ecgs"] = 1
            single = pipe(**kwargs, num_inference_steps=self.steps, generator=_generators(1, offset=i),
                          **({} if self.guidance_scale is None else {"guidance_scale": self.guidance_scale})).ecgs
            np.testing.assert_allclose(single[0], batch[i], atol=1e-5, rtol=1e-5)

    def test_batch_size_does_not_change_ecgs(self, pipe):
        whole = self.run(pipe, generator=_generators(3), batch_size=3).ecgs
        pieces = self.run(pipe, generator=_generators(3), batch_size=2).ecgs
        np.testing.assert_allclose(whole, pieces, atol=1e-5, rtol=1e-5)

    # -- callbacks ------------------------------------------------------------------------------
    def test_callback_sees_every_step_of_every_chunk(self, pipe):
        seen = []

        def callback(p, step_index, timestep, callback_kwargs):
            assert p is pipe and set(callback_kwargs) == {"latents", "noise_pred"}
            assert callback_kwargs["latents"].shape == callback_kwargs["noise_pred"].shape
            seen.append((p.chunk_index, step_index, int(timestep), p.num_timesteps))
            return callback_kwargs

        reference = self.run(pipe, batch_size=2).ecgs
        out = self.run(pipe, batch_size=2, callback_on_step_end=callback,
                       callback_on_step_end_tensor_inputs=["latents", "noise_pred"])
        np.testing.assert_array_equal(out.ecgs, reference)  # returning the kwargs unchanged changes nothing
        pipe.scheduler.set_timesteps(self.steps)
        timesteps = [int(t) for t in pipe.scheduler.timesteps]
        assert seen == [(c, i, t, self.steps) for c in (0, 1) for i, t in enumerate(timesteps)]

    def test_callback_returned_latents_are_used(self, pipe):
        def zero_at_the_end(p, step_index, timestep, callback_kwargs):
            if step_index == p.num_timesteps - 1:
                return {"latents": torch.zeros_like(callback_kwargs["latents"])}
            return {}

        out = self.run(pipe, callback_on_step_end=zero_at_the_end)
        assert np.count_nonzero(out.ecgs) == 0

        def scale_first(p, step_index, timestep, callback_kwargs):
            return {"latents": callback_kwargs["latents"] * (0.5 if step_index == 0 else 1.0)}

        assert not np.allclose(self.run(pipe, callback_on_step_end=scale_first).ecgs, self.run(pipe).ecgs)

    def test_pipeline_callback_objects_are_accepted(self, pipe):
        class Halve(PipelineCallback):
            tensor_inputs = ["latents"]

            def callback_fn(self, pipeline, step_index, timestep, callback_kwargs):
                return {"latents": callback_kwargs["latents"] / 2}

        halved = self.run(pipe, callback_on_step_end=Halve(cutoff_step_ratio=None, cutoff_step_index=0))
        assert not np.allclose(halved.ecgs, self.run(pipe).ecgs)

    def test_bad_callbacks_are_refused(self, pipe):
        with pytest.raises(ValueError, match="not available"):
            self.run(pipe, callback_on_step_end=lambda *a: a[-1], callback_on_step_end_tensor_inputs=["sample"])
        with pytest.raises(TypeError, match="must return a dict"):
            self.run(pipe, callback_on_step_end=lambda *a: None)
        with pytest.raises(ValueError, match="returned latents of shape"):
            self.run(pipe, callback_on_step_end=lambda p, i, t, kw: {"latents": kw["latents"][:1]})

    # -- latents --------------------------------------------------------------------------------
    def test_given_latents_are_the_starting_noise(self, pipe):
        """Drawing the latents first from a generator and passing them, with the generator in the
        state the pipeline would leave it, gives the same ECGs as letting the pipeline draw."""
        generator = torch.Generator().manual_seed(7)
        latents = randn_tensor(self.latent_shape(pipe), generator=generator)
        given = self.run(pipe, latents=latents, generator=generator).ecgs
        drawn = self.run(pipe, generator=torch.Generator().manual_seed(7)).ecgs
        np.testing.assert_array_equal(given, drawn)

    @pytest.mark.parametrize("solver", [DDIMScheduler, DPMSolverMultistepScheduler])
    def test_same_latents_same_ecgs_with_a_deterministic_scheduler(self, pipe, solver):
        pipe.scheduler = solver.from_config(pipe.scheduler.config)
        latents = torch.randn(self.latent_shape(pipe), generator=torch.Generator().manual_seed(3))
        a = self.run(pipe, latents=latents, generator=torch.Generator().manual_seed(1)).ecgs
        b = self.run(pipe, latents=latents, generator=torch.Generator().manual_seed(2)).ecgs
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, self.run(pipe, latents=latents * 0.5).ecgs)

    def test_bad_latents_are_refused(self, pipe):
        shape = self.latent_shape(pipe)
        with pytest.raises(ValueError, match="latents must have shape"):
            self.run(pipe, latents=torch.zeros(shape[0] + 1, *shape[1:]))
        with pytest.raises(ValueError, match="NaN"):
            self.run(pipe, latents=torch.full(shape, float("nan")))
        with pytest.raises(ValueError, match="torch.Tensor"):
            self.run(pipe, latents=np.zeros(shape))

    # -- guidance -------------------------------------------------------------------------------
    def test_guidance(self, pipe):
        if self.guidance_scale is None:
            with pytest.raises(ValueError, match="guidance"):
                self.run(pipe, guidance_scale=2.0)
            return
        guided = self.run(pipe).ecgs
        plain = self.run(pipe, guidance_scale=1.0).ecgs
        assert not np.allclose(guided, plain)
        np.testing.assert_array_equal(guided, self.run(pipe, guidance_scale=self.guidance_scale).ecgs)
        if not self.pass_guidance_scale:
            assert pipe.default_guidance == self.guidance_scale

    def test_batched_guidance_equals_two_forward_passes(self, pipe):
        if self.guidance_scale is None:
            pytest.skip("this configuration has no classifier-free guidance")
        codes, multi_hot = pipe.encode_labels(list(self.labels), 1)
        from sssd_hf.pipelines.pipeline_sssd_ecg import _Conditioning

        x = torch.randn(self.latent_shape(pipe), generator=torch.Generator().manual_seed(0))
        pipe._guidance_scale = self.guidance_scale
        batched = pipe.predict_noise(x, torch.tensor(150), _Conditioning(multi_hot, None))
        with torch.no_grad():
            cond = pipe.model(x, 150, labels=multi_hot).sample
            null = pipe.model(x, 150, labels=None).sample
        torch.testing.assert_close(batched, null + self.guidance_scale * (cond - null), rtol=1e-5, atol=1e-5)
