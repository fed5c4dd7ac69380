"""Public log-Vandermonde products (the S4D kernel and its state transpose)."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._dispatch import Arg, OpSpec, check_number, float_dtypes
from .._shared.grads import grad_dtype
from .._shared.grouping import Grouping, broadcast_shapes, reduce_to

__all__ = [
    "log_vandermonde", "log_vandermonde_vjp", "LogVandermondeGrads",
    "log_vandermonde_transpose", "log_vandermonde_transpose_vjp", "LogVandermondeTransposeGrads",
    "SPEC",
]

# Canonical functions of every implementation module, on grouped rows (coefficients
# (Rw, M, N), log-poles (Rw, N) shared by the M rows, one complex dtype):
# ``forward(xp, v, x, L) -> 2 Re sum_n v e^{x l}`` (Rw, M, L) real;
# ``backward(xp, g, v, x, L) -> (dv (Rw, M, N), dx (Rw, N))`` for a real g (Rw, M, L);
# ``transpose(xp, u, v, x, L) -> v sum_l u_l e^{x l}`` (Rw, M, N) for u (Rw, M, L);
# ``transpose_backward(xp, g, u, v, x, L) -> (du (Rw, M, L) complex, dv, dx)``.
SPEC = OpSpec(
    "log_vandermonde",
    __package__,
    (Arg("u"), Arg("v", "complex", param=True),
     Arg("x", "complex", param=True)),
    impls={"reference": "_ref", "generic": "_generic", "cuda": "_cuda"},
    supports={"cuda": float_dtypes("complex64", "complex128")},
)
_REAL_COTANGENT = {"dout": Arg("dout", "real")}
_COTANGENT = {"dout": Arg("dout")}


class LogVandermondeGrads(NamedTuple):
    dv: object
    dx: object


class LogVandermondeTransposeGrads(NamedTuple):
    du: object
    dv: object
    dx: object


def _shapes(xp, v, x, L, u=None, dout=None, *, out_last=None):
    """(batch shape, N/2, L, compute dtype); only shapes are read."""
    L = check_number("L", L, integer=True, minimum=1)
    if v.ndim < 1 or x.ndim < 1:
        raise ValueError(
            f"v and x need a state axis (last), got shapes {tuple(v.shape)} and {tuple(x.shape)}"
        )
    try:
        vx = broadcast_shapes(tuple(v.shape), tuple(x.shape))
    except ValueError:
        raise ValueError(
            f"v with shape {tuple(v.shape)} and x with shape {tuple(x.shape)} do not broadcast"
        ) from None
    batch = vx[:-1]
    if u is not None:
        if u.ndim < 1 or u.shape[-1] != L:
            raise ValueError(f"u must have shape (..., L) with L={L}, got {tuple(u.shape)}")
        try:
            batch = broadcast_shapes(batch, tuple(u.shape)[:-1])
        except ValueError:
            raise ValueError(
                f"u with shape {tuple(u.shape)} does not broadcast against v and x "
                f"(batch shape {batch})"
            ) from None
    if dout is not None:
        last = L if out_last is None else vx[-1]
        _checks.check_broadcastable("dout", dout, batch + (last,), "the output shape")
    dtype = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, v, x, u, dout))
    return batch, vx[-1], L, dtype


def _cast(xp, a, dtype):
    return a if a.dtype == dtype else xp.astype(a, dtype)


def log_vandermonde(v, x, L, *, impl="auto", check_finite=True):
    r"""Log-Vandermonde product, the S4D convolution kernel: 2 Re sum_n v_n exp(x_n l).

    Parameters
    ----------
    v : complex array, shape (..., N/2)
        Coefficients, one per conjugate pair.
    x : complex array, shape (..., N/2)
        Log-poles (S4D: dt * A); broadcast against ``v``.
    L : int
        Kernel length (>= 1).
    impl : {"auto", "cuda", "generic", "reference"}
        ``auto`` uses the CUDA kernel for CuPy inputs, else the array-API path (blocked
        powers and GEMM, no per-entry exp).
    check_finite : bool, default True
        Whether to check that ``v`` and ``x`` contain only finite numbers. Disabling may give
        a performance gain (no device synchronisation), but may give NaN/inf results if they
        do contain infinities or NaNs.

    Returns
    -------
    K : real array, shape (broadcast(v, x)[:-1], L)
        float32 for complex64 inputs, float64 for complex128.

    Notes
    -----
    .. math:: K_l = 2\,\operatorname{Re}\sum_n v_n e^{x_n l},\qquad l = 0,\dots,L-1

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import log_vandermonde
    >>> log_vandermonde(np.array([0.5 + 0j]), np.array([np.log(0.5) + 0j]), 3)
    array([1.  , 0.5 , 0.25])
    """
    xp = SPEC.validate({"v": v, "x": x}, check_finite=check_finite)
    batch, N2, L, dtype = _shapes(xp, v, x, L)
    name = SPEC.resolve(impl, xp, dtype)
    grp = Grouping(batch, tuple(x.shape)[:-1])
    K = SPEC.get(name, "forward")(xp, grp.rows(xp, _cast(xp, v, dtype), N2),
                                  grp.shared(xp, _cast(xp, x, dtype), N2), L)
    return grp.unrows(xp, K)


def log_vandermonde_vjp(dout, v, x, L, *, impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`log_vandermonde`.

    Parameters
    ----------
    dout : real array, shape of the output (..., L)
        Cotangent of ``K``.
    v, x, L, impl, check_finite
        As for :func:`log_vandermonde`.

    Returns
    -------
    LogVandermondeGrads
        ``(dv, dx)`` shaped like ``v`` and ``x`` (PyTorch complex convention).

    Notes
    -----
    .. math:: dv_n = 2\sum_l g_l\,\overline{e^{x_n l}},\qquad
              dx_n = 2\,\bar v_n \sum_l l\, g_l\,\overline{e^{x_n l}}

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import log_vandermonde, log_vandermonde_vjp
    >>> rng = np.random.default_rng(0)
    >>> v = rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))
    >>> x = -rng.uniform(0.1, 1, (2, 3)) + 1j * rng.normal(size=(2, 3))
    >>> dout = rng.normal(size=(2, 5))
    >>> g = log_vandermonde_vjp(dout, v, x, 5)
    >>> g.dv.shape, g.dx.shape
    ((2, 3), (2, 3))

    ``K`` is real-linear in ``v``, so ``<dout, log_vandermonde(e, x, L)> == Re<dv, e>``:

    >>> e = rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))
    >>> np.allclose(np.sum(dout * log_vandermonde(e, x, 5)), np.vdot(g.dv, e).real)
    True
    """
    xp = SPEC.validate({"dout": dout, "v": v, "x": x}, check_finite=check_finite,
                       extra=_REAL_COTANGENT)
    batch, N2, L, dtype = _shapes(xp, v, x, L, dout=dout)
    name = SPEC.resolve(impl, xp, dtype)
    grp = Grouping(batch, tuple(x.shape)[:-1])
    rdtype = _checks.real_dtype_of(xp, dtype)
    dv, dx = SPEC.get(name, "backward")(
        xp, grp.rows(xp, _cast(xp, dout, rdtype), L), grp.rows(xp, _cast(xp, v, dtype), N2),
        grp.shared(xp, _cast(xp, x, dtype), N2), L)
    return LogVandermondeGrads(reduce_to(xp, grp.unrows(xp, dv), v.shape, False),
                               reduce_to(xp, grp.unshared(xp, dx), x.shape, False))


