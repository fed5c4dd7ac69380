"""S4/S4D test data and a float64 NumPy oracle of the whole block, written from the maths.

The SSM is run as a direct recurrence: S4 in the eigenbasis of the dense DPLR matrix
A_f = diag(Λ, Λ̄) - P_f P_f^H (bilinear is a rational function of A, so discretising the
eigenvalues with :func:`lrnnx_array.discretization.bilinear` is the dense bilinear transform;
with one dt per mode, dt_tie=False, the matrix is diag(dt_f) A_f at a unit step, input dt_f B_f),
S4D on its diagonal with :func:`lrnnx_array.discretization.zoh` / ``bilinear``. None of the
models' kernel, FFT or step code is used.
"""

from __future__ import annotations

import numpy as np
import scipy.special as sp

from lrnnx_array import discretization, testing

LENGTHS = (1, 2, 17, 64, 256)

# lrnnx_models_state_dict.md §1 (S4) and §2 (S4D), H = 8, N = 8 (N/2 = 4): kwargs -> keys, shapes.
_ALIAS = ("A_real", "A_imag", "B", "C", "P", "inv_dt")


def _s4_keys(c=1, gate=None, n=8, R=1, dt=(8, 1), final=True, real=False, s4d=False, N2=4):
    top = [("inv_dt", dt), ("C", (c, 8, N2) if real else (c, 8, N2, 2)),
           ("B", (1, n, N2) if real else (1, n, N2, 2)), ("A_real", (n, N2))]
    if not real:
        top.append(("A_imag", (n, N2)))
    if not s4d:
        top.append(("P", (R, n, N2, 2)))
    top.append(("D", (c, 8)))
    if gate:
        top += [("input_gate.0.weight", (8 * gate, 8)), ("input_gate.0.bias", (8 * gate,))]
    shapes = dict(top)
    top += [(f"layer.kernel.{k}", shapes[k]) for k in _ALIAS if k in shapes]
    if not s4d:
        top.append(("layer.kernel.l_kernel", ()))
    d_out = 8 * c
    if gate:
        if c != gate:
            top += [("output_gate.weight", (8 * gate, 8 * c)), ("output_gate.bias", (8 * gate,))]
        d_out = 8 * gate
    if final:
        top += [("output_linear.0.weight", (8, d_out)), ("output_linear.0.bias", (8,))]
    return top


S4_TABLE = [
    (dict(), _s4_keys()),
    (dict(channels=2, transposed=False), _s4_keys(c=2)),
    (dict(gate=2), _s4_keys(gate=2)),
    (dict(rank=2, init="legt", dt_tie=False, n_ssm=4), _s4_keys(n=4, R=2, dt=(8, 4))),
    (dict(l_max=48, final_act=None, dt_fast=True), _s4_keys(final=False)),
    (dict(is_real=True), _s4_keys(real=True)),
]
S4D_TABLE = [
    (dict(), _s4_keys(s4d=True)),
    (dict(disc="bilinear", channels=2, transposed=False), _s4_keys(c=2, s4d=True)),
    (dict(gate=2), _s4_keys(gate=2, s4d=True)),
    (dict(init="diag-lin", dt_tie=False, n_ssm=2), _s4_keys(n=2, dt=(8, 4), s4d=True)),
    (dict(d_state=16, final_act=None, disc="bilinear"), _s4_keys(final=False, s4d=True, N2=8)),
    (dict(is_real=True), _s4_keys(real=True, s4d=True)),
]


def host(a):
    return testing.to_numpy(a)


def _c(v, real):
    v = np.asarray(v, np.float64)
    return v.astype(np.complex128) if real else v[..., 0] + 1j * v[..., 1]


def ssm_params(model):
    """(dt (H, 1|N2), A (H, N2), B (H, N2), C (c, H, N2), P (R, H, N2) or None), float64,
    for the default transforms (exp / none / exp)."""
    sd = {k: host(v) for k, v in model.state_dict().items()}
    real = model.is_real
    rep = model.H // model.n_ssm
    A = -np.exp(sd["A_real"].astype(np.float64)) + 0j
    if not real:
        A = A - 1j * sd["A_imag"]
    inv_dt = sd["inv_dt"].astype(np.float64)
    dt = np.exp(np.sinh(inv_dt) if model.dt_fast else inv_dt)
    B = np.tile(_c(sd["B"], real)[0], (rep, 1))
    P = np.tile(_c(sd["P"], False), (1, rep, 1)) if "P" in sd else None
    return dt, np.tile(A, (rep, 1)), B, _c(sd["C"], real), P


