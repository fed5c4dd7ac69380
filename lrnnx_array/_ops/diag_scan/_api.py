"""Public diagonal scan: h_t = a_t * h_{t-1} + b_t over the last axis."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._dispatch import Arg, OpSpec, float_dtypes
from .._shared.grads import grad_like
from .._shared.grouping import broadcast_shapes

__all__ = ["diag_scan", "diag_scan_vjp", "DiagScanGrads"]

SPEC = OpSpec(
    "diag_scan",
    __package__,
    (Arg("a"), Arg("b"), Arg("h0", required=False)),
    impls={"reference": "_ref", "generic": "_generic", "cuda": "_cuda", "numba": "_numba"},
    supports={"cuda": float_dtypes("float32", "float64", "complex64", "complex128")},
)
_COTANGENTS = {"dh": Arg("dh"), "dlast_state": Arg("dlast_state", required=False)}


class DiagScanGrads(NamedTuple):
    da: object
    db: object
    dh0: object


def _shapes(xp, a, b, h0, dh=None, dlast_state=None):
    """The broadcast (..., L) shape and the compute dtype; only shapes are read."""
    if a.ndim < 1 or b.ndim < 1:
        raise ValueError(
            f"a and b need a time axis (last), got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    try:
        shape = broadcast_shapes(tuple(a.shape), tuple(b.shape))
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
    return shape, _checks.result_dtype(xp, a, b, h0)


def _rows(xp, x, shape, dtype):
    """Broadcast to ``shape`` (..., L) and view as (rows, L) in ``dtype``."""
    if x is None:
        return None
    x = xp.broadcast_to(x, shape)
    x = x if x.dtype == dtype else xp.astype(x, dtype)
    return xp.reshape(x, (-1, shape[-1]))


def _state(xp, x, shape, dtype):
    """A state broadcast to ``shape[:-1]`` and flattened to (rows,) in ``dtype``."""
    if x is None:
        return None
    x = xp.broadcast_to(x, shape[:-1])
    x = x if x.dtype == dtype else xp.astype(x, dtype)
    return xp.reshape(x, (-1,))


def _gate(xp, a, shape, dtype):
    """Gates as (rows, L), or (rows, 1) for a constant gate (the generic path's Toeplitz form)."""
    if a.shape[-1] == 1:
        return _rows(xp, a, (*shape[:-1], 1), dtype)
    return _rows(xp, a, shape, dtype)


def diag_scan(a, b, h0=None, *, reverse=False, impl="auto", check_finite=True):
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
    impl : {"auto", "cuda", "numba", "generic", "reference"}
        Algorithm; ``auto`` takes the CUDA kernel for CuPy arrays, the numba tier for
        NumPy arrays where numba is installed and measured faster, else the array-API path.
    check_finite : bool, default True
        Unused by this op (it has no parameters: ``a`` and ``b`` are activations, and a NaN in
        them propagates forward in time only); accepted for a uniform signature.

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
    xp = SPEC.validate({"a": a, "b": b, "h0": h0}, flags={"reverse": reverse},
                       check_finite=check_finite)
    shape, dtype = _shapes(xp, a, b, h0)
    name = SPEC.resolve(impl, xp, dtype)
    if shape[-1] == 0:
        return xp.zeros(shape, dtype=dtype)
    h = SPEC.get(name, "forward")(
        xp, _gate(xp, a, shape, dtype), _rows(xp, b, shape, dtype), _state(xp, h0, shape, dtype),
        reverse=bool(reverse),
    )
    return xp.reshape(h, shape)


def diag_scan_vjp(dh, a, b, h0=None, *, reverse=False, dlast_state=None, impl="auto",
                  check_finite=True):
    r"""Vector-Jacobian product of :func:`diag_scan`.

    Parameters
    ----------
    dh : array, shape of the output
        Cotangent of ``h``.
    a, b, h0, reverse, impl, check_finite
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
    arrays = {"dh": dh, "a": a, "b": b, "h0": h0, "dlast_state": dlast_state}
    xp = SPEC.validate(arrays, flags={"reverse": reverse}, check_finite=check_finite,
                       extra=_COTANGENTS)
    shape, dtype = _shapes(xp, a, b, h0, dh, dlast_state)
    name = SPEC.resolve(impl, xp, dtype)
    if shape[-1] == 0:
        # No steps: the final state is h0 itself, so its cotangent passes straight through.
        zero = xp.zeros(shape, dtype=dtype)
        dh0 = None
        if h0 is not None:
            dh0 = zero[..., 0] if dlast_state is None else xp.broadcast_to(
                xp.astype(dlast_state, dtype), shape[:-1])
        return DiagScanGrads(grad_like(xp, zero, a), grad_like(xp, zero, b),
                             grad_like(xp, dh0, h0))
    da, db, dh0 = SPEC.get(name, "backward")(
        xp, _rows(xp, dh, shape, dtype), _gate(xp, a, shape, dtype), _rows(xp, b, shape, dtype),
        _state(xp, h0, shape, dtype), _state(xp, dlast_state, shape, dtype),
        reverse=bool(reverse),
    )
    return DiagScanGrads(
        grad_like(xp, xp.reshape(da, shape), a),
        grad_like(xp, xp.reshape(db, shape), b),
        None if h0 is None else grad_like(xp, xp.reshape(dh0, shape[:-1]), h0),
    )
