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


# -- the same models written in plain torch ops (reference §4.3, §4.5, §4.7) ---------------------
# Each transcription reads the model's own parameter tensors and runs the recurrence step by step
# (no FFT, no scan op, no lrnnx_array code), so autograd through it is an independent gradient.


def _complex(re, im):
    return torch.complex(re, im)


def _lru_torch(p, x):
    """λ = exp(-e^ν + i e^θ), s_t = λ s_{t-1} + (B ⊙ e^γ) x_t, y_t = Re(C s_t) + D x_t."""
    lam = torch.exp(_complex(-torch.exp(p["nu_log"]), torch.exp(p["theta_log"])))
    B = _complex(p["B_re"], p["B_im"]) * torch.exp(p["gamma_log"])[:, None]
    C = _complex(p["C_re"], p["C_im"])
    s = torch.zeros(x.shape[0], lam.shape[0], dtype=lam.dtype)
    ys = []
    for t in range(x.shape[1]):
        s = lam * s + x[:, t].to(lam.dtype) @ B.T
        ys.append((s @ C.T).real + p["D"] * x[:, t])
    return torch.stack(ys, dim=1)


def _s5_torch(p, x):
    """S5 (LTV, zoh, conj_sym=False): Ā = e^{dt Λ}, γ̄ = (Ā - 1)/Λ, s_t = Ā s + γ̄ B̃ x_t,
    y_t = Re(C̃ s_t) + D x_t with dt = exp(log_dt)."""
    A = _complex(p["A"][:, 0], p["A"][:, 1])
    B = _complex(p["B"][..., 0], p["B"][..., 1])
    C = _complex(p["C"][..., 0], p["C"][..., 1])
    dt = torch.exp(p["log_dt"])
    A_bar = torch.exp(dt * A)
    gamma = (A_bar - 1) / A
    s = torch.zeros(x.shape[0], A.shape[0], dtype=A.dtype)
    ys = []
    for t in range(x.shape[1]):
        s = A_bar * s + gamma * (x[:, t].to(A.dtype) @ B.T)
        ys.append((s @ C.T).real + p["D"] * x[:, t])
    return torch.stack(ys, dim=1)


def _mamba_torch(p, x, d_state, dt_rank):
    """Mamba (slow path, discretization 'mamba'): in_proj, causal depthwise conv + SiLU,
    x_proj -> (Δ_raw, B, C), Δ = softplus(W_dt Δ_raw + b_dt), h_t = e^{Δ A} h + Δ B_t u_t,
    y_t = (C_t h_t + D u_t) silu(z_t), out_proj; A = -exp(A_log)."""
    F = torch.nn.functional
    N, r = d_state, dt_rank
    xz = x @ p["in_proj.weight"].T  # bias=False
    Di = xz.shape[-1] // 2
    u, z = xz[..., :Di], xz[..., Di:]
    w, K = p["conv1d.weight"][:, 0, :], p["conv1d.weight"].shape[-1]
    L = x.shape[1]
    # causal: out_t = sum_k w_k u_{t-(K-1)+k} + b (torch Conv1d's cross-correlation, left-padded)
    padded = torch.cat([torch.zeros(x.shape[0], K - 1, Di, dtype=x.dtype), u], dim=1)
    conv = sum(w[:, k] * padded[:, k:k + L] for k in range(K)) + p["conv1d.bias"]
    u = F.silu(conv)
    x_dbl = u @ p["x_proj.weight"].T
    delta = F.softplus(x_dbl[..., :r] @ p["dt_proj.weight"].T + p["dt_proj.bias"])
    Bt, Ct = x_dbl[..., r:r + N], x_dbl[..., r + N:]
    A = -torch.exp(p["A_log"])  # (D, N)
    h = torch.zeros(x.shape[0], Di, N, dtype=x.dtype)
    ys = []
    for t in range(L):
        dlt = delta[:, t, :, None]
        h = torch.exp(dlt * A) * h + dlt * Bt[:, t, None, :] * u[:, t, :, None]
        ys.append(((h * Ct[:, t, None, :]).sum(-1) + p["D"] * u[:, t]) * F.silu(z[:, t]))
    return torch.stack(ys, dim=1) @ p["out_proj.weight"].T


TRANSCRIPTIONS = {
    "LRU": lambda m, p, x: _lru_torch(p, x),
    "S5": lambda m, p, x: _s5_torch(p, x),
    "Mamba": lambda m, p, x: _mamba_torch(p, x, m.d_state, m.dt_rank),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_gradient_matches_a_pure_torch_transcription(name):
    """Loss and the gradient of every parameter equal autograd through plain torch ops."""
    from lrnnx_array import testing

    make, _ = MODELS[name]
    model = make(xp=torch)
    x, y = _task(seed=3, batch=2, L=7)
    params = dict(model.named_parameters())
    used = [n for n in params if n not in UNUSED.get(name, set())]
    ours = _loss(model, x, y)
    theirs = torch.mean((TRANSCRIPTIONS[name](model, params, x) - y) ** 2)
    testing.assert_close(ours.detach(), theirs.detach(), err_msg=f"{name} loss")
    g_ours = torch.autograd.grad(ours, [params[n] for n in used])
    g_theirs = torch.autograd.grad(theirs, [params[n] for n in used])
    for n, a, b in zip(used, g_ours, g_theirs, strict=True):
        assert torch.count_nonzero(b) > 0, f"{name}: {n} has a zero reference gradient"
        testing.assert_close(a, b, err_msg=f"{name}: d loss / d {n}")
