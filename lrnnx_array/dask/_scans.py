"""The public time-blocked scans on Dask arrays: the names and signatures of
:mod:`lrnnx_array.ops`, plus ``method=``.

Each returns lazy Dask arrays (the VJPs their op's NamedTuple of Dask arrays); nothing is
computed while the graph is built. Arguments are checked at once by one call of the public op
on small stand-ins (batch and time cut to length 1), so a wrong shape, dtype, flag or option
raises here with the op's own message, not later inside a worker.
"""

from __future__ import annotations

from .. import ops
from . import _adapters, _drive

__all__ = [
    "diag_scan", "diag_scan_vjp", "selective_scan", "selective_scan_vjp", "rglru_scan",
    "rglru_scan_vjp", "s7_scan", "s7_scan_vjp", "simplified_scan", "simplified_scan_vjp",
    "s5_inner", "s5_inner_vjp",
]

_METHOD_DOC = """method : {"rerun", "sequential"}, default "rerun"
        ``rerun``: every time block computes its summary (total transition, final state from
        zero), a tree over the summaries gives each block its true initial state, and every
        block reruns from it in parallel (about 2x the work of one scan; only state-sized
        data crosses blocks). ``sequential``: each block starts from the previous block's final
        state (1x the work, parallel over batch / channel blocks only)."""


def _doc(op_name, extra=""):
    return (f"Time-blocked :func:`lrnnx_array.ops.{op_name}` on Dask arrays.\n\n"
            f"    The blocks are the chunks of the inputs along time (and batch); see\n"
            f"    :mod:`lrnnx_array.dask`. The result equals the unchunked op's.\n\n"
            f"    Parameters\n    ----------\n"
            f"    *args, **kwargs\n        As for :func:`lrnnx_array.ops.{op_name}` "
            f"(Dask arrays, NumPy or CuPy ones mixed in: those are one graph key each).\n"
            f"    {_METHOD_DOC}\n\n"
            f"    Returns\n    -------\n    result\n"
            f"        As the op's, as lazy Dask arrays.{extra}\n")


def _pad(x, nd):
    """Prepend length-1 axes (diag_scan's a and b broadcast from the right)."""
    if not hasattr(x, "ndim") or x.ndim >= nd:
        return x
    return x[(None,) * (nd - x.ndim)]


def _diag_setup(a, b, reverse):
    nd = max(getattr(a, "ndim", 1), getattr(b, "ndim", 1), 1)
    return _adapters.DiagScan(nd=nd, reverse=bool(reverse) if isinstance(reverse, bool) else
                              reverse), _pad(a, nd), _pad(b, nd)


def diag_scan(a, b, h0=None, *, reverse=False, method="rerun", impl="auto", check_finite=True):
    op, a2, b2 = _diag_setup(a, b, reverse)
    kw = dict(reverse=reverse, impl=impl, check_finite=check_finite)
    return _drive.forward(op, {"a": a2, "b": b2}, h0, kw, return_last_state=False,
                          method=method)


diag_scan.__doc__ = _doc("diag_scan") + """
    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from lrnnx_array import dask as lxd
    >>> a = da.full((2, 8), 0.5, chunks=(1, 3)); b = da.ones((2, 8), chunks=(1, 3))
    >>> h = lxd.diag_scan(a, b)          # lazy: nothing ran yet
    >>> np.allclose(h.compute(), np.ones(8) * (1 - 0.5 ** np.arange(1, 9)) / 0.5)
    True
"""


def diag_scan_vjp(dh, a, b, h0=None, *, reverse=False, dlast_state=None, method="rerun",
                  impl="auto", check_finite=True):
    op, a2, b2 = _diag_setup(a, b, reverse)
    kw = dict(reverse=reverse, impl=impl, check_finite=check_finite)
    g = _drive.vjp(op, dh, {"a": a2, "b": b2}, h0, dlast_state, kw, method=method)
    da_, db = g["a"], g["b"]
    da_ = da_ if da_ is None or da_.shape == a.shape else da_.reshape(a.shape)
    db = db if db is None or db.shape == b.shape else db.reshape(b.shape)
    return ops.DiagScanGrads(da_, db, g["h0"])


diag_scan_vjp.__doc__ = _doc("diag_scan_vjp", " ``dlast_state`` is the cotangent of the final "
                                              "state.")


def _grads(cls, g):
    return cls(*(g.get(f[1:]) for f in cls._fields))


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   return_last_state=False, discretization="mamba", deltaA=None, *, h0=None,
                   method="rerun", impl="auto", check_finite=True):
    arrays = dict(u=u, delta=delta, A=A, B=B, C=C, D=D, z=z, delta_bias=delta_bias,
                  deltaA=deltaA)
    kw = dict(delta_softplus=delta_softplus, discretization=discretization, impl=impl,
              check_finite=check_finite)
    return _drive.forward(_adapters.SelectiveScan(), arrays, h0, kw,
                          return_last_state=return_last_state, method=method)


selective_scan.__doc__ = _doc("selective_scan") + """
    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from lrnnx_array import dask as lxd, ops
    >>> rng = np.random.default_rng(0)
    >>> u, dt = rng.normal(size=(2, 3, 10)), rng.uniform(0.1, 1, (2, 3, 10))
    >>> A = -rng.uniform(0.5, 1, (3, 4)); B, C = rng.normal(size=(2, 3, 4))
    >>> out = lxd.selective_scan(da.from_array(u, chunks=(1, 3, 4)),
    ...                          da.from_array(dt, chunks=(1, 3, 4)), A, B, C)
    >>> np.allclose(out.compute(), ops.selective_scan(u, dt, A, B, C))
    True
"""


