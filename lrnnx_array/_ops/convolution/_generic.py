"""Array-API causal FFT convolutions (``xp.fft`` + ``xp.matmul``; no einsum, no NumPy calls).

Canonical functions (the same names and signatures in ``_ref``), arrays already validated and
cast by ``_api`` (no value is read here):

* ``forward(xp, x, k)`` / ``backward(xp, dy, x, k) -> (dx, dk)``: matrix taps, all in one dtype;
* ``channels_forward(xp, u, k)`` / ``channels_backward(xp, dy, u, k) -> (du, dk)``: per-channel
  taps, ``dy`` at the broadcast shape, gradients summed to ``u``'s and ``k``'s shapes;
* ``ssm_forward(xp, x, K, B_bar, C, *, strategy)`` / ``ssm_backward(xp, dy, x, K, B_bar, C)``:
  the modal form, ``x`` and ``dy`` real, ``K``, ``B_bar``, ``C`` in one (real or complex) dtype.

Gradients come back at the compute dtype (complex when it is complex); ``_api`` takes the real
part for a real input (``grad_like``).

Every convolution is linear (not circular) because both operands are zero-padded to n = 2L, so
the first L outputs of the length-n circular convolution are exact. Real data go through
``rfft``/``irfft`` (half the work of lrnnx's complex FFTs; same result); anything complex goes
through ``fft``/``ifft``. Adjoints are correlations: in frequency, a product with the conjugate
spectrum. Zero padding keeps the wrapped-around lags out of the first L taps.

``ssm_conv`` strategies (spec §3.10), x (B, L, Hin), K (N, L), B_bar (N, Hin), C (Hout, N):

* ``kernel``: materialise k_l = Re(C diag(K_l) B_bar), (L, Hout, Hin), by one (L, N) @ (N, Hout*Hin)
  matmul, then an FFT conv with a per-frequency (B, Hin) @ (Hin, Hout) matmul. Cheap when
  Hin*Hout <= N.
* ``state``: project v = x B_bar^T in time, FFT N channels, multiply by K's spectrum, inverse FFT,
  project with C. Cheap when N is small against Hin.
* ``frequency``: FFT the Hin input channels, apply B_bar, K's spectrum and C per frequency, inverse
  FFT Hout channels. The fallback (lrnnx's single einsum).

``auto`` uses lrnnx's rule: kernel if 1/Hin + 1/Hout > 1/B + 1/N and Hin*Hout <= N; state if
the first comparison fails and N <= Hin; else frequency.
"""

from __future__ import annotations

from .._shared.grads import sum_to

STRATEGIES = ("auto", "kernel", "state", "frequency")


def _is_c(xp, x):
    return xp.isdtype(x.dtype, "complex floating")


def _fwd(xp, x, n, axis, real):
    return xp.fft.rfft(x, n=n, axis=axis) if real else xp.fft.fft(x, n=n, axis=axis)


def _inv(xp, X, n, axis, real):
    return xp.fft.irfft(X, n=n, axis=axis) if real else xp.fft.ifft(X, n=n, axis=axis)