def log_vandermonde_transpose(u, v, x, L, *, impl="auto", check_finite=True):
    r"""Transposed log-Vandermonde product (S4D ``forward_state``): sum_l u_l v_n exp(x_n l).

    Parameters
    ----------
    u : array, shape (..., L)
        Sequence (real or complex).
    v : complex array, shape (..., N/2)
        Coefficients (S4D: the discretised B).
    x : complex array, shape (..., N/2)
        Log-poles; ``u``, ``v``, ``x`` broadcast over the leading axes.
    L : int
        Sequence length; must equal ``u.shape[-1]``.
    impl : {"auto", "cuda", "generic", "reference"}
        ``auto`` uses the CUDA kernel for CuPy inputs (lrnnx has none), else the array-API path.
    check_finite : bool, default True
        Whether to check that ``v`` and ``x`` (not the sequence ``u``) contain only finite
        numbers. Disabling may give a performance gain (no device synchronisation), but may
        give NaN/inf results if they do contain infinities or NaNs.

    Returns
    -------
    out : complex array, shape (batch, N/2)
        No factor 2 and no real part (unlike :func:`log_vandermonde`).

    Notes
    -----
    .. math:: \mathrm{out}_n = v_n \sum_{l=0}^{L-1} u_l\, e^{x_n l}

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import log_vandermonde_transpose
    >>> log_vandermonde_transpose(np.ones(3), np.array([1 + 0j]), np.array([np.log(0.5) + 0j]), 3)
    array([1.75+0.j])
    """
    xp = SPEC.validate({"u": u, "v": v, "x": x}, check_finite=check_finite)
    batch, N2, L, dtype = _shapes(xp, v, x, L, u=u)
    name = SPEC.resolve(impl, xp, dtype)
    grp = Grouping(batch, tuple(x.shape)[:-1])
    ug = grp.rows(xp, _cast(xp, u, grad_dtype(xp, u.dtype, dtype)), L)
    out = SPEC.get(name, "transpose")(xp, ug, grp.rows(xp, _cast(xp, v, dtype), N2),
                                      grp.shared(xp, _cast(xp, x, dtype), N2), L)
    return grp.unrows(xp, out)


