"""Array-API step modes of the DPLR system: set-up, one step, and forward_state (spec §3.11).

Dense: x' = Ā x + B̄ u on the full basis. Linear: lrnnx's O(N r) Woodbury bilinear step on the
half state. Diagonal: the eigenbasis of Ā, which needs a general eigendecomposition; the array
API standardises only ``eigh``, so a namespace without ``linalg.eig`` (CuPy) is refused unless
the caller opts in to a host round trip (``host_eig=True`` on ``dplr_step_setup``).
"""

from __future__ import annotations

from ._dense import _eye, c_from_tilde, dense, expand, row_times


def linear_setup(xp, A, B, P, dt):
    """D = (2/Δ - Λ)^{-1}, E = 2/Δ + Λ, R = (I + 2 Re(P^H D P))^{-1} P^H D (half basis).

    Δ (H, 1) or per mode (H, N/2): (I - X/2) x' = (I + X/2) x + Δ B u with X = diag(Δ)(Λ - P P^H)
    is, times diag(2/Δ), (D^{-1} + P P^H) x' = (E - P P^H) x + 2 B u, the same step.
    """
    two = xp.astype(2.0 / dt, A.dtype)
    D = 1 / (two - A)
    E = two + A
    R = None
    if P is not None:
        Pm = xp.permute_dims(P, (1, 0, 2))  # (H, R, N/2)
        PhD = xp.conj(Pm) * D[:, None, :]
        G = xp.matmul(PhD, xp.permute_dims(Pm, (0, 2, 1)))  # (H, R, R)
        W = _eye(xp, P.shape[0], A.dtype) + xp.astype(2 * xp.real(G), A.dtype)
        R = xp.linalg.solve(W, PhD)  # (H, R, N/2)
    return D, E, R


def _re2(xp, x, dtype):
    return xp.astype(2 * xp.real(x), dtype)


def linear_step(xp, u, x, D, E, P, R, B):
    """x' = D v - D P (R v), v = E x - P (P^H x) + 2 B u, conj-pair sums as 2 Re (u real)."""
    cd = x.dtype
    v = E * x + 2 * B * xp.astype(u, cd)[..., None]
    if P is not None:
        Pm = xp.permute_dims(P, (1, 0, 2))  # (H, R, N/2)
        PmT = xp.permute_dims(Pm, (0, 2, 1))
        Px = _re2(xp, xp.matmul(x[..., None, :], xp.conj(PmT)), cd)  # (b, H, 1, R)
        v = v - xp.matmul(Px, Pm)[..., 0, :]
        Rv = _re2(xp, xp.matmul(v[..., None, :], xp.permute_dims(R, (0, 2, 1))), cd)
        return D * (v - xp.matmul(Rv, Pm)[..., 0, :])
    return D * v


class EigUnavailableError(Exception):
    """The namespace has no general eigendecomposition (the public layer words the error)."""


def eig(xp, M, *, host_eig=False):
    """Eigen-decomposition of (H, N, N) on the device, or on the host when ``host_eig``.

    Nothing is copied silently: without ``linalg.eig`` and without the opt-in this raises
    :class:`EigUnavailableError`. With it, M goes to the host (``.get()`` for CuPy), NumPy
    decomposes it, and the factors come back to M's device.
    """
    fn = getattr(xp.linalg, "eig", None)
    if fn is not None:
        try:
            return fn(M)
        except (NotImplementedError, TypeError):
            pass
    if not host_eig:
        raise EigUnavailableError
    import numpy as np

    from ..._backend import device

    host = M.get() if hasattr(M, "get") and type(M).__module__.startswith("cupy") else M
    w, V = np.linalg.eig(np.asarray(host))
    dev = device(M)
    return xp.asarray(w, dtype=M.dtype, device=dev), xp.asarray(V, dtype=M.dtype, device=dev)


# ---- canonical functions (the public step modules call them through SPEC.get) -----------------


def step_setup(xp, A, B, C, P, dt, *, mode, C_is_tilde, l_kernel, host_eig, matrix_power):
    """The arrays of one step mode: ("linear", (D, E, P, R, B, dC)) or (mode, (dA, dB, dC))."""
    if C_is_tilde:
        C = c_from_tilde(xp, C, A, P, dt, l_kernel, matrix_power=matrix_power)
    if mode == "linear":
        D, E, R = linear_setup(xp, A, B, P, dt)
        return D, E, P, R, B, 2 * C
    dA, dB = dense(xp, A, P, B, dt)
    dC = expand(xp, C)
    if mode == "dense":
        return dA, dB, dC
    lam, V = eig(xp, dA, host_eig=host_eig)
    dB = xp.linalg.solve(V, dB[..., None])[..., 0]
    return lam, dB, row_times(xp, dC, V)


def step(xp, u, x, arrays, *, mode):
    """One step of ``mode`` from state x (one complex dtype): (y real, new state)."""
    if mode == "dense":
        dA, dB, dC = arrays
        # Channel-major (H, batch, N): per channel one (batch x N)(N x N) product for Ā x and one
        # (batch x N)(N x channels) for C x', instead of batch * H matrix-vector products and an
        # elementwise product-sum (1.6x faster per token at batch 32). The new state is returned
        # as a (batch, H, N) view of that layout, so the next step's transpose is free.
        xh = xp.permute_dims(x, (1, 0, 2))
        uh = xp.astype(xp.permute_dims(u, (1, 0)), x.dtype)[..., None]  # (H, batch, 1)
        nh = xp.matmul(xh, xp.matrix_transpose(dA)) + dB[:, None, :] * uh
        y = xp.real(xp.matmul(nh, xp.permute_dims(dC, (1, 2, 0))))  # (H, batch, channels)
        return xp.permute_dims(y, (1, 2, 0)), xp.permute_dims(nh, (1, 0, 2))
    elif mode == "diagonal":
        dA, dB, dC = arrays
        new = dA * x + dB * xp.astype(u, x.dtype)[..., None]
    else:
        D, E, P, R, B, dC = arrays
        new = linear_step(xp, u, x, D, E, P, R, B)
    y = xp.real(xp.sum(dC[None, ...] * new[:, None, ...], axis=-1))
    return y, new


def forward_state(xp, u, state, dA, dB, *, matrix_power, power_sum):
    """x_L = Ā^L x + sum_l Ā^{L-1-l} B̄ u_l: u (batch, H, L) real, dA (H, N, N), dB (H, N)."""
    N = dB.shape[-1]
    L = u.shape[-1]
    v = dB[None, :, :, None] * xp.astype(xp.flip(u, axis=-1), dB.dtype)[:, :, None, :]
    s = power_sum(xp, dA, v)
    if state is None:
        return s
    half = state.shape[-1] == N // 2
    x = expand(xp, state) if half else state
    new = xp.matmul(matrix_power(xp, dA, L), x[..., None])[..., 0] + s
    return new[..., : N // 2] if half else new
