"""Public discretizations (spec §2): ``(A, delta, integration_timesteps) -> (A_bar, gamma_bar)``.

One shared pipeline (validate, resolve ``xp``/``impl``, evaluate the formula table, broadcast)
serves every method; the per-method functions and their VJPs are generated from :data:`_DOCS`.
"""

from __future__ import annotations

import textwrap
from typing import NamedTuple

from ... import _checks
from ..._backend import device, namespace, resolve_impl
from . import _generic

__all__ = [
    "zoh", "bilinear", "dirac", "mamba", "async_", "no_discretization", "s7", "rglru",
    "zoh_vjp", "bilinear_vjp", "dirac_vjp", "mamba_vjp", "async_vjp",
    "no_discretization_vjp", "s7_vjp", "rglru_vjp",
    "discretize", "discretize_vjp", "DiscretizeGrads", "DISCRETIZE_FNS", "DISCRETIZE_VJPS",
    "METHODS",
]

METHODS = ("zoh", "bilinear", "dirac", "mamba", "async", "no_discretization", "s7", "rglru")
_REAL_ONLY = ("s7", "rglru")


class DiscretizeGrads(NamedTuple):
    dA: object
    ddelta: object
    dintegration_timesteps: object


def _canonical(method) -> str:
    m = "async" if method == "async_" else method
    if not isinstance(m, str) or m not in METHODS:
        raise ValueError(f"method must be one of {METHODS} (or 'async_'), got {method!r}")
    return m


def _broadcast_shapes(named):
    out: list[int] = []
    for _, s in named:
        s = tuple(s)
        n = max(len(out), len(s))
        a, b = [1] * (n - len(out)) + out, [1] * (n - len(s)) + list(s)
        if any(x != y and 1 not in (x, y) for x, y in zip(a, b)):
            desc = ", ".join(f"{k} with shape {tuple(v)}" for k, v in named)
            raise ValueError(f"{desc} do not broadcast together")
        out = [max(x, y) if 1 not in (x, y) else x * y for x, y in zip(a, b)]
    return tuple(out)


def _prepare(method, A, delta, tau, dout=None):
    """Validate; return xp, output shape and dtype, inputs as arrays, cotangents (or None)."""
    if A is None or delta is None:
        raise TypeError(f"A and delta must be arrays, got {type(A).__name__} and "
                        f"{type(delta).__name__}")
    if method == "async" and tau is None:
        raise ValueError("async_ needs integration_timesteps (the A time step is delta * tau)")
    dA_bar, dg_bar = (None, None) if dout is None else _split_dout(dout)
    names = ("A", "delta", "integration_timesteps", "dout[0]", "dout[1]")
    args = (A, delta, tau, dA_bar, dg_bar)
    xp = namespace(*args, names=names)  # Python numbers are rejected by name (project rule)
    for name, x in zip(names[:3], args[:3]):
        if x is None:
            continue
        if name == "A" and method in _REAL_ONLY and xp.isdtype(x.dtype, "complex floating"):
            raise TypeError(f"A must be real for method {method!r} (float32 or float64), "
                            f"got dtype {x.dtype}")
        _checks.check_array_dtype(xp, name, x, allow_complex=name == "A")
    dev = device(A)
    for name, x in (("A", A), ("delta", delta), ("integration_timesteps", tau)):
        _checks.check_finite(xp, name, x)
    used = [("A", A.shape), ("delta", delta.shape)]
    if method == "async":
        used.append(("integration_timesteps", tau.shape))
    shape = _broadcast_shapes(used)
    if method == "rglru":
        if not bool(xp.all((A > 0) & (A <= 1))):
            raise ValueError("A must lie in (0, 1] for method 'rglru' (A_bar = A**delta)")
        if not bool(xp.all(delta >= 0)):
            raise ValueError("delta must be >= 0 for method 'rglru' "
                             "(gamma_bar = sqrt(1 - A_bar^2))")
    dtype = _checks.result_dtype(xp, A, delta, tau if method == "async" else None)
    cots = None
    if dout is not None:
        cots = []
        for name, g in (("dout[0]", dA_bar), ("dout[1]", dg_bar)):
            if g is not None:
                _checks.check_array_dtype(xp, name, g)
                _checks.check_broadcastable(name, g, shape, "the output shape")
                want = dtype if not xp.isdtype(g.dtype, "complex floating") else \
                    _checks.complex_dtype_of(xp, dtype)
                g = g if g.dtype == want else xp.astype(g, want)
            cots.append(g)
    return xp, shape, dtype, dev, A, delta, tau, cots


