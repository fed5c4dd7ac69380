"""Public symmetric Cauchy product (the S4 DPLR kernel's inner reduction)."""

from __future__ import annotations

from typing import NamedTuple

from ... import _checks
from ..._dispatch import Arg, OpSpec, float_dtypes
from .._shared.grouping import Grouping, broadcast_shapes, reduce_to

__all__ = ["cauchy", "cauchy_vjp", "CauchyGrads", "SPEC"]

# Canonical functions of every implementation module (v (Rw, M, N), z (L,), w (Rw, N), one
# complex dtype): ``forward(xp, v, z, w, *, imag_nodes, guard) -> (Rw, M, L)`` and
# ``backward(xp, g, v, z, w, *, need_dz, imag_nodes, guard) -> (dv (Rw, M, N), dz (L,) or None,
# dw (Rw, N))``. ``imag_nodes``: the caller knows Re z == 0 (S4's nodes); ``guard``: recompute
# rows whose real-form result is not finite (a node within ~sqrt(tiny) of a pole).
SPEC = OpSpec(
    "cauchy",
    __package__,
    (Arg("v", "complex", param=True), Arg("z", param=True), Arg("w", "complex", param=True)),
    impls={"reference": "_ref", "generic": "_generic", "cuda": "_cuda"},
    supports={"cuda": float_dtypes("complex64", "complex128")},
)
_COTANGENTS = {"dout": Arg("dout")}


class CauchyGrads(NamedTuple):
    dv: object
    dz: object
    dw: object


def _shapes(xp, v, z, w, dout=None):
    """(broadcast (..., N/2) shape of v and w, compute dtype); only shapes are read."""
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
    if dout is not None:
        _checks.check_broadcastable("dout", dout, vw[:-1] + (z.shape[0],), "the output shape")
    return vw, _checks.complex_dtype_of(xp, _checks.result_dtype(xp, v, z, w, dout))


def _cast(xp, x, dtype):
    return x if x.dtype == dtype else xp.astype(x, dtype)


def cauchy(v, z, w, *, impl="auto", check_finite=True):
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
    check_finite : bool, default True
        Whether to check that ``v``, ``z`` and ``w`` contain only finite numbers, and (generic
        path) to recompute in the exact complex form any row that comes out non-finite because
        a node lies within ~sqrt(tiny) of a pole. Disabling may give a performance gain (no
        device synchronisation), but may give NaN/inf results if the inputs do contain
        infinities or NaNs or such near-singular nodes.

    Returns
    -------
    out : complex array, shape (broadcast(v, w)[:-1], L)
        In the promoted complex dtype of the inputs (float16 and float32 give complex64).

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
    xp = SPEC.validate({"v": v, "z": z, "w": w}, check_finite=check_finite)
    vw, dtype = _shapes(xp, v, z, w)
    name = SPEC.resolve(impl, xp, dtype)
    grp = Grouping(vw[:-1], tuple(w.shape)[:-1])
    N2 = vw[-1]
    out = SPEC.get(name, "forward")(
        xp, grp.rows(xp, _cast(xp, v, dtype), N2), _cast(xp, z, dtype),
        grp.shared(xp, _cast(xp, w, dtype), N2), imag_nodes=False, guard=bool(check_finite),
    )
    return grp.unrows(xp, out)


def cauchy_vjp(dout, v, z, w, *, need_dz=True, impl="auto", check_finite=True):
    r"""Vector-Jacobian product of :func:`cauchy`.

    Parameters
    ----------
    dout : array, shape of the output
        Cotangent of ``out``.
    v, z, w, impl, check_finite
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
    xp = SPEC.validate({"dout": dout, "v": v, "z": z, "w": w}, flags={"need_dz": need_dz},
                       check_finite=check_finite, extra=_COTANGENTS)
    vw, dtype = _shapes(xp, v, z, w, dout)
    name = SPEC.resolve(impl, xp, dtype)
    N2, L = vw[-1], z.shape[0]
    grp = Grouping(vw[:-1], tuple(w.shape)[:-1])
    g = grp.rows(xp, _cast(xp, dout, dtype), L)
    dv, dz, dw = SPEC.get(name, "backward")(
        xp, g, grp.rows(xp, _cast(xp, v, dtype), N2), _cast(xp, z, dtype),
        grp.shared(xp, _cast(xp, w, dtype), N2), need_dz=bool(need_dz), imag_nodes=False,
        guard=bool(check_finite),
    )
    dv = reduce_to(xp, grp.unrows(xp, dv), v.shape, False)
    dw = reduce_to(xp, grp.unshared(xp, dw), w.shape, False)
    if dz is not None and not xp.isdtype(z.dtype, "complex floating"):
        dz = xp.real(dz)
    return CauchyGrads(dv, dz, dw)
