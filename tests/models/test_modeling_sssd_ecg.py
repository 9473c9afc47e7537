"""SSSDECGModel: parameter counts, equations of the block, conditioning, bad inputs."""

import math

import pytest
import torch

from sssd_hf import SSSDECGModel
from sssd_hf.models.modeling_sssd_ecg import timestep_sinusoids
from sssd_hf.testing import make_tiny_model
from sssd_hf.vocabulary import ALL_STATEMENTS


@pytest.mark.parametrize("embedding, count", [("nle", 50_211_664), ("multi_hot", 50_202_504)])
def test_paper_configuration_has_the_reference_parameter_count(embedding, count):
    with torch.device("meta"):
        model = SSSDECGModel(label_embedding=embedding, label_names=list(ALL_STATEMENTS))
    assert sum(p.numel() for p in model.parameters()) == count
    assert model.config.num_layers == 36 and model.config.channels == 256 and model.config.s4_state_size == 64


def test_single_statement_nle_model_matches_the_authors_structure():
    """One statement (the nle paper's binary setup): no mixing weights, 50,193,672 parameters."""
    with torch.device("meta"):
        model = SSSDECGModel(label_embedding="nle", label_names=["AFIB"])
    assert sum(p.numel() for p in model.parameters()) == 50_193_672
    keys = set(model.state_dict())
    assert "statement_embedding.pair_embeddings" in keys and not any("mix_" in k for k in keys)
    assert len(keys) == 1417 - 144  # the authors' 1,417 keys less their 2 x 72 stored FFT-node buffers
    tiny = make_tiny_model(label_names=("AFIB",), label_embedding="nle")
    emb = tiny.statement_embedding
    torch.testing.assert_close(emb(torch.tensor([[0.0], [1.0]])), emb.pair_embeddings[0], rtol=0, atol=0)
    assert torch.count_nonzero(emb.pair_embeddings[0, 1]) == 0  # "present" starts at zero


def test_timestep_sinusoids_follow_the_model_dtype():
    t = torch.tensor([0, 57, 199])
    freqs = [math.exp(-math.log(10000) * i / 63) for i in range(64)]
    exact = torch.tensor([[math.sin(s * f) for f in freqs] for s in (0, 57, 199)], dtype=torch.float64)
    emb64 = timestep_sinusoids(t, 128, dtype=torch.float64)
    assert emb64.dtype == torch.float64 and (emb64[:, :64] - exact).abs().max() < 1e-12
    emb32 = timestep_sinusoids(t, 128)
    assert emb32.dtype == torch.float32 and (emb32[:, :64].double() - exact).abs().max() > 1e-9
    # a float64 model embeds in float64: its output differs from the float32-sinusoid result
    model = make_tiny_model(sample_length=16).double()
    x, y = torch.randn(1, 8, 16, dtype=torch.float64), torch.tensor([[1.0, 0.0, 1.0]], dtype=torch.float64)
    with torch.no_grad():
        out = model(x, torch.tensor([199]), labels=y).sample
        via32 = model.timestep_mlp(timestep_sinusoids(torch.tensor([199]), 16).double())
        assert not torch.equal(via32, model.timestep_mlp(timestep_sinusoids(torch.tensor([199]), 16, torch.float64)))
    assert out.dtype == torch.float64


def test_timestep_embedding_formula():
    t = torch.tensor([0.0, 7.0, 199.0])
    emb = timestep_sinusoids(t, 128)
    freqs = [math.exp(-math.log(10000) * i / 63) for i in range(64)]
    expected = torch.tensor([[math.sin(s * f) for f in freqs] + [math.cos(s * f) for f in freqs] for s in t.tolist()])
    torch.testing.assert_close(emb, expected, rtol=1e-5, atol=1e-5)


def test_output_starts_at_zero_and_shapes():
    torch.manual_seed(0)
    model = SSSDECGModel(channels=8, skip_channels=8, num_layers=2, timestep_embed_dims=(16, 32, 32), s4_state_size=8,
                         s4_max_length=50, sample_length=50, label_names=["NORM", "AFIB"], label_embed_dim=8)
    out = model(torch.randn(3, 8, 50), torch.tensor([0, 5, 9]), labels=torch.tensor([[1.0, 0], [0, 1], [1, 1]])).sample
    assert out.shape == (3, 8, 50) and torch.count_nonzero(out) == 0  # zero-initialised output conv


def test_block_follows_the_published_equations():
    torch.manual_seed(0)
    model = make_tiny_model(sample_length=32, num_layers=1).double()
    block = model.blocks[0]
    x = torch.randn(2, 8, 32, dtype=torch.float64)
    t_emb = torch.randn(2, 32, dtype=torch.float64)
    label_emb = torch.randn(2, 16, dtype=torch.float64)
    res, skip = block(x, t_emb, [label_emb])
    h = x + block.timestep_proj(t_emb)[:, :, None]
    h = block.s4_1(block.conv(h))
    h = h + block.cond_projs[0](label_emb)[:, :, None]
    h = block.s4_2(h)
    gate = torch.tanh(h[:, :8]) * torch.sigmoid(h[:, 8:])
    torch.testing.assert_close(res, (x + block.res_proj(gate)) * math.sqrt(0.5))
    torch.testing.assert_close(skip, block.skip_proj(gate))
    # the weight-normed conv is g * v / ||v||
    conv = block.conv
    g, v = conv.parametrizations.weight.original0, conv.parametrizations.weight.original1
    torch.testing.assert_close(conv.weight, g * v / v.norm(dim=(1, 2), keepdim=True))


