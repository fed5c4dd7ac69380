"""Public log-Vandermonde products (the S4D kernel and its state transpose)."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._backend import namespace, resolve_impl
from .._shared.grouping import Grouping, broadcast_shapes, reduce_to
from . import _generic

__all__ = [
    "log_vandermonde", "log_vandermonde_vjp", "LogVandermondeGrads",
    "log_vandermonde_transpose", "log_vandermonde_transpose_vjp", "LogVandermondeTransposeGrads",
]


class LogVandermondeGrads(NamedTuple):
    dv: object
    dx: object


class LogVandermondeTransposeGrads(NamedTuple):
    du: object
    dv: object
    dx: object


def _prepare(v, x, L, u=None, dout=None, *, dout_real=False, out_last=None):
    names = ("v", "x", "u", "dout")
    xp = namespace(v, x, u, dout, names=names)
    _checks.check_array_dtype(xp, "v", v, allow_real=False)
    _checks.check_array_dtype(xp, "x", x, allow_real=False)
    if u is not None:
        _checks.check_array_dtype(xp, "u", u)
    if dout is not None:
        _checks.check_array_dtype(xp, "dout", dout, allow_complex=not dout_real)
    L = _checks.check_positive_int("L", L, 1)
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
    _checks.check_finite(xp, "x", x)
    dtype = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, v, x, u))
    return xp, batch, vx[-1], L, dtype


def _cuda_ok(xp, dtype) -> bool:
    return dtype in (xp.complex64, xp.complex128)


def _cast(xp, a, dtype):
    return a if a.dtype == dtype else xp.astype(a, dtype)


def _flat(xp, a, shape, dtype):
    """Broadcast to ``shape`` and view as (rows, last) for the CUDA launchers."""
    return xp.reshape(_cast(xp, xp.broadcast_to(a, shape), dtype), (-1, shape[-1]))


def log_vandermonde(v, x, L, *, impl="auto"):
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
    xp, batch, N2, L, dtype = _prepare(v, x, L)
    impl = resolve_impl(impl, xp, cuda_supported=_cuda_ok(xp, dtype), what="log_vandermonde")
    rdtype = _checks.real_dtype_of(xp, dtype)
    if impl == "reference":
        from ._ref import log_vandermonde_ref

        return xp.asarray(log_vandermonde_ref(v, x, L), dtype=rdtype)
    if impl == "cuda":
        from ._cuda import vand_cuda

        shape = batch + (N2,)
        out = vand_cuda(_flat(xp, v, shape, dtype), _flat(xp, x, shape, dtype), L, real2=True)
        return xp.reshape(out, batch + (L,))
    grp = Grouping(batch, tuple(x.shape)[:-1])
    V = _generic.vand_rows(xp, grp.rows(xp, _cast(xp, v, dtype), N2),
                           grp.shared(xp, _cast(xp, x, dtype), N2), L)
    return grp.unrows(xp, 2.0 * xp.real(V))


def log_vandermonde_vjp(dout, v, x, L, *, impl="auto"):
    r"""Vector-Jacobian product of :func:`log_vandermonde`.

    Parameters
    ----------
    dout : real array, shape of the output (..., L)
        Cotangent of ``K``.
    v, x, L, impl
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
    xp, batch, N2, L, dtype = _prepare(v, x, L, dout=dout, dout_real=True)
    impl = resolve_impl(impl, xp, cuda_supported=_cuda_ok(xp, dtype), what="log_vandermonde_vjp")
    if impl == "reference":
        from ._ref import log_vandermonde_vjp_ref

        return LogVandermondeGrads(*(xp.asarray(a, dtype=dtype)
                                     for a in log_vandermonde_vjp_ref(dout, v, x, L)))
    rdtype = _checks.real_dtype_of(xp, dtype)
    g = _cast(xp, xp.broadcast_to(dout, batch + (L,)), rdtype)
    if impl == "cuda":
        from ._cuda import vand_t_cuda

        shape = batch + (N2,)
        vf = _flat(xp, v, shape, dtype)
        s0, s1 = vand_t_cuda(xp.reshape(g, (-1, L)), _flat(xp, x, shape, dtype), N2,
                             weighted=True)
        dv = xp.reshape(2.0 * xp.conj(s0), shape)
        dx = xp.reshape(2.0 * xp.conj(vf * s1), shape)
    else:
        grp = Grouping(batch, tuple(x.shape)[:-1])
        vg = grp.rows(xp, _cast(xp, v, dtype), N2)
        s0, s1 = _generic.vand_t_rows(xp, grp.rows(xp, g, L),
                                      grp.shared(xp, _cast(xp, x, dtype), N2), N2, dtype,
                                      weighted=True)
        dv = grp.unrows(xp, 2.0 * xp.conj(s0))
        dx = grp.unshared(xp, xp.sum(2.0 * xp.conj(vg * s1), axis=1))
    return LogVandermondeGrads(reduce_to(xp, dv, v.shape, False), reduce_to(xp, dx, x.shape, False))


