"""Public RG-LRU scan: h_t = A^{δ_t} ⊙ h_{t-1} + √(1 − A^{2δ_t}) ⊙ u_t, y_t = Σ_n h_t."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._backend import namespace, resolve_impl
from . import _generic

__all__ = ["rglru_scan", "rglru_scan_vjp", "RGLRUScanGrads"]

_MAX_CUDA_N = 256  # the kernel keeps one running state per n in shared memory


class RGLRUScanGrads(NamedTuple):
    du: object
    ddelta: object
    dA: object
    dh0: object


def _prepare(u, delta, A, h0, dout=None, dlast_state=None):
    names = ("u", "delta", "A", "h0", "dout", "dlast_state")
    arrays = (u, delta, A, h0, dout, dlast_state)
    xp = namespace(*arrays, names=names)
    for name, x in zip(names, arrays):
        if x is not None:
            _checks.check_array_dtype(xp, name, x, allow_complex=False)
    _checks.check_ndim("u", u, 3, "(batch, dim, seqlen)")
    Bsz, D, L = (int(n) for n in u.shape)
    if L < 1:
        raise ValueError(f"u must have seqlen >= 1, got shape {tuple(u.shape)}")
    _checks.check_shape("delta", delta, (Bsz, D, L), "(batch, dim, seqlen) like u")
    _checks.check_ndim("A", A, 2, "(dim, d_state)")
    _checks.check_shape("A", A, (D, None), "(dim, d_state) with dim = u.shape[1]")
    N = int(A.shape[1])
    if N < 1:
        raise ValueError(f"A must have d_state >= 1, got shape {tuple(A.shape)}")
    if h0 is not None:
        _checks.check_shape("h0", h0, (Bsz, D, N), "(batch, dim, d_state)")
    if dout is not None:
        _checks.check_shape("dout", dout, (Bsz, D, L), "(batch, dim, seqlen) like the output")
    if dlast_state is not None:
        _checks.check_shape("dlast_state", dlast_state, (Bsz, D, N), "(batch, dim, d_state)")
    _checks.check_finite(xp, "A", A)
    if not bool(xp.all((A > 0) & (A <= 1))):
        raise ValueError(
            "A must lie in (0, 1] (A^delta is computed as exp(delta * log A)), got entries "
            f"with min {float(xp.min(A))} and max {float(xp.max(A))}"
        )
    dtype = _checks.result_dtype(xp, u, delta, A, h0)
    return xp, dtype, N


def _cast(xp, x, dtype):
    return None if x is None else (x if x.dtype == dtype else xp.astype(x, dtype))


def _cuda_ok(N) -> bool:
    return N <= _MAX_CUDA_N


def rglru_scan(u, delta, A, return_last_state=False, *, h0=None, impl="auto"):
    r"""RG-LRU (Griffin) diagonal scan with gate-controlled decay.

    Parameters
    ----------
    u : array, shape (batch, dim, seqlen)
        Gated input :math:`i_t \odot x_t`. Real floating.
    delta : array, shape (batch, dim, seqlen)
        Decay exponent :math:`\delta_t = c\, r_t` (lrnnx: c = 8, r the recurrence gate).
    A : array, shape (dim, d_state)
        Base decay :math:`a \in (0, 1]` (lrnnx's RG-LRU uses d_state = 1).
    return_last_state : bool, default False
        Also return the final state.
    h0 : array, shape (batch, dim, d_state), optional
        Initial state (zero if omitted). Keyword-only addition.
    impl : {"auto", "cuda", "generic", "reference"}
        Algorithm; ``auto`` uses the CUDA kernel for CuPy arrays.

    Returns
    -------
    y : array, shape (batch, dim, seqlen)
        :math:`y_t = \sum_n h_{t,n}`, in the promoted real dtype of the inputs.
    last_state : array, shape (batch, dim, d_state)
        Only with ``return_last_state=True``; differentiable through ``rglru_scan_vjp``.

    Notes
    -----
    .. math::
        \bar A_t = A^{\delta_t} = e^{\delta_t \ln A},\quad
        h_t = \bar A_t \odot h_{t-1} + \sqrt{1-\bar A_t^2}\odot u_t,\quad h_{-1} = h_0.

    :math:`\sqrt{1-\bar A^2}` is evaluated as :math:`\sqrt{-\operatorname{expm1}(2\delta\ln A)}`,
    accurate as :math:`\delta \to 0` or :math:`A \to 1`. For :math:`\delta < 0` the input term
    is clamped to 0 (lrnnx yields NaN there); ``A`` outside (0, 1] raises ``ValueError``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import rglru_scan
    >>> u = np.ones((1, 1, 3)); delta = np.ones((1, 1, 3)); A = np.full((1, 1), 0.6)
    >>> rglru_scan(u, delta, A)
    array([[[0.8  , 1.28 , 1.568]]])
    """
    xp, dtype, N = _prepare(u, delta, A, h0)
    impl = resolve_impl(impl, xp, cuda_supported=_cuda_ok(N), what="rglru_scan")
    if impl == "reference":
        from ._ref import rglru_scan_ref

        y, last = rglru_scan_ref(u, delta, A, True, h0=h0)
        y, last = xp.asarray(y, dtype=dtype), xp.asarray(last, dtype=dtype)
    else:
        u, delta, A, h0 = (_cast(xp, x, dtype) for x in (u, delta, A, h0))
        if impl == "cuda":
            from ._cuda import rglru_scan_fwd_cuda

            y, last, _ = rglru_scan_fwd_cuda(u, delta, A, h0)
        else:
            y, last, _ = _generic.forward(xp, u, delta, A, h0)
    return (y, last) if return_last_state else y


def rglru_scan_vjp(
    dout, u, delta, A, return_last_state=False, *, h0=None, dlast_state=None, impl="auto"
):
    r"""Vector-Jacobian product of :func:`rglru_scan`.

    Parameters
    ----------
    dout : array, shape (batch, dim, seqlen)
        Cotangent of ``y``.
    u, delta, A, return_last_state, h0, impl
        As for :func:`rglru_scan` (``return_last_state`` is accepted for signature parity).
    dlast_state : array, shape (batch, dim, d_state), optional
        Cotangent of the final state.

    Returns
    -------
    RGLRUScanGrads
        ``(du, ddelta, dA, dh0)``; ``dh0`` is None without ``h0``.

    Notes
    -----
    With the adjoint :math:`\lambda_t = dout_t + \bar A_{t+1}\lambda_{t+1}` and
    :math:`x = \delta \ln A`: :math:`du_t = \sum_n \beta_t\lambda_t`,
    :math:`dx = \lambda_t(\bar A_t h_{t-1} - u_t \bar A_t^2/\beta_t)`,
    :math:`d\delta_t = \sum_n dx \ln A`, :math:`dA = \sum_{b,t} dx\,\delta_t / A`,
    :math:`dh_0 = \bar A_0 \lambda_0`; :math:`h_{t-1}` is read from the forward states, never
    recovered by dividing by :math:`\bar A` (lrnnx's form is singular at small β). Where
    :math:`\beta = 0` (δ ≤ 0 or A = 1) the square root is not differentiable and its term is
    taken as 0 (lrnnx's kernel zeroes the whole gradient for δ ≤ 0; the Ā term here stays exact).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import rglru_scan, rglru_scan_vjp
    >>> rng = np.random.default_rng(0)
    >>> u, delta = rng.normal(size=(1, 2, 5)), rng.uniform(0, 2, (1, 2, 5))
    >>> A = rng.uniform(0.5, 1, (2, 1))
    >>> dout = rng.normal(size=(1, 2, 5))
    >>> g = rglru_scan_vjp(dout, u, delta, A)
    >>> g.du.shape, g.ddelta.shape, g.dA.shape, g.dh0 is None
    ((1, 2, 5), (1, 2, 5), (2, 1), True)

    ``y`` is linear in ``u`` (without ``h0``), so ``<dout, rglru_scan(v, ...)> == <du, v>``:

    >>> v = rng.normal(size=u.shape)
    >>> np.allclose(np.sum(dout * rglru_scan(v, delta, A)), np.sum(g.du * v))
    True
    """
    xp, dtype, N = _prepare(u, delta, A, h0, dout, dlast_state)
    impl = resolve_impl(impl, xp, cuda_supported=_cuda_ok(N), what="rglru_scan_vjp")
    if impl == "reference":
        from ._ref import rglru_scan_vjp_ref

        g = rglru_scan_vjp_ref(dout, u, delta, A, h0=h0, dlast_state=dlast_state)
        return RGLRUScanGrads(*(None if x is None else xp.asarray(x, dtype=dtype) for x in g))
    dout, u, delta, A, h0, dlast = (
        _cast(xp, x, dtype) for x in (dout, u, delta, A, h0, dlast_state)
    )
    if impl == "cuda":
        from ._cuda import rglru_scan_bwd_cuda

        g = rglru_scan_bwd_cuda(dout, u, delta, A, h0, dlast)
    else:
        g = _generic.vjp(xp, dout, u, delta, A, h0, dlast)
    return RGLRUScanGrads(*g)
