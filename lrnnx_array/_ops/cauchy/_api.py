"""Public symmetric Cauchy product (the S4 DPLR kernel's inner reduction)."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._backend import namespace, resolve_impl
from . import _generic
from .._shared.grouping import Grouping, broadcast_shapes, reduce_to

__all__ = ["cauchy", "cauchy_vjp", "CauchyGrads"]


class CauchyGrads(NamedTuple):
    dv: object
    dz: object
    dw: object


def _prepare(v, z, w, dout=None):
    names = ("v", "z", "w", "dout")
    xp = namespace(v, z, w, dout, names=names)
    _checks.check_array_dtype(xp, "v", v, allow_real=False)
    _checks.check_array_dtype(xp, "w", w, allow_real=False)
    _checks.check_array_dtype(xp, "z", z)
    if dout is not None:
        _checks.check_array_dtype(xp, "dout", dout)
    if v.ndim < 1 or w.ndim < 1:
        raise ValueError(
            f"v and w need a state axis (last), got shapes {tuple(v.shape)} and {tuple(w.shape)}"
        )
    _checks.check_ndim("z", z, 1, "(L,)")
    try:
        vw = broadcast_shapes(tuple(v.shape), tuple(w.shape))
    except ValueError:
        raise ValueError(
            f"v with shape {tuple(v.shape)} and w with shape {tuple(w.shape)} do not broadcast"
        ) from None
    out_shape = vw[:-1] + (z.shape[0],)
    if dout is not None:
        _checks.check_broadcastable("dout", dout, out_shape, "the output shape")
    _checks.check_finite(xp, "w", w)
    _checks.check_finite(xp, "z", z)
    dtype = _checks.complex_dtype_of(xp, _checks.result_dtype(xp, v, z, w))
    return xp, vw, dtype


def _cuda_ok(xp, dtype) -> bool:
    return dtype in (xp.complex64, xp.complex128)


def _cast(xp, x, dtype):
    return x if x.dtype == dtype else xp.astype(x, dtype)


def cauchy(v, z, w, *, impl="auto"):
    r"""Symmetric Cauchy product: the conjugate-pair sum of ``v / (z - w)``.

    Parameters
    ----------
    v : complex array, shape (..., N/2)
        Residues, one per conjugate pair (their conjugates are implied).
    z : array, shape (L,)
        Nodes (complex; real is promoted).
    w : complex array, shape (..., N/2)
        Poles, one per conjugate pair; broadcast against ``v`` (lrnnx ``cauchy_mult`` semantics).
    impl : {"auto", "cuda", "generic", "reference"}
        ``auto`` uses the CUDA kernel for CuPy complex64/complex128 inputs, else the array-API
        path (blocked Cauchy matrices shared across broadcast rows, reduced with matmul).

    Returns
    -------
    out : complex array, shape (broadcast(v, w)[:-1], L)
        In the promoted complex dtype of the inputs.

    Notes
    -----
    .. math:: \mathrm{out}_{\dots l} = \sum_n \frac{v_n}{z_l - w_n}
              + \frac{\bar v_n}{z_l - \bar w_n}
              = \sum_n \frac{2\,[z_l \operatorname{Re} v_n - \operatorname{Re}(v_n \bar w_n)]}
                {(z_l - w_n)(z_l - \bar w_n)}

    Unlike lrnnx's CUDA kernel, any N/2 (not only powers of two up to 1024) and float64
    precision are supported. ``v`` and ``w`` must be complex (as in lrnnx).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import cauchy
    >>> cauchy(np.array([1 + 0j]), np.array([0j, 1j]), np.array([-1 + 0j]))
    array([2.+0.j, 1.-1.j])
    """
    xp, vw, dtype = _prepare(v, z, w)
    impl = resolve_impl(impl, xp, cuda_supported=_cuda_ok(xp, dtype), what="cauchy")
    if impl == "reference":
        from ._ref import cauchy_ref

        return xp.asarray(cauchy_ref(v, z, w), dtype=dtype)
    N2, L = vw[-1], z.shape[0]
    z = _cast(xp, z, dtype)
    if impl == "cuda":
        from ._cuda import cauchy_cuda

        vb = xp.reshape(_cast(xp, xp.broadcast_to(v, vw), dtype), (-1, N2))
        wb = xp.reshape(_cast(xp, xp.broadcast_to(w, vw), dtype), (-1, N2))
        return xp.reshape(cauchy_cuda(vb, z, wb), vw[:-1] + (L,))
    grp = Grouping(vw[:-1], tuple(w.shape)[:-1])
    out = _generic.cauchy_rows(
        xp, grp.rows(xp, _cast(xp, v, dtype), N2), z, grp.shared(xp, _cast(xp, w, dtype), N2)
    )
    return grp.unrows(xp, out)


def cauchy_vjp(dout, v, z, w, *, need_dz=True, impl="auto"):
    r"""Vector-Jacobian product of :func:`cauchy`.

    Parameters
    ----------
    dout : array, shape of the output
        Cotangent of ``out``.
    v, z, w, impl
        As for :func:`cauchy`.
    need_dz : bool, default True
        Compute ``dz`` (costs about one more forward). S4 keeps its nodes fixed and passes
        False; ``dz`` is then None (lrnnx never computes it).

    Returns
    -------
    CauchyGrads
        ``(dv, dz, dw)`` shaped like ``v``, ``z``, ``w`` (PyTorch complex convention; ``dz`` is
        real when ``z`` is real).

    Notes
    -----
    With :math:`g` = ``dout``, :math:`r^{(1)}_{nl} = 1/(z_l - w_n)`,
    :math:`r^{(2)}_{nl} = 1/(z_l - \bar w_n)`:

    .. math::
        dv_n &= \textstyle\sum_l g_l \overline{r^{(1)}_{nl}} + \bar g_l r^{(2)}_{nl},\\
        dw_n &= \bar v_n \textstyle\sum_l g_l \overline{r^{(1)}_{nl}}^2
                + \bar g_l {r^{(2)}_{nl}}^2,\\
        dz_l &= -g_l\, \overline{\textstyle\sum_n v_n {r^{(1)}_{nl}}^2 + \bar v_n {r^{(2)}_{nl}}^2}.

    These are lrnnx's backward formulas (both conjugate terms differentiated, i.e. the full
    gradient), summed over broadcast axes.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import cauchy, cauchy_vjp
    >>> rng = np.random.default_rng(0)
    >>> v = rng.normal(size=3) + 1j * rng.normal(size=3)
    >>> w = -rng.uniform(0.1, 1, 3) + 1j * rng.normal(size=3)
    >>> z = 1j * np.linspace(0, 2, 4)
    >>> dout = rng.normal(size=4) + 1j * rng.normal(size=4)
    >>> g = cauchy_vjp(dout, v, z, w)
    >>> g.dv.shape, g.dz.shape, g.dw.shape
    ((3,), (4,), (3,))
    >>> cauchy_vjp(dout, v, z, w, need_dz=False).dz is None
    True

    ``out`` is real-linear in ``v``, so ``Re<dout, cauchy(e, z, w)> == Re<dv, e>``:

    >>> e = rng.normal(size=3) + 1j * rng.normal(size=3)
    >>> np.allclose(np.vdot(dout, cauchy(e, z, w)).real, np.vdot(g.dv, e).real)
    True
    """
    xp, vw, dtype = _prepare(v, z, w, dout)
    impl = resolve_impl(impl, xp, cuda_supported=_cuda_ok(xp, dtype), what="cauchy_vjp")
    z_real = not xp.isdtype(z.dtype, "complex floating")
    rdtype = _checks.real_dtype_of(xp, dtype)
    if impl == "reference":
        from ._ref import cauchy_vjp_ref

        dv, dz, dw = cauchy_vjp_ref(dout, v, z, w)
        return CauchyGrads(
            xp.asarray(dv, dtype=dtype),
            xp.asarray(dz, dtype=rdtype if z_real else dtype) if need_dz else None,
            xp.asarray(dw, dtype=dtype),
        )
    N2, L = vw[-1], z.shape[0]
    zc = _cast(xp, z, dtype)
    out_shape = vw[:-1] + (L,)
    g = _cast(xp, xp.broadcast_to(dout, out_shape), dtype)
    if impl == "cuda":
        from ._cuda import cauchy_bwd_cuda

        vb = xp.reshape(_cast(xp, xp.broadcast_to(v, vw), dtype), (-1, N2))
        wb = xp.reshape(_cast(xp, xp.broadcast_to(w, vw), dtype), (-1, N2))
        dv, dz, dw = cauchy_bwd_cuda(xp.reshape(g, (-1, L)), vb, zc, wb, need_dz)
        dv, dw = xp.reshape(dv, vw), xp.reshape(dw, vw)
    else:
        grp = Grouping(vw[:-1], tuple(w.shape)[:-1])
        dv, dz, dw = _generic.cauchy_vjp_rows(
            xp, grp.rows(xp, g, L), grp.rows(xp, _cast(xp, v, dtype), N2), zc,
            grp.shared(xp, _cast(xp, w, dtype), N2), need_dz,
        )
        dv, dw = grp.unrows(xp, dv), grp.unshared(xp, dw)
    dv = reduce_to(xp, dv, v.shape, False)
    dw = reduce_to(xp, dw, w.shape, False)
    if dz is not None and z_real:
        dz = xp.real(dz)
    return CauchyGrads(dv, dz, dw)
