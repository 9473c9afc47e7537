"""Request validation: good requests pass, bad ones get a short one-line message before any work."""

from __future__ import annotations

import pytest

from sssd_hf.app import (
    MAX_ECHO_CHARS,
    GenerationRequest,
    RequestError,
    default_steps,
    download_formats,
    merge_groups,
    model_info,
    shorten,
    validate_request,
)
from sssd_hf.export import EXPORT_FORMATS
from sssd_hf.schedulers.samplers import DEFAULT_SAMPLER, SAMPLERS


@pytest.fixture(scope="module")
def info(default_model):
    return default_model[1]


def args(**overrides):
    values = dict(statements=["SR"], unconditional=False, num_ecgs=2, sampler="dpm", num_inference_steps=5, seed=3,
                  guidance_scale=1.0, formats=None)
    values.update(overrides)
    return values


def test_valid_request_with_defaults_from_the_registries(info):
    request, warnings = validate_request(info, ["SR", "SR"], num_ecgs=8.0)
    sampler = info.default_sampler
    assert request == GenerationRequest(("SR",), False, 8, sampler, default_steps(sampler, info), 0,
                                        info.default_guidance, tuple(EXPORT_FORMATS))
    assert info.supports_guidance and info.default_guidance == 3.0  # the bundled model's recommended guidance
    # the bundled model's recommended sampler (default_sampler in model_index.json) and its 20 steps
    assert info.default_sampler == "dpm-sde" and request.num_inference_steps == 20 and warnings == []
    assert download_formats() == tuple(EXPORT_FORMATS)


def test_a_model_without_a_recommended_sampler_gets_the_papers_ddpm():
    from sssd_hf.testing import make_tiny_pipeline

    plain = model_info(make_tiny_pipeline(label_names=("SR",)), "plain")
    request, _ = validate_request(plain, ["SR"])
    assert plain.default_sampler == DEFAULT_SAMPLER == "ddpm"
    assert request.sampler == "ddpm" and request.num_inference_steps == plain.num_train_timesteps


def test_every_registered_sampler_is_accepted_with_its_default_steps(info):
    for name, sampler in SAMPLERS.items():
        request, _ = validate_request(info, ["SR"], sampler=name)
        expected = min(sampler.default_steps or info.num_train_timesteps, info.num_train_timesteps)
        assert request.sampler == name and request.num_inference_steps == expected


def test_default_steps_never_exceed_the_models_schedule():
    from sssd_hf.testing import make_tiny_pipeline

    short = model_info(make_tiny_pipeline(num_train_timesteps=20, label_names=("SR",)), "short")
    assert default_steps("ddim", short) == 20 and default_steps("ddpm", short) == 20


def test_chosen_formats_keep_the_table_order(info):
    request, _ = validate_request(info, **args(formats=["npz", "wfdb", "npz"]))
    assert request.formats == ("wfdb", "npz")


def test_short_ddpm_warns(info):
    _, warnings = validate_request(info, **args(sampler="ddpm", num_inference_steps=20))
    assert len(warnings) == 1 and f"20 of {info.num_train_timesteps} steps" in warnings[0]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"statements": ["NOPE"]}, r"does not know the statement\(s\) 'NOPE'; it knows: 1AVB, AFIB, ASMI, "),
        ({"statements": ["SR", "CLBBB"]}, r"does not know the statement\(s\) 'CLBBB'"),
        ({"statements": []}, "Pick at least one statement"),
        ({"statements": None}, "Pick at least one statement"),
        ({"statements": "SR"}, "must be a list of codes"),
        ({"statements": [3]}, "must be text codes"),
        ({"statements": ["SR"] * 1000}, "Too many statements: 1000 given, at most 27"),
        ({"statements": ["SR"], "unconditional": True}, "not both"),
        ({"unconditional": "yes"}, "must be true or false"),
        ({"num_ecgs": 9}, "Number of ECGs must be between 1 and 8, got 9"),
        ({"num_ecgs": 10**12}, "Number of ECGs must be between 1 and 8"),
        ({"num_ecgs": 0}, "between 1 and 8"),
        ({"num_ecgs": 2.5}, "whole number"),
        ({"num_ecgs": None}, "whole number"),
        ({"num_ecgs": True}, "whole number"),
        ({"num_inference_steps": 0}, "Steps must be between 1 and 200, got 0"),
        ({"num_inference_steps": 201}, "Steps must be between 1 and 200, got 201"),
        ({"num_inference_steps": -5}, "Steps must be between 1 and 200"),
        ({"num_inference_steps": float("nan")}, "Steps must be a whole number"),
        ({"num_inference_steps": "ten"}, "Steps must be a whole number, got 'ten'"),
        ({"seed": -1}, "Seed must be between"),
        ({"seed": 2**40}, "Seed must be between"),
        ({"seed": "abc"}, "Seed must be a whole number"),
        ({"sampler": "euler"}, "Unknown sampler 'euler'; choose one of ddpm, ddim, dpm, dpm-sde, unipc"),
        ({"sampler": "dpmsolver++"}, "Unknown sampler"),  # the Space's former name: gone
        ({"sampler": 3}, "Unknown sampler 3"),  # None is not an error: it means the model's default sampler
        ({"guidance_scale": float("inf")}, "Guidance must be between 0 and 10"),
        ({"guidance_scale": "strong"}, "Guidance must be a number"),
        ({"formats": []}, "Pick at least one download format"),
        ({"formats": ["pdf"]}, "Unknown download format 'pdf'"),
        ({"formats": "wfdb"}, "must be a list of codes"),
    ],
)
def test_bad_requests_are_refused_with_a_message(info, overrides, message):
    with pytest.raises(RequestError, match=message) as caught:
        validate_request(info, **args(**overrides))
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300


