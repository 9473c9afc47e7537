import numpy as np
import pytest
import torch

from sssd_hf.seeding import ecg_generators, ecg_seed


def test_ecg_seed_is_a_pure_function_of_run_seed_and_index():
    seeds = [ecg_seed(s, i) for s in range(4) for i in range(250)]
    assert seeds == [ecg_seed(s, i) for s in range(4) for i in range(250)]
    assert len(set(seeds)) == len(seeds)  # no two ECGs share noise
    assert all(0 <= v < 2**63 for v in seeds)  # fits torch.Generator.manual_seed
    # the value the synthetic dataset's ECGs were built with (SeedSequence of [seed, index], top 63 bits)
    state = np.random.SeedSequence([7, 1234]).generate_state(1, np.uint64)[0]
    assert ecg_seed(7, 1234) == int(state >> np.uint64(1))


def test_generators_draw_the_same_noise_in_any_grouping():
    whole = [g for g in ecg_generators(3, range(6))]
    noise = torch.stack([torch.randn(8, 1000, generator=g) for g in whole])
    split = ecg_generators(3, range(2)) + ecg_generators(3, range(2, 6))
    again = torch.stack([torch.randn(8, 1000, generator=g) for g in split])
    torch.testing.assert_close(noise, again, rtol=0, atol=0)
    assert not torch.equal(noise[0], noise[1])


def test_negative_seeds_are_refused():
    with pytest.raises(ValueError):
        ecg_seed(-1, 0)
