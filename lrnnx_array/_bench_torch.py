"""torch CPU baselines: lrnnx's *reference algorithms*, transcribed by us from the description in
spec/lrnnx_reference.md (no lrnnx code), run on torch CPU with ``torch.set_num_threads`` equal
to ours. They are what lrnnx's torch references do on CPU (materialise the discretised gates and
inputs, then a Python loop over time), not lrnnx itself, and the bench names them so:
``torch_lrnnx-ref-alg`` (forward only; lrnnx's references get their backward from autograd).

* selective_scan_ref (§3.1): Ā and Δ·B·u as (B, D, L, N) tensors, a loop over L, y = Σ_n C h
  (2 Re for complex A), + D u, × silu(z).
* simplified_scan_ref / s5_inner (§3.3): Bu = B u, (B, P, L) Ā and γ̄, a loop over L, C x,
  2 Re(·) + D u.
* rglru ref (§3.4): Ā = exp(δ log A), γ = √(1 − Ā²) as (B, D, L, N), a loop, y = Σ_n h.
* s7 ref (§3.5): Bu = Σ_h B u + bias, a loop over L with the gate 1 − 1/(A² + ½), y = Σ_n C s.
* selective_state_update_ref (§3.6): one step, e^{AΔ} and BΔ as (B, D, N), Σ_n state·C.
* simplified_state_update_ref (§3.7): one S5 step, s ← Ā s + γ̄ (B x), y = Re(C s) (×2).
* cauchy_naive (§3.8): conjugates concatenated, the (…, N, L) matrix of v/(z − w), a sum over N.
* log_vandermonde_naive (§3.9): exp(x ⊗ l) materialised, 2 Re Σ_n v e^{x l}; the S4DKernel
  forward (§3.11, zoh / bilinear) is it on C'·γ̄ and log Ā.
* S4Kernel forward (§3.11) with C̃ given: nodes z = 2(1 − ω)/(1 + ω), cauchy_naive of the
  (B, P) × (C̃, Q) rows, Woodbury for rank 1, ×2/(1 + ω), irfft. (lrnnx's CPU path without its
  CUDA extension or pykeops.)

``import lrnnx_array`` never imports torch; this module does, when a bench case is built.
"""

from __future__ import annotations

NAME = "torch_lrnnx-ref-alg"


def load():
    """``torch`` with its intra-op threads set to ours, or ``None`` when not importable.

    torch's OpenMP pool gets the spin count our numba tier sets (``GOMP_SPINCOUNT=10000``, see
    ``numba_support``; a user's own setting wins), when torch is first imported here: on an
    oversubscribed machine (load 7 on 2 cores) ``torch.exp`` of 8192 float32 took a median 24 ms
    on 2 threads with libgomp's default against 2 us on 1 thread, and 0.24 ms with 10000.
    """
    import os
    import sys

    if "torch" not in sys.modules:
        os.environ.setdefault("GOMP_SPINCOUNT", "10000")
    try:
        import torch
    except ImportError:
        return None
    from ._ops._shared.threads import threads

    torch.set_num_threads(threads())
    return torch


def baseline(fn, args) -> dict:
    """``{NAME: thunk}`` calling ``fn(torch, *tensors)`` under no_grad (empty without torch)."""
    torch = load()
    if torch is None:
        return {}
    ts = [None if a is None else torch.from_numpy(a.copy()) for a in args]

    def run():
        with torch.no_grad():
            return fn(torch, *ts)

    return {NAME: run}


def evaluate(fn, *args):
    """``fn`` on torch tensors of ``args``, back as a NumPy array (for the tests)."""
    torch = load()
    with torch.no_grad():
        return fn(torch, *[None if a is None else torch.from_numpy(a.copy()) for a in args]).numpy()


def _softplus(torch, x):
    return torch.where(x <= 20, torch.log1p(torch.exp(torch.clamp(x, max=20.0))), x)


def _silu(torch, z):
    return z * torch.sigmoid(z)


