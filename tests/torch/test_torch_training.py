"""Models hold torch leaf tensors and train with torch.optim through the bridge.

``Model(..., xp=torch)`` and ``Model(...).to(torch)`` give parameters that are leaf tensors
with ``requires_grad``; the forward's hot ops are the bridge's Functions. Each model learns a
fixed causal filter on a toy sequence task, and its autograd gradient matches a float64
central difference of the loss along a random direction of all parameters.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed: the bridge tests need it")

from lrnnx_array.models import lti, ltv  # noqa: E402

H = 4
MODELS = {
    "LRU": (lambda **k: lti.LRU(d_model=H, d_state=8, seed=0, dtype="float64", **k),
            "SsmConvFunction"),
    "S5": (lambda **k: ltv.S5(d_model=H, d_state=8, seed=0, dtype="float64", **k),
           "S5InnerFunction"),
    "Mamba": (lambda **k: ltv.Mamba(d_model=H, d_state=4, seed=0, dtype="float64", **k),
              "SelectiveScanFunction"),
}
UNUSED = {"Mamba": {"dtA_proj.weight", "dtA_proj.bias"}}  # event mode (timesteps) only


def _task(seed=0, batch=4, L=12):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, L, H, dtype=torch.float64, generator=g)
    y = 0.6 * x
    y[:, 1:] += 0.3 * x[:, :-1]  # a causal two-tap filter the models can represent
    return x, y


def _loss(model, x, y):
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out
    return torch.mean((out - y) ** 2)


def _graph_names(t):
    seen, names, todo = set(), set(), [t.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        names.add(type(fn).__name__)
        todo.extend(f for f, _ in fn.next_functions)
    return names


@pytest.mark.parametrize("placement", ["xp", "to"])
def test_parameters_are_torch_leaves(placement):
    make, _ = MODELS["LRU"]
    model = make(xp=torch) if placement == "xp" else make().to(torch)
    params = model.parameters()
    assert params and all(isinstance(p, torch.Tensor) and p.is_leaf and p.requires_grad
                          for p in params)
    # the optimizer's objects are the model's: a step changes what the forward reads
    opt = torch.optim.SGD(params, lr=0.1)
    x, y = _task()
    _loss(model, x, y).backward()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt.step()
    assert any(not torch.equal(before[n], p) for n, p in model.named_parameters())


@pytest.mark.parametrize("name", list(MODELS))
def test_adam_training_lowers_the_loss(name):
    make, function = MODELS[name]
    model = make(xp=torch)
    x, y = _task()
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    first = _loss(model, x, y)
    assert f"{function}Backward" in _graph_names(first), "the hot op did not use the bridge"
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = _loss(model, x, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.3 * losses[0], f"{name}: loss {losses[0]:.4g} -> {losses[-1]:.4g}"


@pytest.mark.parametrize("name", list(MODELS))
def test_gradient_matches_a_directional_finite_difference(name):
    make, _ = MODELS[name]
    model = make(xp=torch)
    x, y = _task(seed=1, batch=2, L=6)
    params = dict(model.named_parameters())
    _loss(model, x, y).backward()
    missing = {n for n, p in params.items() if p.grad is None}
    assert missing == UNUSED.get(name, set())
    g = torch.Generator().manual_seed(2)
    direction = {n: torch.randn(p.shape, dtype=p.dtype, generator=g) for n, p in params.items()}
    # <grad, v> in PyTorch's convention: Re(sum(conj(grad) v)) is d/de loss(p + e v)
    predicted = sum(torch.sum(torch.conj(p.grad) * direction[n]).real.item()
                    for n, p in params.items() if p.grad is not None)
    eps = 1e-6

    def shifted(sign):
        with torch.no_grad():
            for n, p in params.items():
                p.add_(sign * eps * direction[n])
            val = _loss(model, x, y).item()
            for n, p in params.items():
                p.sub_(sign * eps * direction[n])
        return val

    fd = (shifted(1.0) - shifted(-1.0)) / (2 * eps)
    np.testing.assert_allclose(predicted, fd, rtol=1e-5, atol=1e-9)