def _T(xp, x):
    """Swap the last two axes."""
    nd = x.ndim
    return xp.permute_dims(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _conj(xp, x):
    return xp.conj(x) if _is_c(xp, x) else x


def pick_strategy(Bn: int, Hin: int, Hout: int, N: int) -> str:
    """lrnnx's contraction-order rule (every size >= 1: ``_api`` returns early on empty sizes)."""
    first = 1.0 / Hin + 1.0 / Hout > 1.0 / Bn + 1.0 / N
    if first and Hin * Hout <= N:
        return "kernel"
    if not first and N <= Hin:
        return "state"
    return "frequency"


# ---- matrix-tap convolution -------------------------------------------------------------------


def forward(xp, x, k):
    """x (B, L, Hin), k (L, Hout, Hin) in one dtype; returns (B, L, Hout)."""
    real = not _is_c(xp, x)
    L = x.shape[1]
    n = 2 * L
    Xt = xp.permute_dims(_fwd(xp, x, n, 1, real), (1, 0, 2))  # (F, B, Hin)
    Kf = _fwd(xp, k, n, 0, real)  # (F, Hout, Hin)
    Yt = xp.matmul(Xt, _T(xp, Kf))  # (F, B, Hout)
    return _inv(xp, xp.permute_dims(Yt, (1, 0, 2)), n, 1, real)[:, :L, :]


def backward(xp, dy, x, k):
    """(dx, dk) in the common dtype: correlations of dy with k (over Hout) and with x (batch)."""
    real = not _is_c(xp, x)
    L = x.shape[1]
    n = 2 * L
    Xt = xp.permute_dims(_fwd(xp, x, n, 1, real), (1, 0, 2))  # (F, B, Hin)
    Gt = xp.permute_dims(_fwd(xp, dy, n, 1, real), (1, 0, 2))  # (F, B, Hout)
    Kf = _fwd(xp, k, n, 0, real)
    DXt = xp.matmul(Gt, _conj(xp, Kf))  # (F, B, Hin)
    dx = _inv(xp, xp.permute_dims(DXt, (1, 0, 2)), n, 1, real)[:, :L, :]
    DK = xp.matmul(_T(xp, Gt), _conj(xp, Xt))  # (F, Hout, Hin), summed over batch
    dk = _inv(xp, DK, n, 0, real)[:L, ...]
    return dx, dk


# ---- per-channel convolution ------------------------------------------------------------------


def channels_forward(xp, u, k):
    """u (..., L) and k (..., L) broadcast against each other; FFT each operand once."""
    real = not _is_c(xp, u)
    L = u.shape[-1]
    n = 2 * L
    Y = _fwd(xp, u, n, -1, real) * _fwd(xp, k, n, -1, real)
    return _inv(xp, Y, n, -1, real)[..., :L]


def channels_backward(xp, dy, u, k):
    """(du, dk) summed to the shapes of u and k; dy at the broadcast shape."""
    real = not _is_c(xp, u)
    L = u.shape[-1]
    n = 2 * L
    G = _fwd(xp, dy, n, -1, real)
    U = _fwd(xp, u, n, -1, real)
    Kf = _fwd(xp, k, n, -1, real)
    # Reduce broadcast axes in frequency, before the inverse transform (fewer rows to invert).
    DU = sum_to(xp, G * _conj(xp, Kf), u.shape)
    DK = sum_to(xp, G * _conj(xp, U), k.shape)
    return _inv(xp, DU, n, -1, real)[..., :L], _inv(xp, DK, n, -1, real)[..., :L]


# ---- modal (state-space) convolution ----------------------------------------------------------


def ssm_forward(xp, x, K, B_bar, C, *, strategy):
    """y (B, L, Hout) = Re(C (K * (B_bar x))); x real, K, B_bar, C in one (maybe complex) dtype."""
    dtype = K.dtype
    real = not _is_c(xp, K)
    Bn, L, Hin = x.shape
    N, Hout = K.shape[0], C.shape[0]
    if strategy == "auto":
        strategy = pick_strategy(Bn, Hin, Hout, N)
    n = 2 * L
    if strategy == "kernel":
        # M[n, o*Hin + i] = C[o, n] B_bar[n, i]; k_l = Re(K_l^T M).
        M = xp.reshape(xp.permute_dims(C, (1, 0))[:, :, None] * B_bar[:, None, :], (N, Hout * Hin))
        k = xp.matmul(xp.permute_dims(K, (1, 0)), M)
        k = xp.reshape(xp.real(k) if not real else k, (L, Hout, Hin))
        return forward(xp, x, k)
    xc = x if real else xp.astype(x, dtype)
    Kf = xp.permute_dims(_fwd(xp, K, n, 1, real), (1, 0))  # (F, N)
    CT = xp.permute_dims(C, (1, 0))  # (N, Hout)
    BT = xp.permute_dims(B_bar, (1, 0))  # (Hin, N)
    if strategy == "state":
        v = xp.matmul(xc, BT)  # (B, L, N)
        w = _inv(xp, _fwd(xp, v, n, 1, real) * Kf, n, 1, real)[:, :L, :]
        y = xp.matmul(w, CT)
    else:
        X = _fwd(xp, xc, n, 1, real)  # (B, F, Hin)
        Y = xp.matmul(xp.matmul(X, BT) * Kf, CT)  # (B, F, Hout)
        y = _inv(xp, Y, n, 1, real)[:, :L, :]
    return y if real else xp.real(y)


def ssm_backward(xp, dy, x, K, B_bar, C):
    """(dx, dK, dB_bar, dC) in K's dtype (before real parts), one formula for every strategy."""
    dtype = K.dtype
    real = not _is_c(xp, K)
    L = x.shape[1]
    n = 2 * L
    if not real:
        dy, x = xp.astype(dy, dtype), xp.astype(x, dtype)
    X = _fwd(xp, x, n, 1, real)  # (B, F, Hin)
    V = xp.matmul(X, xp.permute_dims(B_bar, (1, 0)))  # spectrum of v = x B_bar^T, (B, F, N)
    Kf = xp.permute_dims(_fwd(xp, K, n, 1, real), (1, 0))  # (F, N)
    w = _inv(xp, V * Kf, n, 1, real)[:, :L, :]  # (B, L, N)
    Bn, _, N = w.shape
    Hout = C.shape[0]
    dy2 = xp.reshape(dy, (Bn * L, Hout))
    dC = xp.matmul(xp.permute_dims(dy2, (1, 0)), _conj(xp, xp.reshape(w, (Bn * L, N))))
    dw = xp.matmul(dy, _conj(xp, C))  # (B, L, N)
    DW = _fwd(xp, dw, n, 1, real)
    dK = _inv(xp, xp.permute_dims(xp.sum(DW * _conj(xp, V), axis=0), (1, 0)), n, 1, real)[:, :L]
    dv = _inv(xp, DW * _conj(xp, Kf), n, 1, real)[:, :L, :]  # (B, L, N)
    Hin = x.shape[2]
    dB = xp.matmul(xp.permute_dims(xp.reshape(dv, (Bn * L, N)), (1, 0)),
                   _conj(xp, xp.reshape(x, (Bn * L, Hin))))
    dx = xp.matmul(dv, _conj(xp, B_bar))
    return dx, dK, dB, dC