@pytest.mark.parametrize("field", ["statements", "sampler", "num_ecgs", "num_inference_steps", "seed",
                                   "guidance_scale", "formats"])
def test_a_huge_input_is_not_echoed_back(info, field):
    huge = "X" * 200_000
    value = [huge] if field in ("statements", "formats") else huge
    with pytest.raises(RequestError) as caught:
        validate_request(info, **args(**{field: value}))
    message = str(caught.value)
    assert len(message) < 300 and "XXXX" in message and "200002 characters" in message


def test_many_unknown_codes_are_counted_not_listed(default_model):
    from sssd_hf.testing import make_tiny_pipeline

    wide = model_info(make_tiny_pipeline(label_names=[f"C{i}" for i in range(40)]), "wide")
    with pytest.raises(RequestError, match=r"'U0', 'U1', 'U2', 'U3', 'U4' and 15 more"):
        validate_request(wide, [f"U{i}" for i in range(20)])


def test_unconditional_and_guided_models():
    from sssd_hf.testing import make_tiny_pipeline

    plain = model_info(make_tiny_pipeline(label_names=None), "plain")
    with pytest.raises(RequestError, match="unconditional: it takes no statements"):
        validate_request(plain, ["SR"])
    unguided = model_info(make_tiny_pipeline(label_names=("SR",)), "unguided")
    with pytest.raises(RequestError, match="not trained for classifier-free guidance"):
        validate_request(unguided, ["SR"], guidance_scale=3.0)
    request, _ = validate_request(plain, [], num_inference_steps=2)
    assert request.statements == () and not request.unconditional

    guided = model_info(make_tiny_pipeline(label_names=("NORM", "AFIB"), learn_null_label=True), "guided")
    request, _ = validate_request(guided, ["AFIB"], guidance_scale=2.5)
    assert request.guidance_scale == 2.5
    with pytest.raises(RequestError, match="Guidance needs statements"):
        validate_request(guided, [], unconditional=True, guidance_scale=2.5)


def test_guidance_left_out_is_the_models_default():
    import dataclasses

    from sssd_hf.testing import make_tiny_pipeline

    guided = dataclasses.replace(
        model_info(make_tiny_pipeline(label_names=("NORM", "AFIB"), learn_null_label=True), "guided"),
        default_guidance=2.5)
    assert validate_request(guided, ["AFIB"])[0].guidance_scale == 2.5
    assert validate_request(guided, ["AFIB"], guidance_scale=None)[0].guidance_scale == 2.5
    assert validate_request(guided, ["AFIB"], guidance_scale=1.0)[0].guidance_scale == 1.0  # explicit: kept
    assert validate_request(guided, [], unconditional=True)[0].guidance_scale == 1.0  # nothing to guide towards
    strong = dataclasses.replace(guided, default_guidance=12.0)  # a default beyond the slider's usual range
    assert validate_request(strong, ["AFIB"], guidance_scale=12.0)[0].guidance_scale == 12.0
    with pytest.raises(RequestError, match="Guidance must be between 0 and 12"):
        validate_request(strong, ["AFIB"], guidance_scale=12.5)


def test_merge_groups():
    assert merge_groups(["SR"], None, ["NORM"], []) == ["SR", "NORM"]
    with pytest.raises(RequestError, match="must be a list of codes, got 'SR'"):
        merge_groups("SR", [], [])


def test_shorten():
    assert shorten("abc") == "'abc'"
    cut = shorten("y" * 1000)
    assert len(cut) <= MAX_ECHO_CHARS + len(" (1002 characters)") and cut.endswith("... (1002 characters)")
