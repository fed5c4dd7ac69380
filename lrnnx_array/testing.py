"""Test kit: one tolerance table, ``assert_close`` and ``check_vjp``.

``assert_close`` checks namespace, dtype, shape and device before values, so a silent NumPy
fallback on a CuPy row fails. ``check_vjp`` checks a hand-written VJP against central finite
differences along random directions (as JAX's ``check_vjp``), in float64/complex128.

Complex convention (PyTorch's): for a real loss l, the gradient stored for a complex z is
dl/dRe(z) + i dl/dIm(z). With the loss l = Re sum(conj(g) * y) the cotangent of y is g, and a
directional derivative along v is Re sum(conj(grad) * v).
"""

from __future__ import annotations

import numpy as np

from . import _backend
from ._backend import device as _device

# (rtol, atol) by dtype name. float32 rows are ~10x tighter than lrnnx's loosest (spec §5:
# out/state (6e-4, 2e-3)); an op that needs more says why in its own override.
TOLERANCES = {
    "float32": (2e-4, 2e-5),
    "complex64": (2e-4, 2e-5),
    "float64": (1e-9, 1e-11),
    "complex128": (1e-9, 1e-11),
}


def _dtype_name(dtype) -> str:
    """'float32' etc. from a NumPy dtype or scalar type, a name, or another library's dtype."""
    if isinstance(dtype, np.dtype):
        return dtype.name
    if isinstance(dtype, type) and issubclass(dtype, np.generic):
        return np.dtype(dtype).name
    # torch.float32, array_api_strict float32, 'complex64': the last dotted part is the name
    return np.dtype(str(dtype).split(".")[-1]).name


# Named widenings of the table, each with its reason. A test that needs more than the table says
# which entry it uses (``tolerance(dtype, "name")`` / ``assert_close(..., override="name")``);
# nothing else widens a tolerance. Values multiply both rtol and atol.
OVERRIDES: dict[str, tuple[float, str]] = {}


def add_override(name: str, factor: float, why: str) -> None:
    """Register a named widening (families register theirs next to the tests that use them)."""
    if not why:
        raise ValueError("an override needs a reason")
    old = OVERRIDES.get(name)
    if old is not None and old[0] != factor:
        raise ValueError(f"override {name!r} already registered with factor {old[0]}")
    OVERRIDES[name] = (float(factor), why)


def tolerance(dtype, scale: float | str = 1.0) -> tuple[float, float]:
    """(rtol, atol) for ``dtype`` from the table, times ``scale`` or the named override's factor."""
    if isinstance(scale, str):
        if scale not in OVERRIDES:
            raise KeyError(f"unknown tolerance override {scale!r}; known: {sorted(OVERRIDES)}")
        scale = OVERRIDES[scale][0]
    rtol, atol = TOLERANCES[_dtype_name(dtype)]
    return rtol * scale, atol * scale


def to_numpy(x):
    """Host copy of any array (NumPy, CuPy, array_api_strict, torch); for comparisons only."""
    if x is None:
        return None
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return x.get()
    if type(x).__module__.startswith("torch"):
        # lazy conjugate/negative bits: numpy() refuses them, resolve_* materialise the values
        return x.detach().cpu().resolve_conj().resolve_neg().numpy()
    if type(x).__module__.startswith("array_api_strict"):
        # array_api_strict refuses implicit conversion on purpose; go through DLPack/buffer.
        return np.asarray(x._array)
    return np.asarray(x)


def _namespace_name(x) -> str:
    mod = type(x).__module__.split(".")[0]
    return {
        "numpy": "numpy",
        "cupy": "cupy",
        "array_api_strict": "array_api_strict",
        "torch": "torch",
    }.get(mod, mod)


