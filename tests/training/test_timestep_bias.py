"""Timestep bias: which diffusion steps training draws, and its config checks."""

import pytest
import torch

from sssd_hf.training.config import ConfigError, load_config
from sssd_hf.training.trainer import draw_diffusion_inputs, timestep_weights

from .conftest import TINY_CONFIG


def test_no_bias_draws_exactly_what_unbiased_runs_drew():
    """``none`` keeps the uniform ``randint`` draw, so earlier runs resume bit-identically."""
    drawn = draw_diffusion_inputs((8, 2, 5), 200, torch.Generator().manual_seed(3), weights=timestep_weights(200))
    expected = torch.randint(0, 200, (8,), generator=torch.Generator().manual_seed(3))
    assert torch.equal(drawn[0], expected)


@pytest.mark.parametrize("strategy, biased", [("later", range(150, 200)), ("earlier", range(0, 50))])
def test_biased_steps_are_drawn_multiplier_times_as_often(strategy, biased):
    weights = timestep_weights(200, strategy, multiplier=6.0, portion=0.25)
    assert weights[list(biased)].eq(6.0).all() and weights.sum() == 150 + 50 * 6
    t = draw_diffusion_inputs((40_000, 1, 1), 200, torch.Generator().manual_seed(0), weights=weights)[0]
    share = torch.isin(t, torch.tensor(list(biased))).double().mean().item()
    assert share == pytest.approx(300 / 450, abs=0.01)  # 50 steps x 6 of 150 + 300
    assert t.min() >= 0 and t.max() <= 199


@pytest.mark.parametrize("overrides, message", [
    (["--timestep_bias_strategy", "late"], "timestep_bias_strategy must be one of"),
    (["--timestep_bias_multiplier", "0"], "timestep_bias_multiplier must be positive"),
    (["--timestep_bias_portion", "1.5"], r"timestep_bias_portion must be in \(0, 1\]"),
    (["--timestep_bias_strategy", "later", "--timestep_bias_portion", "0.001"], "selects no step"),
])
def test_bad_timestep_bias_is_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(TINY_CONFIG, ["--dataset", "d", *overrides])


def test_the_model_card_says_when_steps_were_biased():
    from sssd_hf.training.export import training_card_text

    biased = load_config(TINY_CONFIG, ["--dataset", "d", "--timestep_bias_strategy", "later",
                                       "--timestep_bias_multiplier", "6", "--timestep_bias_portion", "0.25"])
    text = training_card_text(biased, 10, 80, "cmd")["training"]
    assert "betas 0.0001..0.02, the last 0.25 of the steps drawn 6x as often)" in text
    uniform = training_card_text(load_config(TINY_CONFIG, ["--dataset", "d"]), 10, 80, "cmd")["training"]
    assert "drawn" not in uniform