def _split_dout(dout):
    if not isinstance(dout, (tuple, list)) or len(dout) != 2:
        raise TypeError("dout must be the pair (dA_bar, dgamma_bar) (either may be None), "
                        f"got {type(dout).__name__}")
    return dout[0], dout[1]


def _impl(impl, xp, method):
    return resolve_impl(impl, xp, cuda_supported=False,
                        what=f"discretize ({method!r}: elementwise, no CUDA kernel; the generic "
                             "array-API path runs on CuPy)")


def _cast(xp, x, dtype):
    return x if (x is None or x.dtype == dtype) else xp.astype(x, dtype)


def _forward(method, A, delta, tau, impl):
    xp, shape, dtype, dev, A, delta, tau, _ = _prepare(method, A, delta, tau)
    impl = _impl(impl, xp, method)
    if impl == "reference":
        from ._ref import discretize_ref

        return tuple(xp.asarray(v, dtype=dtype) for v in discretize_ref(method, A, delta, tau))
    rdt = _checks.real_dtype_of(xp, dtype)
    Ac, dt = _cast(xp, A, dtype), _cast(xp, delta, rdt)
    tc = _cast(xp, tau, rdt) if method == "async" else None
    outs = _generic.forward(xp, method, Ac, dt, tc)
    return tuple(_full(xp, v, shape, dtype, dev, (A, delta)) for v in outs)


def _full(xp, v, shape, dtype, dev, inputs):
    """``v`` as a fresh array of ``shape`` and ``dtype`` (never a view of an input)."""
    if isinstance(v, float):
        return xp.full(shape, v, dtype=dtype, device=dev)
    fresh = v.dtype != dtype
    v = _cast(xp, v, dtype)
    if tuple(v.shape) != shape:
        return xp.asarray(xp.broadcast_to(v, shape), copy=True)
    if not fresh and any(v is x for x in inputs):
        v = xp.asarray(v, copy=True)
    return v


def _backward(method, dout, A, delta, tau, impl):
    xp, shape, dtype, dev, A, delta, tau, cots = _prepare(method, A, delta, tau, dout)
    impl = _impl(impl, xp, method)
    rdt = _checks.real_dtype_of(xp, dtype)
    a_dt = dtype if xp.isdtype(A.dtype, "complex floating") else rdt
    like = ((A, a_dt), (delta, rdt), (tau, rdt))
    if impl == "reference":
        from ._ref import discretize_vjp_ref

        g = discretize_vjp_ref(tuple(cots), method, A, delta, tau)
        return DiscretizeGrads(*(None if gi is None else xp.asarray(gi, dtype=dt)
                                 for gi, (_, dt) in zip(g, like)))
    Ac, dt = _cast(xp, A, dtype), _cast(xp, delta, rdt)
    tc = _cast(xp, tau, rdt) if method == "async" else None
    full = _generic.vjp_full(xp, method, Ac, dt, tc, *cots)
    out = []
    for k, (g, (x, gdt)) in enumerate(zip(full, like)):
        if x is None:
            out.append(None)
        elif g is None or (k == 2 and method != "async"):  # zero, or tau ignored
            out.append(xp.zeros(x.shape, dtype=gdt, device=dev))
        else:
            out.append(_reduce_to(xp, g, shape, x.shape, gdt))
    return DiscretizeGrads(*out)


