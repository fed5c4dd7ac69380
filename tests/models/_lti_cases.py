"""Shared pieces of the LTI model tests: lrnnx's measured state_dict tables, step loops, and
float64 NumPy recurrences written from the maths (spec §4.2-4.4) with
:mod:`lrnnx_array.discretization` — independent of the models' FFT path and step code."""

from __future__ import annotations

import numpy as np

from lrnnx_array import discretization, testing

LENGTHS = (1, 2, 17, 64, 256)

# lrnnx_models_state_dict.md §3-§5: (constructor kwargs) -> [(key, shape)] in lrnnx's order.
S5_TABLE = [
    (dict(d_model=8, d_state=8, discretization=d),
     [("A", (8, 2)), ("B", (8, 8)), ("log_dt", (8,)), ("C", (8, 8, 2)), ("D", (8, 8))])
    for d in ("zoh", "bilinear", "dirac")
] + [
    (dict(d_model=8, d_state=4, discretization="no_discretization"),
     [("A", (4, 2)), ("B", (4, 8)), ("log_dt", (4,)), ("C", (8, 4, 2)), ("D", (8, 8))]),
    (dict(d_model=4, d_state=16, discretization="zoh"),
     [("A", (16, 2)), ("B", (16, 4)), ("log_dt", (16,)), ("C", (4, 16, 2)), ("D", (4, 4))]),
]
LRU_TABLE = [
    (dict(d_model=8, d_state=8),
     [("nu_log", (8,)), ("theta_log", (8,)), ("B_re", (8, 8)), ("B_im", (8, 8)),
      ("C_re", (8, 8)), ("C_im", (8, 8)), ("D", (8,)), ("gamma_log", (8,))]),
    (dict(d_model=8, d_state=16, r_min=0.5, r_max=0.95, max_phase=np.pi),
     [("nu_log", (16,)), ("theta_log", (16,)), ("B_re", (16, 8)), ("B_im", (16, 8)),
      ("C_re", (8, 16)), ("C_im", (8, 16)), ("D", (8,)), ("gamma_log", (16,))]),
]
CENTAURUS_TABLE = [
    (dict(d_model=8, d_state=4, sub_state_dim=3, mode="neck"), "CentaurusNeck",
     [("A", (4, 3)), ("E", (4, 3)), ("log_delta", (4,)), ("B", (4, 8)), ("C", (8, 4))]),
    (dict(d_model=8, d_state=4, sub_state_dim=3, mode="pointwise"), "CentaurusPWNeck",
     [("A", (4, 3)), ("log_delta", (4,)), ("B", (12, 8)), ("C", (8, 12))]),
    (dict(d_model=8, d_state=8, sub_state_dim=3, mode="dws"), "CentaurusDWS",
     [("A", (8, 3)), ("E", (8, 3)), ("log_delta", (8,)), ("B", (8,)), ("C", (8,))]),
    (dict(d_model=4, d_state=16, sub_state_dim=2, mode="full"), "CentaurusFull",
     [("A", (16, 2)), ("E", (16, 2)), ("log_delta", (16,)), ("B", (16,)), ("C", (16,))]),
]
# Complex-dtype entries (only Centaurus A); every other entry is real.
COMPLEX_KEYS = {"Centaurus": {"A"}}


def host(a):
    return testing.to_numpy(a)


def params64(model) -> dict:
    """The model's parameters as float64/complex128 NumPy arrays."""
    out = {}
    for k, v in model.state_dict().items():
        v = host(v)
        out[k] = v.astype(np.complex128 if np.iscomplexobj(v) else np.float64)
    return out


def step_loop(model, x):
    """Run ``model.step`` over the time axis of x (B, L, H); returns the stacked (B, L, H)."""
    xp = model.xp
    cache = model.allocate_inference_cache(x.shape[0])
    ys = []
    for t in range(x.shape[1]):
        y, cache = model.step(x[:, t, :], cache)
        ys.append(y)
    return xp.stack(ys, axis=1)


def _run_diag(x, A_bar, B_bar, C, skip):
    """s_t = A_bar s_{t-1} + B_bar x_t ; y_t = Re(C s_t) + skip(x_t), complex128 loop."""
    Bn, L, _ = x.shape
    s = np.zeros((Bn, A_bar.shape[0]), np.complex128)
    y = np.empty((Bn, L, C.shape[0]))
    for t in range(L):
        s = A_bar * s + x[:, t] @ B_bar.T
        y[:, t] = (s @ C.T).real + skip(x[:, t])
    return y


def s5_recurrence(model, x):
    """S5 (LTI) from its parameters: A = -softplus(a0) + i a1, (Ā, γ̄) = discretize(A, dt)."""
    p = params64(model)
    a = p["A"]
    A = -np.logaddexp(0.0, a[:, 0]) + 1j * a[:, 1]
    A_bar, gamma = discretization.discretize(A, np.exp(p["log_dt"]), model.discretization)
    C = p["C"][..., 0] + 1j * p["C"][..., 1]
    return _run_diag(x, A_bar, gamma[:, None] * p["B"], C, lambda u: u @ p["D"])


def lru_recurrence(model, x):
    """LRU from its parameters: λ = exp(-e^ν + i e^θ), B_norm = (B_re + i B_im) e^γ."""
    p = params64(model)
    lam = np.exp(-np.exp(p["nu_log"]) + 1j * np.exp(p["theta_log"]))
    B = (p["B_re"] + 1j * p["B_im"]) * np.exp(p["gamma_log"])[:, None]
    C = p["C_re"] + 1j * p["C_im"]
    return _run_diag(x, lam, B, C, lambda u: u * p["D"])


def centaurus_recurrence(model, x):
    """Centaurus from its parameters, with the mode's B/C wiring built by explicit loops."""
    p = params64(model)
    H, N, M = model.d_model, model.d_state, model.sub_state_dim
    delta = np.exp(p["log_delta"])
    A_bar = np.exp(delta[:, None] * p["A"])  # (N, M)
    mode = model.mode
    if mode == "pointwise":
        Bb = np.repeat(delta, M)[:, None] * p["B"]
        return _run_diag(x, A_bar.reshape(-1), Bb, p["C"].astype(np.complex128),
                         lambda u: 0.0)
    Bm, Cm = np.zeros((N, H)), np.zeros((H, N))
    if mode == "neck":
        Bm, Cm = p["B"], p["C"]
    elif mode == "dws":
        for n in range(N):
            Bm[n, n], Cm[n, n] = p["B"][n], p["C"][n]
    elif mode == "full":
        for o in range(H):
            for i in range(H):
                j = o * H + i
                Bm[j, i], Cm[o, j] = p["B"][j], p["C"][j]
    Bb = delta[:, None] * Bm
    Bn, L, _ = x.shape
    s = np.zeros((Bn, N, M), np.complex128)
    y = np.empty((Bn, L, H))
    for t in range(L):
        s = A_bar * s + (x[:, t] @ Bb.T)[:, :, None]
        y[:, t] = np.sum(s.real * p["E"], axis=-1) @ Cm.T
    return y


def check_state_dict_table(model, table):
    sd = model.state_dict()
    assert [(k, tuple(v.shape)) for k, v in sd.items()] == table