def selective_scan_vjp(dout, u, delta, A, B, C, D=None, z=None, delta_bias=None,
                       delta_softplus=False, return_last_state=False, discretization="mamba",
                       deltaA=None, *, h0=None, dlast_state=None, method="rerun", impl="auto",
                       check_finite=True):
    arrays = dict(u=u, delta=delta, A=A, B=B, C=C, D=D, z=z, delta_bias=delta_bias,
                  deltaA=deltaA)
    kw = dict(delta_softplus=delta_softplus, return_last_state=return_last_state,
              discretization=discretization, impl=impl, check_finite=check_finite)
    return _grads(ops.SelectiveScanGrads, _drive.vjp(
        _adapters.SelectiveScan(), dout, arrays, h0, dlast_state, _no_rls(kw), method=method))


def _no_rls(kw):
    # return_last_state only shapes the forward's result; the VJP accepts it for symmetry.
    from .._dispatch import check_flag

    check_flag("return_last_state", kw.pop("return_last_state"))
    return kw


selective_scan_vjp.__doc__ = _doc("selective_scan_vjp")


def rglru_scan(u, delta, A, return_last_state=False, *, h0=None, method="rerun", impl="auto",
               check_finite=True):
    return _drive.forward(_adapters.RGLRUScan(), dict(u=u, delta=delta, A=A), h0,
                          dict(impl=impl, check_finite=check_finite),
                          return_last_state=return_last_state, method=method)


rglru_scan.__doc__ = _doc("rglru_scan", " Channel blocks run in parallel too.")


def rglru_scan_vjp(dout, u, delta, A, return_last_state=False, *, h0=None, dlast_state=None,
                   method="rerun", impl="auto", check_finite=True):
    kw = _no_rls(dict(return_last_state=return_last_state, impl=impl, check_finite=check_finite))
    return _grads(ops.RGLRUScanGrads, _drive.vjp(
        _adapters.RGLRUScan(), dout, dict(u=u, delta=delta, A=A), h0, dlast_state, kw,
        method=method))


rglru_scan_vjp.__doc__ = _doc("rglru_scan_vjp")


def s7_scan(u, A, B, C, bias=None, return_last_state=False, *, h0=None, method="rerun",
            impl="auto", check_finite=True):
    return _drive.forward(_adapters.S7Scan(), dict(u=u, A=A, B=B, C=C, bias=bias), h0,
                          dict(impl=impl, check_finite=check_finite),
                          return_last_state=return_last_state, method=method)


s7_scan.__doc__ = _doc("s7_scan")


def s7_scan_vjp(dout, u, A, B, C, bias=None, return_last_state=False, *, h0=None,
                dlast_state=None, method="rerun", impl="auto", check_finite=True):
    kw = _no_rls(dict(return_last_state=return_last_state, impl=impl, check_finite=check_finite))
    return _grads(ops.S7ScanGrads, _drive.vjp(
        _adapters.S7Scan(), dout, dict(u=u, A=A, B=B, C=C, bias=bias), h0, dlast_state, kw,
        method=method))


s7_scan_vjp.__doc__ = _doc("s7_scan_vjp")


def simplified_scan(u, delta, A, B, C, deltaA=None, return_last_state=False,
                    discretization="bilinear", *, h0=None, method="rerun", impl="auto",
                    check_finite=True):
    return _drive.forward(_adapters.SimplifiedScan(),
                          dict(u=u, delta=delta, A=A, B=B, C=C, deltaA=deltaA), h0,
                          dict(discretization=discretization, impl=impl,
                               check_finite=check_finite),
                          return_last_state=return_last_state, method=method)


simplified_scan.__doc__ = _doc("simplified_scan")


def simplified_scan_vjp(dout, u, delta, A, B, C, deltaA=None, return_last_state=False,
                        discretization="bilinear", *, h0=None, dlast_state=None,
                        method="rerun", impl="auto", check_finite=True):
    kw = _no_rls(dict(return_last_state=return_last_state, discretization=discretization,
                      impl=impl, check_finite=check_finite))
    return _grads(ops.SimplifiedScanGrads, _drive.vjp(
        _adapters.SimplifiedScan(), dout, dict(u=u, delta=delta, A=A, B=B, C=C, deltaA=deltaA),
        h0, dlast_state, kw, method=method))


simplified_scan_vjp.__doc__ = _doc("simplified_scan_vjp")


def s5_inner(u, delta, A, B, C, D, deltaA=None, discretization="bilinear", conj_sym=True, *,
             h0=None, method="rerun", impl="auto", check_finite=True):
    return _drive.forward(_adapters.S5Inner(),
                          dict(u=u, delta=delta, A=A, B=B, C=C, D=D, deltaA=deltaA), h0,
                          dict(discretization=discretization, conj_sym=conj_sym, impl=impl,
                               check_finite=check_finite),
                          return_last_state=False, method=method)


s5_inner.__doc__ = _doc("s5_inner")


def s5_inner_vjp(dout, u, delta, A, B, C, D, deltaA=None, discretization="bilinear",
                 conj_sym=True, *, h0=None, method="rerun", impl="auto", check_finite=True):
    return _grads(ops.S5InnerGrads, _drive.vjp(
        _adapters.S5Inner(), dout, dict(u=u, delta=delta, A=A, B=B, C=C, D=D, deltaA=deltaA),
        h0, None, dict(discretization=discretization, conj_sym=conj_sym, impl=impl,
                       check_finite=check_finite), method=method))


s5_inner_vjp.__doc__ = _doc("s5_inner_vjp")