def ssm_recurrence(model, u):
    """y (B, c, H, L) of the SSM alone, for u (B, H, L), float64 (raw C: l_kernel == 0)."""
    dt, A, B, C, P = ssm_params(model)
    Bn, H, L = u.shape
    c = C.shape[0]
    y = np.zeros((Bn, c, H, L))
    for h in range(H):
        if P is None:  # S4D: diagonal, conjugate pairs -> 2 Re
            disc = discretization.zoh if model.disc == "zoh" else discretization.bilinear
            a_bar, gam = disc(A[h], np.broadcast_to(dt[h], A[h].shape))
            b_bar = gam * B[h]
            x = np.zeros((Bn, A.shape[1]), complex)
            for t in range(L):
                x = a_bar * x + b_bar * u[:, h, t, None]
                y[:, :, h, t] = 2 * np.real(x @ C[:, h, :].T)
            continue
        pf = np.concatenate([P[:, h], np.conj(P[:, h])], axis=-1)  # (R, N)
        Af = np.diag(np.concatenate([A[h], np.conj(A[h])])) - pf.T @ np.conj(pf)
        Bf = np.concatenate([B[h], np.conj(B[h])])
        Cf = np.concatenate([C[:, h], np.conj(C[:, h])], axis=-1)  # (c, N)
        if dt.shape[-1] != 1:  # dt_tie=False: X = diag(dt_f) A_f, input dt_f B_f, unit step
            dtf = np.concatenate([dt[h], dt[h]])
            w, V = np.linalg.eig(dtf[:, None] * Af)
            a_bar, gam = discretization.bilinear(w, np.ones(w.shape))
            b_bar = gam * np.linalg.solve(V, dtf * Bf)
        else:
            w, V = np.linalg.eig(Af)
            a_bar, gam = discretization.bilinear(w, np.full(w.shape, dt[h, 0]))
            b_bar = gam * np.linalg.solve(V, Bf)
        c_v = Cf @ V
        z = np.zeros((Bn, w.shape[0]), complex)
        for t in range(L):
            z = a_bar * z + b_bar * u[:, h, t, None]
            y[:, :, h, t] = np.real(z @ c_v.T)
    return y


def _gelu(x):
    return 0.5 * x * (1 + sp.erf(x / np.sqrt(2)))


def block_oracle(model, x):
    """The whole block in float64 for x in the model's layout (eval mode, no dropout)."""
    sd = {k: host(v).astype(np.float64) for k, v in model.state_dict().items()
          if "l_kernel" not in k}
    x = np.asarray(host(x), np.float64)
    xt = np.transpose(x, (0, 2, 1)) if model.transposed else x  # (B, L, H)
    if model.bottleneck is not None:
        xt = xt @ sd["input_linear.weight"].T + sd["input_linear.bias"]
    v = None
    if model.gate is not None:
        v = _gelu(xt @ sd["input_gate.0.weight"].T + sd["input_gate.0.bias"])
    u = np.transpose(xt, (0, 2, 1))
    y = ssm_recurrence(model, u) + u[:, None] * sd["D"][None, :, :, None]
    Bn, c, H, L = y.shape
    y = _gelu(np.transpose(y.reshape(Bn, c * H, L), (0, 2, 1)))
    if v is not None:
        if "output_gate.weight" in sd:
            y = y @ sd["output_gate.weight"].T + sd["output_gate.bias"]
        y = y * v
    y = _gelu(y)
    if model.final_act is not None:
        y = y @ sd["output_linear.0.weight"].T + sd["output_linear.0.bias"]
        name = model.final_act.lower()
        y = _gelu(y) if name in ("glu", "gelu") else y
    return np.transpose(y, (0, 2, 1)) if model.transposed else y


def step_loop(model, x, mode=None):
    """model.step over the time axis (x in the model's layout); returns y in that layout."""
    xp = model.xp
    if mode is not None:
        model.setup_step(mode)
    cache = model.allocate_inference_cache(x.shape[0])
    ys = []
    L = x.shape[2] if model.transposed else x.shape[1]
    for t in range(L):
        xt = x[:, :, t] if model.transposed else x[:, t, :]
        y, cache = model.step(xt, cache)
        ys.append(y)
    return xp.stack(ys, axis=2 if model.transposed else 1), cache