def _reduce_to(xp, g, shape, x_shape, gdt):
    """Sum a cotangent that broadcasts to ``shape`` down to ``x_shape``; real part if real."""
    if tuple(g.shape) != shape:
        g = xp.broadcast_to(g, shape)
    lead = len(shape) - len(x_shape)
    if lead:
        g = xp.sum(g, axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(x_shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = xp.sum(g, axis=axes, keepdims=True)
    if xp.isdtype(g.dtype, "complex floating") and not xp.isdtype(gdt, "complex floating"):
        g = xp.real(g)
    return xp.astype(g, gdt)  # always a fresh array (g may still be a broadcast view)


# ---- the public functions ----------------------------------------------------------------------

_DOCS = {
    "zoh": dict(
        title="Zero-order hold.",
        math=r"\bar A = e^{\Delta A},\quad \bar\gamma = \frac{e^{\Delta A}-1}{A}"
             r" = \Delta\,\frac{\operatorname{expm1}(\Delta A)}{\Delta A}",
        notes="gamma_bar is evaluated as delta * expm1(x)/x with x = delta*A (limit delta at "
              "x = 0; a cancellation-free complex expm1), so it is accurate for |x| down to "
              "1e-300. Agrees with ``scipy.signal.cont2discrete(method='zoh')``: B_bar = "
              "gamma_bar * B.",
        tau="ignored (as in lrnnx's core); its gradient is zero",
        example="zoh(np.array([-1.0]), np.array([0.5]))",
        result="(array([0.60653066]), array([0.39346934]))"),
    "bilinear": dict(
        title="Bilinear (Tustin) transform, the correct form used by every lrnnx kernel.",
        math=r"\bar A = \frac{1 + \Delta A/2}{1 - \Delta A/2},\quad"
             r" \bar\gamma = \frac{\Delta}{1 - \Delta A/2}",
        notes="lrnnx's ``core.discretization.bilinear`` returns the inverted pair (spec §9.1), "
              "which is unstable for Re A < 0; this is the form its CUDA kernels use. Agrees "
              "with ``scipy.signal.cont2discrete(method='bilinear')``, whose input matrix is "
              "B_d = (1 - delta A/2)^-1 delta B = gamma_bar * B.",
        tau="ignored (as in lrnnx's core); its gradient is zero",
        example="bilinear(np.array([-1.0]), np.array([0.5]))",
        result="(array([0.6]), array([0.4]))"),
    "dirac": dict(
        title="Dirac input: exact decay, impulses added unscaled.",
        math=r"\bar A = e^{\Delta A},\quad \bar\gamma = 1",
        notes="lrnnx's core returns the Python float 1.0 as gamma_bar; here it is an array of "
              "ones with the output shape and dtype.",
        tau="ignored (as in lrnnx's core); its gradient is zero",
        example="dirac(np.array([-1.0]), np.array([0.5]))",
        result="(array([0.60653066]), array([1.]))"),
    "mamba": dict(
        title="Mamba's discretization: exact decay, Euler step on the input.",
        math=r"\bar A = e^{\Delta A},\quad \bar\gamma = \Delta",
        notes="Not in lrnnx's ``core.discretization`` (only its selective scan has it).",
        tau="ignored; its gradient is zero",
        example="mamba(np.array([-1.0]), np.array([0.5]))",
        result="(array([0.60653066]), array([0.5]))"),
    "async": dict(
        title="Asynchronous / event-based discretization (Event-SSM, STREAM).",
        math=r"\bar A = e^{\Delta\,\tau\,A},\quad \bar\gamma = \frac{e^{\Delta A}-1}{A}",
        notes="Only the A path uses the event time step delta*tau; the input path is zoh's with "
              "delta, as in every lrnnx scan and in lrnnx's docstring. lrnnx's core code "
              "computes gamma_bar = (A_bar - 1)/A, which includes tau (spec §9.2). "
              "``integration_timesteps`` is required.",
        tau="required; multiplies the A time step",
        example="async_(np.array([-1.0]), np.array([0.5]), np.array([2.0]))",
        result="(array([0.36787944]), array([0.39346934]))"),
    "no_discretization": dict(
        title="No discretization: A is already discrete.",
        math=r"\bar A = A,\quad \bar\gamma = 1",
        notes="lrnnx's core returns (A, 1.0); here both are arrays of the output shape "
              "(broadcast against delta) and dtype. delta gets a zero gradient.",
        tau="ignored (as in lrnnx's core); its gradient is zero",
        example="no_discretization(np.array([0.9]), np.array([0.5]))",
        result="(array([0.9]), array([1.]))"),
    "s7": dict(
        title="S7's input-dependent transition; the time-varying a_t comes in the delta slot.",
        math=r"\bar A = 1 - \frac{1}{a_t^2 + 1/2},\quad \bar\gamma = 1",
        notes="``A`` only contributes its shape and dtype (lrnnx's kernel has no dA either) and "
              "must be real. Output shape is broadcast(A, delta).",
        tau="ignored; its gradient is zero",
        example="s7(np.zeros(1), np.array([1.5]))",
        result="(array([0.63636364]), array([1.]))"),
    "rglru": dict(
        title="RG-LRU gate: A in (0, 1] raised to delta = c*r_t; normalised input.",
        math=r"\bar A = A^{\Delta} = e^{\Delta\log A},\quad \bar\gamma = \sqrt{1-\bar A^2}",
        notes="The input term is gamma_bar * u (no B). 1 - A_bar^2 is computed as "
              "-expm1(2 delta log A), accurate when A_bar is close to 1. A must be real, in "
              "(0, 1], and delta >= 0. Where gamma_bar = 0 its infinite derivative is set to 0, "
              "as in lrnnx's kernel.",
        tau="ignored; its gradient is zero",
        example="rglru(np.array([0.25]), np.array([0.5]))",
        result="(array([0.5]), array([0.8660254]))"),
}

_FWD_DOC = """{title}

Parameters
----------
A : array, shape broadcastable with ``delta``
    Diagonal continuous-time state matrix, e.g. (N,) or (D, N); {a_kinds}.
delta : array
    Time step (real), broadcast against ``A``: per state (N,), per channel (D, 1), or per
    (batch, time) with the caller's axes, e.g. (B, D, L, 1) against A of shape (D, 1, N).
integration_timesteps : array, optional
    Event time step tau (real): {tau}.
impl : {{"auto", "generic", "reference"}}
    There is no CUDA kernel (elementwise maths): ``"auto"`` is the array-API path, which runs
    on CuPy too; ``"cuda"`` raises.

Returns
-------
A_bar, gamma_bar : arrays, shape broadcast(A, delta{tau_shape})
    Discrete state matrix and the input normaliser (B_bar = gamma_bar * B), both of the promoted
    input dtype (complex when ``A`` is complex).

Notes
-----
.. math:: {math}

{notes}

Examples
--------
>>> import numpy as np
>>> from lrnnx_array.discretization import {name}
>>> {example}
{result}
"""

_VJP_DOC = """Vector-Jacobian product of :func:`{name}`.

Parameters
----------
dout : pair (dA_bar, dgamma_bar)
    Cotangents of the two outputs; either may be None (zero).
A, delta, integration_timesteps, impl
    As for :func:`{name}`.

Returns
-------
DiscretizeGrads
    ``(dA, ddelta, dintegration_timesteps)`` with the inputs' shapes (broadcast axes summed);
    None for an omitted ``integration_timesteps``. PyTorch's complex convention: real inputs get
    the real part.
"""


def _make(method):
    def fn(A, delta, integration_timesteps=None, *, impl="auto"):
        return _forward(method, A, delta, integration_timesteps, impl)

    def fn_vjp(dout, A, delta, integration_timesteps=None, *, impl="auto"):
        return DiscretizeGrads(*_backward(method, dout, A, delta, integration_timesteps, impl))

    name = "async_" if method == "async" else method
    d = _DOCS[method]
    fn.__doc__ = _FWD_DOC.format(
        name=name, a_kinds="real only" if method in _REAL_ONLY else "real or complex",
        tau_shape=", integration_timesteps" if method == "async" else "",
        **{**d, "notes": textwrap.fill(d["notes"], 96)})
    fn_vjp.__doc__ = _VJP_DOC.format(name=name)
    fn.__name__ = fn.__qualname__ = name
    fn_vjp.__name__ = fn_vjp.__qualname__ = f"{method}_vjp"  # async -> async_vjp
    fn.__module__ = fn_vjp.__module__ = "lrnnx_array.discretization"
    return fn, fn_vjp


zoh, zoh_vjp = _make("zoh")
bilinear, bilinear_vjp = _make("bilinear")
dirac, dirac_vjp = _make("dirac")
mamba, mamba_vjp = _make("mamba")
async_, async_vjp = _make("async")
no_discretization, no_discretization_vjp = _make("no_discretization")
s7, s7_vjp = _make("s7")
rglru, rglru_vjp = _make("rglru")

DISCRETIZE_FNS = {"zoh": zoh, "bilinear": bilinear, "dirac": dirac, "async": async_,
                  "no_discretization": no_discretization, "mamba": mamba, "s7": s7, "rglru": rglru}
DISCRETIZE_VJPS = {"zoh": zoh_vjp, "bilinear": bilinear_vjp, "dirac": dirac_vjp,
                   "async": async_vjp, "no_discretization": no_discretization_vjp,
                   "mamba": mamba_vjp, "s7": s7_vjp, "rglru": rglru_vjp}


def discretize(A, delta, method, integration_timesteps=None, *, impl="auto"):
    """Discretize with the named method: ``DISCRETIZE_FNS[method](A, delta, ...)``.

    Parameters
    ----------
    A, delta, integration_timesteps, impl
        As for :func:`zoh`.
    method : str
        One of ``METHODS`` (``"zoh", "bilinear", "dirac", "mamba", "async",
        "no_discretization", "s7", "rglru"``); ``"async_"`` is accepted for ``"async"``.

    Returns
    -------
    A_bar, gamma_bar : arrays
        See the per-method functions for the formulas (spec §2).

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.ops import discretize
    >>> discretize(np.array([-1.0]), np.array([0.5]), "bilinear")
    (array([0.6]), array([0.4]))
    """
    return _forward(_canonical(method), A, delta, integration_timesteps, impl)


def discretize_vjp(dout, A, delta, method, integration_timesteps=None, *, impl="auto"):
    r"""Vector-Jacobian product of :func:`discretize`; returns ``DiscretizeGrads``.

    Parameters
    ----------
    dout : pair (dA_bar, dgamma_bar)
        Cotangents of the two outputs ``A_bar`` and ``gamma_bar``, each an array broadcastable
        to the output shape broadcast(A, delta) (real or complex); either may be None (zero).
    A, delta, method, integration_timesteps, impl
        As for :func:`discretize`.

    Returns
    -------
    DiscretizeGrads
        ``(dA, ddelta, dintegration_timesteps)`` with the shapes of ``A``, ``delta`` and
        ``integration_timesteps`` (broadcast axes summed); ``dintegration_timesteps`` is None
        when it was omitted and zero for methods that ignore it. PyTorch's complex convention:
        real inputs get the real part. See :func:`zoh_vjp` and the other per-method VJPs.

    Examples
    --------
    For zoh, :math:`\bar A = e^{\Delta A}`, so with ``dout = (ones, None)`` the gradients are
    :math:`\Delta e^{\Delta A}` and :math:`\sum_n A e^{\Delta A}` (summed over the axis
    ``delta`` broadcasts along):

    >>> import numpy as np
    >>> from lrnnx_array.ops import discretize_vjp
    >>> rng = np.random.default_rng(0)
    >>> A, dt = -rng.uniform(0.5, 2, (2, 3)), rng.uniform(0.1, 1, (2, 1))
    >>> g = discretize_vjp((np.ones((2, 3)), None), A, dt, "zoh")
    >>> g.dA.shape, g.ddelta.shape, g.dintegration_timesteps is None
    ((2, 3), (2, 1), True)
    >>> np.allclose(g.dA, dt * np.exp(dt * A))
    True
    >>> np.allclose(g.ddelta, np.sum(A * np.exp(dt * A), axis=1, keepdims=True))
    True
    """
    return DiscretizeGrads(*_backward(_canonical(method), dout, A, delta,
                                      integration_timesteps, impl))
