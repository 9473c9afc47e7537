"""Learning-rate schedules, in particular the warmup-stable-decay cool-down added to a resumed run."""

import pytest
import torch

from sssd_hf.training.config import ConfigError, load_config
from sssd_hf.training.lr_schedules import make_lr_scheduler, warmup_stable_decay_factor

from .conftest import TINY_CONFIG


def _wsd(max_steps=100, warmup=10, decay=40):
    return load_config(TINY_CONFIG, ["--dataset", "d", "--lr_scheduler", "warmup_stable_decay", "--max_steps",
                                     str(max_steps), "--lr_warmup_steps", str(warmup), "--lr_decay_steps", str(decay)])


def _rates(scheduler, optimizer, steps):
    rates = []
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    return rates


def test_warmup_stable_decay_factor_is_piecewise_linear():
    f = lambda s: warmup_stable_decay_factor(s, 10, 40, 100)  # noqa: E731
    assert [f(0), f(5), f(10), f(59), f(60), f(80), f(100), f(120)] == [0.0, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0]


def test_scheduler_follows_the_config():
    config = _wsd()
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=config.learning_rate)
    rates = _rates(make_lr_scheduler(config, optimizer), optimizer, 100)
    peak = config.learning_rate
    assert rates[9] == pytest.approx(peak) and rates[59] == pytest.approx(peak)  # steps 10 and 60
    assert rates[79] == pytest.approx(peak / 2) and rates[99] == 0.0


def test_a_constant_run_resumed_with_a_cool_down_continues_from_its_step():
    """A checkpoint of a ``constant_with_warmup`` run (scheduler state = step count and base rate)
    resumed under ``warmup_stable_decay`` decays from that step on, as the PTB-XL default run did."""
    constant = load_config(TINY_CONFIG, ["--dataset", "d", "--lr_scheduler", "constant_with_warmup",
                                         "--lr_warmup_steps", "10", "--max_steps", "1000"])
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=constant.learning_rate)
    first = make_lr_scheduler(constant, optimizer)
    _rates(first, optimizer, 60)
    saved = first.state_dict()

    config = _wsd(max_steps=100, warmup=10, decay=40)  # decay from step 60 to 100
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=config.learning_rate)
    resumed = make_lr_scheduler(config, optimizer)
    resumed.load_state_dict(saved)
    rates = _rates(resumed, optimizer, 40)
    assert rates[0] == pytest.approx(config.learning_rate * 39 / 40) and rates[19] == pytest.approx(
        config.learning_rate / 2) and rates[-1] == 0.0


@pytest.mark.parametrize("overrides, message", [
    (["--lr_scheduler", "warmup_stable_decay", "--lr_decay_steps", "0"], "lr_decay_steps must be between 1"),
    (["--lr_scheduler", "warmup_stable_decay", "--max_steps", "100", "--lr_warmup_steps", "10",
      "--lr_decay_steps", "91"], r"lr_decay_steps must be between 1 and .* \(90\), got 91"),
    (["--lr_scheduler", "constant", "--lr_decay_steps", "5"], "only used by lr_scheduler warmup_stable_decay"),
])
def test_bad_cool_down_settings_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(TINY_CONFIG, ["--dataset", "d", *overrides])