def log_vandermonde_transpose_vjp(dout, u, v, x, L, *, impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`log_vandermonde_transpose`.

    Parameters
    ----------
    dout : complex array, shape (batch..., N/2)
        Cotangent of ``out`` (broadcastable to the output shape: the broadcast leading axes
        of ``u``, ``v``, ``x``, then N/2). A real ``dout`` is promoted to complex.
    u, v, x, L, impl, check_finite
        As for :func:`log_vandermonde_transpose`.

    Returns
    -------
    LogVandermondeTransposeGrads
        ``(du, dv, dx)`` shaped like ``u``, ``v``, ``x`` (``du`` real when ``u`` is real).

    Notes
    -----
    With :math:`g` = ``dout``:

    .. math::
        du_l = \sum_n \overline{v_n e^{x_n l}}\, g_n,\quad
        dv_n = g_n \overline{\textstyle\sum_l u_l e^{x_n l}},\quad
        dx_n = g_n \overline{v_n \textstyle\sum_l l\, u_l e^{x_n l}}

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import log_vandermonde_transpose, log_vandermonde_transpose_vjp
    >>> rng = np.random.default_rng(0)
    >>> v = rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))
    >>> x = -rng.uniform(0.1, 1, (2, 3)) + 1j * rng.normal(size=(2, 3))
    >>> u = rng.normal(size=(2, 5))
    >>> dout = rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))
    >>> g = log_vandermonde_transpose_vjp(dout, u, v, x, 5)
    >>> g.du.shape, g.du.dtype, g.dv.shape, g.dx.shape
    ((2, 5), dtype('float64'), (2, 3), (2, 3))

    ``out`` is linear in ``u``, so ``Re<dout, log_vandermonde_transpose(e, v, x, L)> ==
    <du, e>`` for a real ``e``:

    >>> e = rng.normal(size=(2, 5))
    >>> lhs = np.vdot(dout, log_vandermonde_transpose(e, v, x, 5)).real
    >>> np.allclose(lhs, np.sum(g.du * e))
    True
    """
    xp = SPEC.validate({"dout": dout, "u": u, "v": v, "x": x}, check_finite=check_finite,
                       extra=_COTANGENT)
    batch, N2, L, dtype = _shapes(xp, v, x, L, u=u, dout=dout, out_last="N")
    name = SPEC.resolve(impl, xp, dtype)
    u_real = not xp.isdtype(u.dtype, "complex floating")
    grp = Grouping(batch, tuple(x.shape)[:-1])
    ug = grp.rows(xp, _cast(xp, u, grad_dtype(xp, u.dtype, dtype)), L)
    du, dv, dx = SPEC.get(name, "transpose_backward")(
        xp, grp.rows(xp, _cast(xp, dout, dtype), N2), ug, grp.rows(xp, _cast(xp, v, dtype), N2),
        grp.shared(xp, _cast(xp, x, dtype), N2), L)
    return LogVandermondeTransposeGrads(
        reduce_to(xp, grp.unrows(xp, du), u.shape, u_real),
        reduce_to(xp, grp.unrows(xp, dv), v.shape, False),
        reduce_to(xp, grp.unshared(xp, dx), x.shape, False))