def log_vandermonde_transpose(u, v, x, L, *, impl="auto"):
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
    xp, batch, N2, L, dtype = _prepare(v, x, L, u=u)
    impl = resolve_impl(impl, xp, cuda_supported=_cuda_ok(xp, dtype),
                        what="log_vandermonde_transpose")
    if impl == "reference":
        from ._ref import log_vandermonde_transpose_ref

        return xp.asarray(log_vandermonde_transpose_ref(u, v, x, L), dtype=dtype)
    if impl == "cuda":
        from ._cuda import vand_t_cuda

        shape = batch + (N2,)
        s0, _ = vand_t_cuda(_flat(xp, u, batch + (L,), u.dtype), _flat(xp, x, shape, dtype), N2,
                            weighted=False, dtype=dtype)
        return xp.reshape(_flat(xp, v, shape, dtype) * s0, shape)
    grp = Grouping(batch, tuple(x.shape)[:-1])
    s0, _ = _generic.vand_t_rows(xp, grp.rows(xp, u, L), grp.shared(xp, _cast(xp, x, dtype), N2),
                                 N2, dtype)
    return grp.unrows(xp, grp.rows(xp, _cast(xp, v, dtype), N2) * s0)


def log_vandermonde_transpose_vjp(dout, u, v, x, L, *, impl="auto"):
    r"""Vector-Jacobian product of :func:`log_vandermonde_transpose`.

    Parameters
    ----------
    dout : complex array, shape (batch..., N/2)
        Cotangent of ``out`` (broadcastable to the output shape: the broadcast leading axes
        of ``u``, ``v``, ``x``, then N/2). A real ``dout`` is promoted to complex.
    u, v, x, L, impl
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
    xp, batch, N2, L, dtype = _prepare(v, x, L, u=u, dout=dout, out_last="N")
    impl = resolve_impl(impl, xp, cuda_supported=_cuda_ok(xp, dtype),
                        what="log_vandermonde_transpose_vjp")
    u_real = not xp.isdtype(u.dtype, "complex floating")
    if impl == "reference":
        from ._ref import log_vandermonde_transpose_vjp_ref

        du, dv, dx = log_vandermonde_transpose_vjp_ref(dout, u, v, x, L)
        rd = _checks.real_dtype_of(xp, dtype)
        return LogVandermondeTransposeGrads(
            xp.asarray(du, dtype=rd if u_real else dtype), xp.asarray(dv, dtype=dtype),
            xp.asarray(dx, dtype=dtype))
    shape = batch + (N2,)
    if impl == "cuda":
        from ._cuda import vand_cuda, vand_t_cuda

        vf, xf = _flat(xp, v, shape, dtype), _flat(xp, x, shape, dtype)
        gf = _flat(xp, dout, shape, dtype)
        s0, s1 = vand_t_cuda(_flat(xp, u, batch + (L,), u.dtype), xf, N2, weighted=True,
                             dtype=dtype)
        du = xp.reshape(xp.conj(vand_cuda(vf * xp.conj(gf), xf, L, real2=False)), batch + (L,))
        dv = xp.reshape(gf * xp.conj(s0), shape)
        dx = xp.reshape(gf * xp.conj(vf * s1), shape)
    else:
        grp = Grouping(batch, tuple(x.shape)[:-1])
        xg = grp.shared(xp, _cast(xp, x, dtype), N2)
        vg = grp.rows(xp, _cast(xp, v, dtype), N2)
        gg = grp.rows(xp, _cast(xp, dout, dtype), N2)
        s0, s1 = _generic.vand_t_rows(xp, grp.rows(xp, u, L), xg, N2, dtype, weighted=True)
        du = grp.unrows(xp, xp.conj(_generic.vand_rows(xp, vg * xp.conj(gg), xg, L)))
        dv = grp.unrows(xp, gg * xp.conj(s0))
        dx = grp.unshared(xp, xp.sum(gg * xp.conj(vg * s1), axis=1))
    return LogVandermondeTransposeGrads(
        reduce_to(xp, du, u.shape, u_real), reduce_to(xp, dv, v.shape, False),
        reduce_to(xp, dx, x.shape, False))
