import pytest
import torch

from lightning_modules.lamb import Lamb
from lightning_modules.optimization import decay_param_groups, warmup_poly_decay


def reference_lamb_step(params, grads, state, lr, wd_flags, beta1=0.9, beta2=0.999, eps=1e-6, wd=0.01):
    """google-research/ALBERT lamb_optimizer.py, one parameter at a time."""
    for i, (p, g) in enumerate(zip(params, grads)):
        m, v = state.setdefault(i, (torch.zeros_like(p), torch.zeros_like(p)))
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        state[i] = (m, v)
        update = m / (v.sqrt() + eps)
        if wd_flags[i]:
            update = update + wd * p
            w_norm, g_norm = p.norm(), update.norm()
            ratio = (w_norm / g_norm) if (w_norm > 0 and g_norm > 0) else torch.tensor(1.0)
        else:
            ratio = 1.0
        p.sub_(lr * ratio * update)


def test_matches_googles_semantics_over_several_steps():
    torch.manual_seed(0)
    shapes = [(8, 4), (4,), (3, 3, 2), (5,)]
    decays = [True, False, True, False]
    ours = [torch.randn(s, requires_grad=True) for s in shapes]
    with torch.no_grad():
        ours[2].zero_()  # a zero-norm weight: trust ratio falls back to 1
    ref = [p.detach().clone() for p in ours]
    opt = Lamb([{"params": [p for p, d in zip(ours, decays) if d], "weight_decay": 0.01, "adapt": True},
                {"params": [p for p, d in zip(ours, decays) if not d], "weight_decay": 0.0, "adapt": False}],
               lr=0.01)
    # the groups reorder parameters; map reference state by original index
    state = {}
    for step in range(5):
        grads = [torch.randn(s) for s in shapes]
        for p, g in zip(ours, grads):
            p.grad = g.clone()
        opt.step()
        reference_lamb_step(ref, grads, state, lr=0.01, wd_flags=decays)
        for a, b in zip(ours, ref):
            torch.testing.assert_close(a.detach(), b, rtol=1e-5, atol=1e-6)


def test_no_bias_correction_first_step_size():
    """Without bias correction the first Adam-style update is m/sqrt(v) = 0.1 g / (sqrt(0.001) |g|)."""
    p = torch.nn.Parameter(torch.zeros(3))
    p.grad = torch.tensor([1.0, -2.0, 4.0])
    Lamb([p], lr=1.0, weight_decay=0.0, adapt=False, eps=0.0 + 1e-12).step()
    expected = -0.1 / (0.001 ** 0.5) * torch.sign(torch.tensor([1.0, -2.0, 4.0]))
    torch.testing.assert_close(p.detach(), expected, rtol=1e-5, atol=1e-5)


def test_param_groups_exclude_layernorm_and_bias_and_count_tied_weights_once():
    from transformers import AlbertConfig, AlbertForPreTraining

    model = AlbertForPreTraining(AlbertConfig(vocab_size=50, embedding_size=8, hidden_size=16, num_hidden_layers=1,
                                              num_attention_heads=2, intermediate_size=32))
    decay, no_decay = decay_param_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    excluded = lambda name: any(m in name for m in ("LayerNorm", "layer_norm", "bias"))  # noqa: E731
    assert not any(excluded(names[id(p)]) for p in decay["params"]) and decay["params"]
    assert all(excluded(names[id(p)]) for p in no_decay["params"])
    assert any("full_layer_layer_norm" in names[id(p)] for p in no_decay["params"])
    assert (decay["adapt"], no_decay["adapt"], no_decay["weight_decay"]) == (True, False, 0.0)
    all_params = decay["params"] + no_decay["params"]
    assert len({id(p) for p in all_params}) == len(all_params) == len(list(model.parameters()))
    assert model.predictions.decoder.weight is model.albert.embeddings.word_embeddings.weight




def test_warmup_then_polynomial_decay_like_albert_with_the_total_read_once_after_step_0():
    calls = []

    def total():
        calls.append(1)
        return 100

    f = warmup_poly_decay(total, warmup_steps=10, power=1.0)
    assert f(0) == 0.0 and not calls  # LambdaLR's step 0 happens before Lightning may build the loader
    assert [f(5), f(10), f(55), f(100), f(150)] == pytest.approx([0.5, 0.9, 0.45, 0.0, 0.0]) and len(calls) == 1
    g = warmup_poly_decay(lambda: 100, power=2.0)
    assert g(0) == 1.0 and abs(g(50) - 0.25) < 1e-12
    h = warmup_poly_decay(lambda: 15, warmup_ratio=0.1)  # ceil(1.5) = 2 warmup steps
    assert [h(0), h(1), h(2)] == pytest.approx([0.0, 0.5, 1 - 2 / 15])