def assert_close(
    actual,
    desired,
    *,
    rtol=None,
    atol=None,
    scale: float | str = 1.0,
    override: str | None = None,
    err_msg: str = "",
    check_dtype: bool = True,
    check_namespace: bool = True,
    normwise: bool = False,
):
    """Assert ``actual`` matches ``desired`` after matching namespace, dtype, shape and device.

    Put a NumPy oracle on the backend under test first (``from_numpy(xp, want, dtype)``): the
    namespace and device checks are what make a silent NumPy fallback on a CuPy row fail. Pass
    ``check_namespace=False`` / ``check_dtype=False`` only to compare across libraries/precisions.
    Default tolerances come from :data:`TOLERANCES` for ``actual``'s dtype, times ``scale`` or the
    factor of the named entry ``override`` of :data:`OVERRIDES`; the
    error message reports the count of mismatches and the max abs error.

    ``normwise=True`` bounds every element by ``atol + rtol * max|desired|`` instead of
    ``atol + rtol * |desired|``: for results whose small entries are cancellations of large
    terms (gradients reduced over many steps), where only a normwise bound is meaningful.
    """
    __tracebackhide__ = True
    prefix = f"{err_msg}: " if err_msg else ""
    if actual is None or desired is None:
        assert actual is None and desired is None, (
            f"{prefix}one side is None ({actual!r} vs {desired!r})"
        )
        return
    if check_namespace:
        na, nd = _namespace_name(actual), _namespace_name(desired)
        assert na == nd, f"{prefix}namespace mismatch: got {na}, expected {nd}"
        da, dd = _device(actual), _device(desired)
        assert str(da) == str(dd), f"{prefix}device mismatch: got {da}, expected {dd}"
    if check_dtype:
        assert str(actual.dtype) == str(desired.dtype), (
            f"{prefix}dtype mismatch: got {actual.dtype}, expected {desired.dtype}"
        )
    assert tuple(actual.shape) == tuple(desired.shape), (
        f"{prefix}shape mismatch: got {tuple(actual.shape)}, expected {tuple(desired.shape)}"
    )
    r, a = tolerance(actual.dtype, override if override is not None else scale)
    rtol = r if rtol is None else rtol
    atol = a if atol is None else atol
    x, y = to_numpy(actual), to_numpy(desired)
    if x.size == 0:
        return
    err = np.abs(x.astype(np.complex128) - y.astype(np.complex128))
    mag = np.abs(y.astype(np.complex128))
    bound = atol + rtol * (np.nanmax(mag) if normwise else mag)
    bad = ~(err <= bound)
    if bad.any():
        idx = np.unravel_index(np.argmax(np.where(bad, err - bound, -np.inf)), err.shape)
        raise AssertionError(
            f"{prefix}{int(bad.sum())} of {err.size} elements differ; max abs error "
            f"{float(np.nanmax(err)):.3e}, worst at {tuple(int(i) for i in idx)}: got {x[idx]!r}, "
            f"expected {y[idx]!r} (rtol={rtol:g}, atol={atol:g}"
            f"{', normwise' if normwise else ''})"
        )


def _inner(g, y) -> float:
    """Re sum(conj(g) * y) in float64."""
    return float(np.real(np.vdot(np.asarray(g).ravel(), np.asarray(y).ravel())))


def _primal_names(f, n: int) -> list[str]:
    """Names of ``f``'s first ``n`` positional parameters (``primal i`` where unnamed)."""
    import inspect

    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for p in params:
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            break
        names.append(p.name)
    return [names[i] if i < len(names) else f"primal {i}" for i in range(n)]


def _is_differentiable(p) -> bool:
    return p is not None and np.issubdtype(p.dtype, np.inexact)


