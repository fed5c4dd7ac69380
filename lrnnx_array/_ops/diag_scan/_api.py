"""Public diagonal scan: h_t = a_t * h_{t-1} + b_t over the last axis."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._backend import namespace, resolve_impl
from .._shared.grads import sum_to
from . import _generic

__all__ = ["diag_scan", "diag_scan_vjp", "DiagScanGrads"]


class DiagScanGrads(NamedTuple):
    da: object
    db: object
    dh0: object


def _prepare(a, b, h0, dh=None, dlast_state=None):
    names = ("a", "b", "h0", "dh", "dlast_state")
    xp = namespace(a, b, h0, dh, dlast_state, names=names)
    for name, x in zip(names, (a, b, h0, dh, dlast_state)):
        if x is not None:
            _checks.check_array_dtype(xp, name, x)
    if a.ndim < 1 or b.ndim < 1:
        raise ValueError(
            f"a and b need a time axis (last), got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    try:
        shape = tuple(xp.broadcast_arrays(a, b)[0].shape)
    except ValueError:
        raise ValueError(
            f"a with shape {tuple(a.shape)} and b with shape {tuple(b.shape)} do not broadcast"
        ) from None
    if h0 is not None:
        _checks.check_broadcastable("h0", h0, shape[:-1], "the state shape a.shape[:-1]")
    if dh is not None:
        _checks.check_broadcastable("dh", dh, shape, "the output shape")
    if dlast_state is not None:
        _checks.check_broadcastable("dlast_state", dlast_state, shape[:-1], "the state shape")
    dtype = _checks.result_dtype(xp, a, b, h0)
    return xp, shape, dtype


def _cuda_ok(xp, dtype) -> bool:
    return str(dtype).split(".")[-1] in ("float32", "float64", "complex64", "complex128")


def _rows(xp, x, shape, dtype):
    """Broadcast to ``shape`` and view as (rows, L) in ``dtype``."""
    x = xp.broadcast_to(x, shape)
    if x.dtype != dtype:
        x = xp.astype(x, dtype)
    R = 1
    for n in shape[:-1]:
        R *= n
    return xp.reshape(x, (R, shape[-1]))


def diag_scan(a, b, h0=None, *, reverse=False, impl="auto"):
    r"""Diagonal (elementwise) linear recurrence along the last axis.

    Parameters
    ----------
    a : array, shape (..., L)
        Gates; broadcast against ``b`` (e.g. shape (..., 1) for a constant gate per row).
    b : array, shape (..., L)
        Inputs.
    h0 : array, shape (...), optional
        Initial state (zero if omitted). With ``reverse=True`` it is the state after the end.
    reverse : bool, default False
        Scan from the last time step to the first.
    impl : {"auto", "cuda", "generic", "reference"}
        Algorithm; ``auto`` uses the CUDA kernel for CuPy arrays, else the array-API path.

    Returns
    -------
    h : array, shape broadcast(a, b)
        All states; dtype is the promoted dtype of ``a``, ``b``, ``h0`` (real or complex).

    Notes
    -----
    .. math:: h_t = a_t \odot h_{t-1} + b_t,\quad h_{-1} = h_0

    The last state is ``h[..., -1]`` (``h[..., 0]`` when reversed); ``diag_scan_vjp`` accepts
    its cotangent separately as ``dlast_state``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import diag_scan
    >>> diag_scan(np.full(4, 0.5), np.ones(4))
    array([1.   , 1.5  , 1.75 , 1.875])
    """
    xp, shape, dtype = _prepare(a, b, h0)
    impl = resolve_impl(impl, xp, cuda_supported=_cuda_ok(xp, dtype), what="diag_scan")
    if shape[-1] == 0:
        return xp.zeros(shape, dtype=dtype)
    if impl == "reference":
        from ._ref import diag_scan_ref

        return xp.asarray(diag_scan_ref(a, b, h0, reverse=reverse), dtype=dtype)
    a2, b2 = _rows(xp, a, shape, dtype), _rows(xp, b, shape, dtype)
    h02 = (
        None
        if h0 is None
        else xp.reshape(xp.astype(xp.broadcast_to(h0, shape[:-1]), dtype), (a2.shape[0],))
    )
    if impl == "cuda":
        from ._cuda import diag_scan_cuda

        h = diag_scan_cuda(a2, b2, h02, reverse=reverse)
    elif a.shape[-1] == 1:
        h = _generic.scan_rows_const(xp, a2[:, 0], b2, h02, reverse=reverse)
    else:
        h = _generic.scan_rows(xp, a2, b2, h02, reverse=reverse)
    return xp.reshape(h, shape)


def diag_scan_vjp(dh, a, b, h0=None, *, reverse=False, dlast_state=None, impl="auto"):
    r"""Vector-Jacobian product of :func:`diag_scan`.

    Parameters
    ----------
    dh : array, shape of the output
        Cotangent of ``h``.
    a, b, h0, reverse, impl
        As for :func:`diag_scan`.
    dlast_state : array, shape (...), optional
        Cotangent of the final state, added to ``dh`` at the last scanned step.

    Returns
    -------
    DiagScanGrads
        ``(da, db, dh0)`` shaped like ``a``, ``b`` and ``h0`` (``dh0`` is None without ``h0``).
        Complex gradients follow PyTorch's convention; real inputs get real gradients.

    Notes
    -----
    With :math:`\lambda_t = dh_t + \overline{a_{t+1}}\lambda_{t+1}` (a reverse scan with gates
    shifted by one): :math:`db_t = \lambda_t`, :math:`da_t = \lambda_t\overline{h_{t-1}}`,
    :math:`dh_0 = \overline{a_0}\lambda_0`. Nothing is divided by ``a``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import diag_scan, diag_scan_vjp
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.uniform(0, 1, (2, 5)), rng.normal(size=(2, 5))
    >>> dh = rng.normal(size=(2, 5))
    >>> g = diag_scan_vjp(dh, a, b)
    >>> g.da.shape, g.db.shape, g.dh0 is None
    ((2, 5), (2, 5), True)

    ``h`` is linear in ``b``, so ``<dh, diag_scan(a, v)> == <db, v>`` for any ``v``:

    >>> v = rng.normal(size=(2, 5))
    >>> np.allclose(np.sum(dh * diag_scan(a, v)), np.sum(g.db * v))
    True
    """
    xp, shape, dtype = _prepare(a, b, h0, dh, dlast_state)
    impl = resolve_impl(impl, xp, cuda_supported=_cuda_ok(xp, dtype), what="diag_scan_vjp")
    if shape[-1] == 0:
        # No steps: the final state is h0 itself, so its cotangent passes straight through.
        zero = xp.zeros(shape, dtype=dtype)
        dh0 = None
        if h0 is not None:
            g = (
                zero[..., 0]
                if dlast_state is None
                else xp.broadcast_to(xp.astype(dlast_state, dtype), shape[:-1])
            )
            dh0 = _reduce_to(xp, g, h0)
        return DiagScanGrads(_reduce_to(xp, zero, a), _reduce_to(xp, zero, b), dh0)
    if impl == "reference":
        from ._ref import diag_scan_vjp_ref

        g = diag_scan_vjp_ref(dh, a, b, h0, reverse=reverse, dlast_state=dlast_state)
        return DiagScanGrads(
            *(
                None if gi is None else xp.asarray(gi, dtype=_grad_out_dtype(xp, x.dtype, dtype))
                for gi, x in zip(g, (a, b, h0))
            )
        )
    a_rows = _rows(xp, a, shape, dtype)
    R = a_rows.shape[0]
    b_rows = _rows(xp, b, shape, dtype)
    h0_rows = (
        None if h0 is None else xp.reshape(xp.astype(xp.broadcast_to(h0, shape[:-1]), dtype), (R,))
    )
    g_rows = _rows(xp, dh, shape, dtype)
    dl_rows = (
        None
        if dlast_state is None
        else xp.reshape(xp.astype(xp.broadcast_to(dlast_state, shape[:-1]), dtype), (R,))
    )
    if impl == "cuda":
        from ._cuda import diag_scan_bwd_cuda

        da, db, dh0 = diag_scan_bwd_cuda(g_rows, a_rows, b_rows, h0_rows, dl_rows, reverse=reverse)
    else:
        const = a.shape[-1] == 1
        da, db, dh0 = _vjp_generic(xp, g_rows, a_rows, b_rows, h0_rows, dl_rows, reverse, const)
    da = _reduce_to(xp, xp.reshape(da, shape), a)
    db = _reduce_to(xp, xp.reshape(db, shape), b)
    dh0 = None if h0 is None else _reduce_to(xp, xp.reshape(dh0, shape[:-1]), h0)
    return DiagScanGrads(da, db, dh0)


def _conj(xp, x):
    return xp.conj(x) if xp.isdtype(x.dtype, "complex floating") else x


def _vjp_generic(xp, g, a, b, h0, dlast, reverse, const=False):
    R, L = b.shape
    if const:
        h = _generic.scan_rows_const(xp, a[:, 0], b, h0, reverse=reverse)
    else:
        h = _generic.scan_rows(xp, a, b, h0, reverse=reverse)
    zero = xp.zeros((R, 1), dtype=a.dtype)
    h_init = _col(xp, h0, R, a.dtype)
    # The adjoint scan runs the other way, gated by the neighbour that comes next in scan order
    # (for a constant gate that is the same gate, except a zero beyond the last step).
    last = 0 if reverse else L - 1
    g = g if dlast is None else _add_at(xp, g, dlast, last)
    if const:
        lam = _generic.scan_rows_const(xp, _conj(xp, a[:, 0]), g, None, reverse=not reverse)
    elif reverse:
        gates = _conj(xp, xp.concat([zero, a[:, :-1]], axis=1))
        lam = _generic.scan_rows(xp, gates, g, None, reverse=False)
    else:
        gates = _conj(xp, xp.concat([a[:, 1:], zero], axis=1))
        lam = _generic.scan_rows(xp, gates, g, None, reverse=True)
    if reverse:
        h_prev = xp.concat([h[:, 1:], h_init], axis=1)
        lam_first, a_first = lam[:, L - 1], a[:, L - 1]
    else:
        h_prev = xp.concat([h_init, h[:, :-1]], axis=1)
        lam_first, a_first = lam[:, 0], a[:, 0]
    da = lam * _conj(xp, h_prev)
    dh0 = None if h0 is None else _conj(xp, a_first) * lam_first
    return da, lam, dh0


def _col(xp, h0, R, dtype):
    return xp.zeros((R, 1), dtype=dtype) if h0 is None else xp.reshape(h0, (R, 1))


def _add_at(xp, g, v, t):
    """g with v added to column t (a copy)."""
    out = xp.asarray(g, copy=True)
    out[:, t] = out[:, t] + v
    return out


def _reduce_to(xp, g, like):
    """Sum a full-shape gradient down to the shape of ``like``; real part for real ``like``."""
    g = sum_to(xp, g, like.shape)
    if xp.isdtype(g.dtype, "complex floating") and not xp.isdtype(like.dtype, "complex floating"):
        g = xp.real(g)
    return xp.astype(g, _grad_out_dtype(xp, like.dtype, g.dtype))


def _grad_out_dtype(xp, like_dtype, g_dtype):
    """Gradient dtype: the input's kind at the computation's precision."""
    prec64 = g_dtype == xp.float64 or g_dtype == xp.complex128
    if xp.isdtype(like_dtype, "complex floating"):
        return xp.complex128 if prec64 else xp.complex64
    return xp.float64 if prec64 else xp.float32