def selective_scan_ref_alg(torch, u, delta, A, B, C, D=None, z=None, delta_bias=None,
                           deltaA=None, *, softplus=True, method="mamba"):
    """§3.1 with variable B/C (B, N, L) and G = 1."""
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if softplus:
        delta = _softplus(torch, delta)
    dA = delta if deltaA is None else deltaA
    cplx = A.is_complex()
    x_a = torch.einsum("bdl,dn->bdln", dA.to(A.dtype), A)  # (B, D, L, N)
    x_b = torch.einsum("bdl,dn->bdln", delta.to(A.dtype), A)
    if method == "mamba":
        Abar = torch.exp(x_a)
        gam = delta[..., None].to(A.dtype)
    elif method == "zoh":
        Abar = torch.exp(x_a)
        gam = torch.expm1(x_b) / A[None, :, None, :]
    elif method == "bilinear":
        Abar = (1 + x_a / 2) / (1 - x_a / 2)
        gam = delta[..., None].to(A.dtype) / (1 - x_b / 2)
    else:
        raise ValueError(f"no torch baseline for discretization {method!r}")
    Bu = gam * torch.einsum("bnl,bdl->bdln", B, u.to(A.dtype))
    h = torch.zeros(u.shape[0], u.shape[1], A.shape[1], dtype=A.dtype)
    ys = []
    for t in range(u.shape[2]):
        h = Abar[:, :, t] * h + Bu[:, :, t]
        ys.append(torch.einsum("bdn,bn->bd", h, C[:, :, t]))
    y = torch.stack(ys, dim=2)
    y = 2 * y.real if cplx else y
    if D is not None:
        y = y + D[:, None] * u
    return y if z is None else y * _silu(torch, z)


def s5_inner_ref_alg(torch, u, dt, A, B, C, D, *, method="zoh"):
    """§3.3: u real (B, H, L), dt (P,) or (B, P, L), A (P,), B (P, H), C (H, P), D (H,)."""
    Bu = torch.einsum("ph,bhl->bpl", B, u.to(B.dtype))
    d3 = (dt[None, :, None] if dt.ndim == 1 else dt).expand(Bu.shape).to(A.dtype)
    x = d3 * A[None, :, None]
    if method == "zoh":
        Abar, gam = torch.exp(x), torch.expm1(x) / A[None, :, None]
    elif method == "bilinear":
        Abar, gam = (1 + x / 2) / (1 - x / 2), d3 / (1 - x / 2)
    else:
        raise ValueError(f"no torch baseline for discretization {method!r}")
    v = gam * Bu
    s = torch.zeros(Bu.shape[:2], dtype=Bu.dtype)
    xs = []
    for t in range(Bu.shape[2]):
        s = Abar[:, :, t] * s + v[:, :, t]
        xs.append(s)
    y = torch.einsum("hp,bpl->bhl", C, torch.stack(xs, dim=2))
    return 2 * y.real + D[:, None] * u


def rglru_ref_alg(torch, u, delta, A):
    """§3.4: u, delta (B, D, L), A (D, N) in (0, 1)."""
    Abar = torch.exp(torch.einsum("bdl,dn->bdln", delta, torch.log(A)))
    v = torch.sqrt(torch.clamp(1 - Abar * Abar, min=0)) * u[..., None]
    h = torch.zeros(u.shape[0], u.shape[1], A.shape[1], dtype=u.dtype)
    ys = []
    for t in range(u.shape[2]):
        h = Abar[:, :, t] * h + v[:, :, t]
        ys.append(h.sum(-1))
    return torch.stack(ys, dim=2)


def s7_ref_alg(torch, u, A, B, C, bias):
    """§3.5: u (B, H, L), A (B, N, L), B (B, N, H, L), C (B, H, N, L), bias (B, N, L)."""
    gate = 1 - 1 / (A * A + 0.5)
    v = torch.einsum("bnhl,bhl->bnl", B, u) + bias
    s = torch.zeros(A.shape[:2], dtype=u.dtype)
    ys = []
    for t in range(u.shape[2]):
        s = gate[:, :, t] * s + v[:, :, t]
        ys.append(torch.einsum("bhn,bn->bh", C[:, :, :, t], s))
    return torch.stack(ys, dim=2)


