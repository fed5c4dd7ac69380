"""Public S7 scan: s_t = (1 − 1/(A_t² + ½)) s_{t−1} + Σ_h B_t u_t + bias_t, y_t = C_t s_t."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._backend import namespace, resolve_impl
from . import _generic

__all__ = ["s7_scan", "s7_scan_vjp", "S7ScanGrads"]


class S7ScanGrads(NamedTuple):
    du: object
    dA: object
    dB: object
    dC: object
    dbias: object
    dh0: object


def _prepare(u, A, B, C, bias, h0, dout=None, dlast_state=None):
    names = ("u", "A", "B", "C", "bias", "h0", "dout", "dlast_state")
    arrays = (u, A, B, C, bias, h0, dout, dlast_state)
    xp = namespace(*arrays, names=names)
    for name, x in zip(names, arrays):
        if x is not None:
            _checks.check_array_dtype(xp, name, x, allow_complex=False)
    _checks.check_ndim("u", u, 3, "(batch, H, seqlen)")
    Bsz, H, L = (int(n) for n in u.shape)
    if L < 1:
        raise ValueError(f"u must have seqlen >= 1, got shape {tuple(u.shape)}")
    _checks.check_ndim("A", A, 3, "(batch, N, seqlen)")
    _checks.check_shape("A", A, (Bsz, None, L), "(batch, N, seqlen)")
    N = int(A.shape[1])
    _checks.check_shape("B", B, (Bsz, N, H, L), "(batch, N, H, seqlen)")
    _checks.check_shape("C", C, (Bsz, H, N, L), "(batch, H, N, seqlen)")
    if bias is not None:
        _checks.check_shape("bias", bias, (Bsz, N, L), "(batch, N, seqlen)")
    if h0 is not None:
        _checks.check_shape("h0", h0, (Bsz, N), "(batch, N)")
    if dout is not None:
        _checks.check_shape("dout", dout, (Bsz, H, L), "(batch, H, seqlen) like the output")
    if dlast_state is not None:
        _checks.check_shape("dlast_state", dlast_state, (Bsz, N), "(batch, N)")
    return xp, _checks.result_dtype(xp, u, A, B, C, bias, h0)


def _cast(xp, x, dtype):
    return None if x is None else (x if x.dtype == dtype else xp.astype(x, dtype))


def s7_scan(u, A, B, C, bias=None, return_last_state=False, *, h0=None, impl="auto"):
    r"""S7 selective scan with input-dependent, always-stable decay.

    Parameters
    ----------
    u : array, shape (batch, H, seqlen)
        Input. Real floating (complex inputs raise ``TypeError``).
    A : array, shape (batch, N, seqlen)
        Time-varying raw decay parameter :math:`a_t`.
    B : array, shape (batch, N, H, seqlen)
        Time-varying input matrix.
    C : array, shape (batch, H, N, seqlen)
        Time-varying output matrix.
    bias : array, shape (batch, N, seqlen), optional
        Added to :math:`B_t u_t`.
    return_last_state : bool, default False
        Also return the final state.
    h0 : array, shape (batch, N), optional
        Initial state (zero if omitted). Keyword-only addition.
    impl : {"auto", "cuda", "generic", "reference"}

    Returns
    -------
    y : array, shape (batch, H, seqlen)
    last_state : array, shape (batch, N)
        Only with ``return_last_state=True``; differentiable through ``s7_scan_vjp``.

    Notes
    -----
    .. math::
        \bar A_t = 1 - \frac{1}{a_t^2 + 1/2} \in [-1, 1),\quad
        s_t = \bar A_t \odot s_{t-1} + B_t u_t + \text{bias}_t,\quad y_t = C_t s_t.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import s7_scan
    >>> u = np.ones((1, 1, 3)); A = np.zeros((1, 1, 3)); B = np.ones((1, 1, 1, 3))
    >>> s7_scan(u, A, B, B)
    array([[[1., 0., 1.]]])
    """
    xp, dtype = _prepare(u, A, B, C, bias, h0)
    impl = resolve_impl(impl, xp, what="s7_scan")
    if impl == "reference":
        from ._ref import s7_scan_ref

        y, last = s7_scan_ref(u, A, B, C, bias, True, h0=h0)
        y, last = xp.asarray(y, dtype=dtype), xp.asarray(last, dtype=dtype)
    else:
        u, A, B, C, bias, h0 = (_cast(xp, x, dtype) for x in (u, A, B, C, bias, h0))
        if impl == "cuda":
            from ._cuda import s7_scan_fwd_cuda

            y, last, _ = s7_scan_fwd_cuda(u, A, B, C, bias, h0)
        else:
            y, last = _generic.forward(xp, u, A, B, C, bias, h0)
    return (y, last) if return_last_state else y


def s7_scan_vjp(
    dout, u, A, B, C, bias=None, return_last_state=False, *, h0=None, dlast_state=None, impl="auto"
):
    r"""Vector-Jacobian product of :func:`s7_scan`.

    Parameters
    ----------
    dout : array, shape (batch, H, seqlen)
        Cotangent of ``y``.
    u, A, B, C, bias, return_last_state, h0, impl
        As for :func:`s7_scan`.
    dlast_state : array, shape (batch, N), optional
        Cotangent of the final state.

    Returns
    -------
    S7ScanGrads
        ``(du, dA, dB, dC, dbias, dh0)``; ``dbias``/``dh0`` are None without ``bias``/``h0``.

    Notes
    -----
    With :math:`\lambda_t = C_t^\top dout_t + \bar A_{t+1}\lambda_{t+1}`:
    :math:`du_t = B_t^\top\lambda_t`, :math:`dB_t = \lambda_t u_t^\top`,
    :math:`dbias_t = \lambda_t`,
    :math:`dC_t = dout_t s_t^\top`, :math:`dA_t = \lambda_t s_{t-1}\,2a_t/(a_t^2+1/2)^2`,
    :math:`dh_0 = \bar A_0\lambda_0`. :math:`s_{t-1}` comes from the forward states (lrnnx divides
    by :math:`\bar A`, singular at :math:`a_t^2 = 1/2`).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import s7_scan, s7_scan_vjp
    >>> rng = np.random.default_rng(0)
    >>> u, A = rng.normal(size=(1, 2, 5)), rng.normal(size=(1, 3, 5))
    >>> B, C = rng.normal(size=(1, 3, 2, 5)), rng.normal(size=(1, 2, 3, 5))
    >>> dout = rng.normal(size=(1, 2, 5))
    >>> g = s7_scan_vjp(dout, u, A, B, C)
    >>> g.du.shape, g.dA.shape, g.dB.shape, g.dC.shape, g.dbias is None
    ((1, 2, 5), (1, 3, 5), (1, 3, 2, 5), (1, 2, 3, 5), True)

    ``y`` is linear in ``u`` (without ``bias`` and ``h0``), so
    ``<dout, s7_scan(v, A, B, C)> == <du, v>``:

    >>> v = rng.normal(size=u.shape)
    >>> np.allclose(np.sum(dout * s7_scan(v, A, B, C)), np.sum(g.du * v))
    True
    """
    xp, dtype = _prepare(u, A, B, C, bias, h0, dout, dlast_state)
    impl = resolve_impl(impl, xp, what="s7_scan_vjp")
    if impl == "reference":
        from ._ref import s7_scan_vjp_ref

        g = s7_scan_vjp_ref(dout, u, A, B, C, bias, h0=h0, dlast_state=dlast_state)
        return S7ScanGrads(*(None if x is None else xp.asarray(x, dtype=dtype) for x in g))
    args = [_cast(xp, x, dtype) for x in (dout, u, A, B, C, bias, h0, dlast_state)]
    if impl == "cuda":
        from ._cuda import s7_scan_bwd_cuda

        g = s7_scan_bwd_cuda(*args)
    else:
        g = _generic.vjp(xp, *args)
    return S7ScanGrads(*g)
