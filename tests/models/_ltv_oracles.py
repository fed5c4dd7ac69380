"""Float64 NumPy oracles of the LTV models, written from the formulas of lrnnx_reference.md §4.5-4.8
(explicit loops over time; nothing shared with the library but the parameter names)."""

import numpy as np


def sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def softplus(v):
    return np.where(v > 20, v, np.log1p(np.exp(np.minimum(v, 20))))


def gelu(v):
    from scipy.special import erf

    return 0.5 * v * (1 + erf(v / np.sqrt(2)))


def lin(sd, name, x):
    y = x @ sd[name + ".weight"].T
    return y + sd[name + ".bias"] if name + ".bias" in sd else y


def conv(sd, u):
    """Causal depthwise conv of u (B, L, D) with conv1d.weight (D, 1, K) via np.convolve."""
    w = sd["conv1d.weight"][:, 0, :]
    B, L, D = u.shape
    out = np.zeros_like(u)
    for b in range(B):
        for d in range(D):
            out[b, :, d] = np.convolve(u[b, :, d], w[d, ::-1])[:L]
    return out + sd["conv1d.bias"] if "conv1d.bias" in sd else out


def mamba(sd, x, *, d_state, dt_rank, disc, ts=None):
    N, r = d_state, dt_rank
    Di = sd["D"].shape[0]
    xz = lin(sd, "in_proj", x)
    u, z = xz[..., :Di], xz[..., Di:]
    u = conv(sd, u)
    u = u * sig(u)
    xd = u @ sd["x_proj.weight"].T
    delta = softplus(xd[..., :r] @ sd["dt_proj.weight"].T + sd["dt_proj.bias"])  # (B, L, D)
    Bm, Cm = xd[..., r:r + N], xd[..., r + N:]
    A = -np.exp(sd["A_log"])  # (D, N)
    Bsz, L, _ = x.shape
    h = np.zeros((Bsz, Di, N))
    ys = np.zeros((Bsz, L, Di))
    for t in range(L):
        d = delta[:, t, :, None]
        dA = d if ts is None else ts[:, t, None, None] * softplus(sd["dtA_proj.bias"])[:, None]
        if disc == "bilinear":
            Ab, g = (1 + dA * A / 2) / (1 - dA * A / 2), d / (1 - d * A / 2)
        else:
            Ab = np.exp(dA * A)
            g = {"mamba": d, "zoh": np.expm1(d * A) / A, "dirac": np.ones_like(d * A)}[disc]
        h = Ab * h + g * Bm[:, t, None, :] * u[:, t, :, None]
        ys[:, t] = np.sum(h * Cm[:, t, None, :], axis=-1) + sd["D"] * u[:, t]
    ys = ys * (z * sig(z))
    return lin(sd, "out_proj", ys)


def rglru(sd, x, *, c):
    gate = gelu(lin(sd, "gate_proj", x))
    u = conv(sd, lin(sd, "in_proj", x))
    r = sig(lin(sd, "recurrent_gate_proj", u))
    i = sig(lin(sd, "input_gate_proj", u))
    a = sig(sd["a_log"][:, 0])
    h = np.zeros(u.shape[::2])
    ys = np.zeros_like(u)
    for t in range(u.shape[1]):
        ab = a ** (c * r[:, t])
        h = ab * h + np.sqrt(1 - ab ** 2) * (i[:, t] * u[:, t])
        ys[:, t] = h
    return lin(sd, "out_proj", gate * ys)


def s5(sd, x, *, disc, conj_sym, step_rescale=1.0, ts=None):
    A = sd["A"][:, 0] + 1j * sd["A"][:, 1]
    Bt = sd["B"][..., 0] + 1j * sd["B"][..., 1]
    Ct = sd["C"][..., 0] + 1j * sd["C"][..., 1]
    dt = np.exp(sd["log_dt"]) * step_rescale
    Bsz, L, H = x.shape
    s = np.zeros((Bsz, A.shape[0]), complex)
    ys = np.zeros((Bsz, L, H))
    for t in range(L):
        dA = dt if ts is None else ts[:, t, None] * dt
        if disc == "bilinear":
            Ab, g = (1 + dA * A / 2) / (1 - dA * A / 2), dt / (1 - dt * A / 2)
        else:
            Ab = np.exp(dA * A)
            g = np.expm1(dt * A) / A if disc == "zoh" else np.ones_like(A)
        s = Ab * s + g * (x[:, t] @ Bt.T)
        ys[:, t] = (2 if conj_sym else 1) * np.real(s @ Ct.T) + sd["D"] * x[:, t]
    return ys


def s7(sd, h, *, d_state):
    N = d_state
    Bsz, L, H = h.shape
    x = h @ sd["in_proj.weight"].T
    p = x @ sd["x_proj.weight"].T
    a = p[..., :N] + sd["base_params"]
    Bm = p[..., N:N + H * N].reshape(Bsz, L, H, N)
    Cm = p[..., N + H * N:N + 2 * H * N].reshape(Bsz, L, H, N)
    D = p[..., N + 2 * H * N:N + 2 * H * N + H]
    bias = p[..., N + 2 * H * N + H:]
    s = np.zeros((Bsz, N))
    ys = np.zeros((Bsz, L, H))
    for t in range(L):
        Ab = 1 - 1 / (a[:, t] ** 2 + 0.5)
        s = Ab * s + np.einsum("bhn,bh->bn", Bm[:, t], x[:, t]) + bias[:, t]
        ys[:, t] = np.einsum("bhn,bn->bh", Cm[:, t], s) + D[:, t] * x[:, t]
    g = sig(gelu(ys) @ sd["gate_proj.weight"].T)
    return g * ys + h