def selective_state_update_ref_alg(torch, state, x, dt, A, B, C, D, z, dt_bias, *,
                                   softplus=True, method="mamba"):
    """§3.6: state (B, D, N), x/dt/z (B, D), A (D, N), B/C (B, N); the state is updated in
    place, as lrnnx's reference does. mamba: B̄ = Δ B; zoh: B̄ = (e^{AΔ} − 1)/A · B."""
    if dt_bias is not None:
        dt = dt + dt_bias
    if softplus:
        dt = _softplus(torch, dt)
    xa = A * dt[..., None]
    dA = torch.exp(xa)
    if method == "mamba":
        dBx = B[:, None, :] * (dt * x)[..., None]
    elif method == "zoh":
        dBx = torch.expm1(xa) / A * B[:, None, :] * x[..., None]
    else:
        raise ValueError(f"no torch baseline for discretization {method!r}")
    state.copy_(state * dA + dBx)
    out = (state * C[:, None, :]).sum(-1)
    if D is not None:
        out = out + D * x
    return out if z is None else out * _silu(torch, z)


def simplified_state_update_ref_alg(torch, state, x, dt, A, B, C, *, method="zoh",
                                    conj_sym=True):
    """§3.7 without D / deltaA: state (B, P) complex, x (B, H), dt (P,) or (B, P), A (P,),
    B (P, H), C (H, P); the state is updated in place."""
    d = (dt[None] if dt.ndim == 1 else dt).to(A.dtype)
    xa = d * A
    if method == "zoh":
        Abar, gam = torch.exp(xa), torch.expm1(xa) / A
    elif method == "bilinear":
        Abar, gam = (1 + xa / 2) / (1 - xa / 2), d / (1 - xa / 2)
    else:
        raise ValueError(f"no torch baseline for discretization {method!r}")
    state.copy_(Abar * state + gam * (x.to(B.dtype) @ B.T))
    y = (state @ C.T).real
    return 2 * y if conj_sym else y


def cauchy_naive_alg(torch, v, z, w):
    """§3.8: out_l = Σ_n v_n/(z_l − w_n) + conj(v_n)/(z_l − conj(w_n)); v (…, N/2), w
    broadcastable to it, z (L,)."""
    fv = torch.cat([v, v.conj()], dim=-1)[..., None]
    fw = torch.cat([w, w.conj()], dim=-1)[..., None]
    return (fv / (z - fw)).sum(dim=-2)


def log_vandermonde_naive_alg(torch, v, x, *, L):
    """§3.9: K_l = 2 Re Σ_n v_n e^{x_n l}, with exp(x ⊗ l) materialised."""
    ell = torch.arange(L, dtype=x.real.dtype).to(x.dtype)
    return 2 * (v[..., None] * torch.exp(x[..., None] * ell)).sum(dim=-2).real


def s4d_kernel_ref_alg(torch, A, B, C, dt, *, L, disc="zoh"):
    """§3.11 S4DKernel forward: A, B (H, N/2), C (channels, H, N/2), dt (H,)."""
    dtA = dt[:, None].to(A.dtype) * A
    Cp = B * C
    if disc == "zoh":
        v, x = Cp * torch.expm1(dtA) / A, dtA
    elif disc == "bilinear":
        v, x = Cp * dt[:, None] / (1 - dtA / 2), torch.log((1 + dtA / 2) / (1 - dtA / 2))
    else:
        raise ValueError(f"no torch baseline for disc {disc!r}")
    return log_vandermonde_naive_alg(torch, v, x, L=L)


def dplr_kernel_ref_alg(torch, A, B, Ct, P, dt, *, L):
    """§3.11 S4Kernel forward at rate 1 with C̃ given (rank 1, no state): A, B (H, N/2),
    Ct (channels, H, N/2), P (1, H, N/2), dt (H,); returns k (channels, H, L)."""
    import math

    ang = torch.arange(L // 2 + 1, dtype=dt.dtype) * (-2 * math.pi / L)
    omega = torch.polar(torch.ones_like(ang), ang).to(A.dtype)
    z = 2 * (1 - omega) / (1 + omega)
    d = dt[:, None].to(A.dtype)
    rows = torch.cat([B[None], P], dim=0)                   # (2, H, N/2): B and P
    cols = torch.cat([Ct, P.conj()], dim=0)                 # (channels + 1, H, N/2): C̃ and Q
    r = cauchy_naive_alg(torch, d * rows[:, None] * cols[None], z, d * A)
    c = Ct.shape[0]
    k = r[0, :c] - r[0, c:] * r[1, :c] / (1 + r[1, c:])  # Woodbury, rank 1
    return torch.fft.irfft(k * (2 / (1 + omega)), n=L)[..., :L]