def test_nle_absent_statements_carry_information_and_present_rows_start_at_zero():
    model = make_tiny_model(label_names=("NORM", "AFIB", "SR"), label_embedding="nle")
    emb = model.statement_embedding
    assert torch.count_nonzero(emb.pair_embeddings[:, 1]) == 0
    none = emb(torch.zeros(1, 3))
    expected = torch.einsum("kd,k->d", emb.pair_embeddings[:, 0], emb.mix_weight) + emb.mix_bias
    torch.testing.assert_close(none[0], expected)
    afib = emb(torch.tensor([[0.0, 1.0, 0.0]]))
    assert not torch.allclose(none, afib)
    # the present rows get no gradient unless asked for (as with the authors' padding_idx)
    afib.sum().backward()
    assert (
        torch.count_nonzero(emb.pair_embeddings.grad[:, 1]) == 0
        and torch.count_nonzero(emb.pair_embeddings.grad[:, 0]) > 0
    )


def test_multi_hot_embedding_is_vector_times_matrix():
    model = make_tiny_model(label_names=("NORM", "AFIB", "SR"), label_embedding="multi_hot")
    y = torch.tensor([[1.0, 0.0, 1.0]])
    torch.testing.assert_close(model.statement_embedding(y), y @ model.statement_embedding.weight)


def test_labels_and_sex_change_the_prediction():
    model = make_tiny_model(num_sex_classes=2, sample_length=64)
    x = torch.randn(1, 8, 64).expand(2, -1, -1)
    t = torch.tensor([10, 10])
    same = torch.tensor([[1.0, 0, 0], [1.0, 0, 0]])
    with torch.no_grad():
        by_sex = model(x, t, labels=same, sex=torch.tensor([0, 1])).sample
        by_label = model(x, t, labels=torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]), sex=torch.tensor([0, 0])).sample
    assert not torch.allclose(by_sex[0], by_sex[1])
    assert not torch.allclose(by_label[0], by_label[1])
    with pytest.raises(ValueError, match="conditioned on sex"):
        model(x, t, labels=same)


def test_bad_inputs_are_named():
    model = make_tiny_model(sample_length=64)
    y = torch.zeros(1, 3)
    with pytest.raises(ValueError, match=r"sample must have shape \(batch, 8, length\)"):
        model(torch.randn(1, 12, 64), 0, labels=y)
    with pytest.raises(ValueError, match="exceeds s4_max_length 64"):
        model(torch.randn(1, 8, 65), 0, labels=y)
    with pytest.raises(ValueError, match=r"labels must have shape \(1, 3\)"):
        model(torch.randn(1, 8, 64), 0, labels=torch.zeros(1, 4))
    with pytest.raises(ValueError, match="pass labels"):
        model(torch.randn(1, 8, 64), 0)
    with pytest.raises(ValueError, match="timestep must be"):
        model(torch.randn(2, 8, 64), torch.tensor([1, 2, 3]), labels=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="Unknown ECG statement code"):
        model.labels_to_tensor([["NORM", "XYZ"]])
    with pytest.raises(ValueError, match="label_embedding must be one of"):
        SSSDECGModel(label_embedding="onehot", label_names=["NORM"])
    with pytest.raises(ValueError, match="duplicates"):
        SSSDECGModel(label_names=["NORM", "NORM"], num_layers=1, channels=4, skip_channels=4, s4_state_size=4)


def test_classifier_free_guidance_null_label():
    model = make_tiny_model(learn_null_label=True, sample_length=64)
    x = torch.randn(2, 8, 64)
    with torch.no_grad():
        torch.nn.init.normal_(model.null_label_embedding)
        uncond = model(x, 3).sample
        dropped = model(x, 3, labels=torch.ones(2, 3), drop_labels=torch.tensor([True, True])).sample
    torch.testing.assert_close(uncond, dropped)


def test_gradients_reach_the_s4_output_matrix():
    model = make_tiny_model(sample_length=64).train()
    with torch.no_grad():
        torch.nn.init.normal_(model.output_projection.weight)
    loss = model(torch.randn(2, 8, 64), torch.tensor([1, 100]), labels=torch.ones(2, 3)).sample.square().mean()
    loss.backward()
    c_grad = model.blocks[0].s4_1.kernel.C.grad
    assert c_grad is not None and torch.isfinite(c_grad).all() and c_grad.abs().sum() > 0
    assert all(not b.requires_grad for b in model.blocks[0].s4_1.kernel.buffers())