def check_vjp(
    f,
    f_vjp,
    primals,
    *,
    nondiff=(),
    names=None,
    wrt=None,
    eps: float = 1e-6,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    n_dirs: int = 2,
    seed: int = 0,
    cotangents=None,
):
    """Check a VJP against central finite differences along random directions.

    Every floating primal that is not ``None`` must get a gradient: a VJP that returns ``None``
    for it fails, unless the caller lists it in ``nondiff`` (so a VJP that silently stops
    returning a gradient cannot pass).

    Parameters
    ----------
    f : callable
        ``f(*primals)`` returning an array or a tuple of arrays (``None`` entries allowed).
        NumPy float64/complex128 in and out.
    f_vjp : callable
        ``f_vjp(cotangents, *primals)`` returning a sequence of gradients aligned with
        ``primals``. ``cotangents`` matches ``f``'s outputs.
    primals : sequence of arrays
    nondiff : sequence of str or int, optional
        Primals (by name or index) that are not differentiable: their gradient must be ``None``
        and is not checked. Integer and bool primals are never differentiable.
    names : sequence of str, optional
        The primals' names for messages (default: ``f``'s positional parameter names).
    wrt : sequence of int or str, optional
        The primals whose gradients are checked by finite differences (default: every
        differentiable primal).
    """
    rng = np.random.default_rng(seed)
    primals = [None if p is None else np.asarray(p) for p in primals]
    n = len(primals)
    names = list(names) if names is not None else _primal_names(f, n)
    what = getattr(f, "__name__", "f")
    what = "f" if what == "<lambda>" else what

    def index(key):
        if isinstance(key, str):
            if key not in names:
                raise ValueError(f"check_vjp: {key!r} is not a primal name; names are {names}")
            return names.index(key)
        return int(key)

    def label(i):
        return f"VJP of {what} w.r.t. {names[i]} (primal {i})"

    skip = {index(k) for k in nondiff}

    def as_tuple(out):
        return out if isinstance(out, tuple) else (out,)

    out0 = f(*primals)
    outs = as_tuple(out0)
    if cotangents is None:
        cotangents = tuple(None if o is None else _randn_like(rng, o) for o in outs)
    cot_arg = cotangents if isinstance(out0, tuple) else cotangents[0]
    grads = list(f_vjp(cot_arg, *primals))
    assert len(grads) >= n, f"VJP of {what} returned {len(grads)} gradients for {n} primals"
    diff = [i for i in range(n) if _is_differentiable(primals[i]) and i not in skip]
    for i in diff:
        assert grads[i] is not None, (
            f"{label(i)}: the VJP returned None for a differentiable primal (list it in "
            "nondiff= if it has no gradient)"
        )
    for i in skip:
        assert grads[i] is None, f"{label(i)}: listed in nondiff but the VJP returned a gradient"
    idx = [index(k) for k in wrt] if wrt is not None else diff
    for i in idx:
        p, g = primals[i], grads[i]
        assert g is not None, f"{label(i)}: no gradient"
        g = np.asarray(g)
        assert g.shape == p.shape, f"{label(i)}: gradient has shape {g.shape}, primal {p.shape}"
        if not np.iscomplexobj(p):
            assert not np.iscomplexobj(g), f"{label(i)}: gradient is complex for a real primal"
    # One primal at a time, so a failure names the gradient that is wrong.
    for i in idx:
        for _ in range(n_dirs):
            v = _randn_like(rng, primals[i])

            def loss(t, i=i, v=v):
                ps = list(primals)
                ps[i] = primals[i] + t * v
                return sum(
                    _inner(c, o) for c, o in zip(cotangents, as_tuple(f(*ps))) if o is not None
                )

            numeric = (loss(eps) - loss(-eps)) / (2 * eps)
            analytic = _inner(grads[i], v)
            tol = atol + rtol * max(abs(numeric), abs(analytic))
            assert abs(numeric - analytic) <= tol, (
                f"{label(i)}: finite differences {numeric:.12e}, "
                f"VJP {analytic:.12e}, diff {abs(numeric - analytic):.3e} > tol {tol:.3e}"
            )


def _randn_like(rng, x):
    x = np.asarray(x)
    if np.iscomplexobj(x):
        return (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)).astype(x.dtype)
    return rng.standard_normal(x.shape).astype(x.dtype)


# ---------------------------------------------------------------------------------------------
# Backends: the registry lives in `_backend` (the CLI uses it too); re-exported here for the tests,
# whose `available_backends` also honours $LRNNX_TEST_BACKENDS.

ALL_BACKENDS = _backend.ALL_BACKENDS
BRIDGE_BACKENDS = _backend.BRIDGE_BACKENDS
backend_namespace = _backend.backend_namespace
impls_for = _backend.impls_for


def available_backends(requested=None) -> list[str]:
    """Usable backends of ``requested``, default $LRNNX_TEST_BACKENDS (comma list) or all,
    the bridge backends (torch, when importable) included."""
    import os

    if requested is None:
        env = os.environ.get("LRNNX_TEST_BACKENDS", "")
        requested = [s.strip() for s in env.split(",") if s.strip()] or [
            *ALL_BACKENDS, *BRIDGE_BACKENDS]
    return _backend.available_backends(requested)


def from_numpy(xp, x, dtype=None):
    """Put a NumPy array on backend ``xp`` (optionally cast to the dtype named like 'float32').

    For torch the result is a tensor of its own (a copy), never a view of ``x``.
    """
    if x is None:
        return None
    x = np.asarray(x)
    if dtype is not None:
        x = x.astype(
            np.dtype(str(dtype).split(".")[-1]) if not isinstance(dtype, np.dtype) else dtype
        )
    if _backend.is_torch(xp):
        import torch

        return torch.from_numpy(np.array(x, copy=True))
    return xp.asarray(x)


def xp_dtype(xp, name: str):
    """``xp.float32`` etc. from a dtype name."""
    return getattr(xp, str(name).split(".")[-1])
