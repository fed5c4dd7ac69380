"""The discretizations' declaration: the ``SPEC``, the method names and the shape rules.

The public functions (``zoh``, ..., ``discretize`` and their VJPs) are plain ``def``s in
:mod:`lrnnx_array.discretization`; the formulas are the numerics layer's (``_generic``) and the
float64 oracle's (``_ref``).
"""

from __future__ import annotations

from ... import _checks
from ..._dispatch import Arg, OpSpec
from .._shared.grouping import broadcast_shapes

__all__ = ["SPEC", "METHODS", "REAL_ONLY", "canonical", "problem"]

METHODS = ("zoh", "bilinear", "dirac", "mamba", "async", "no_discretization", "s7", "rglru")
REAL_ONLY = ("s7", "rglru")

SPEC = OpSpec(
    "discretize",
    __package__,
    (Arg("A", param=True), Arg("delta", "real", param=True),
     Arg("integration_timesteps", "real", required=False, param=True)),
    impls={"reference": "_ref", "generic": "_generic"},  # elementwise: no CUDA kernel
)
COTANGENTS = {"dout[0]": Arg("dout[0]", required=False), "dout[1]": Arg("dout[1]", required=False)}


def canonical(method) -> str:
    """The method's key in :data:`METHODS` (``"async_"`` is ``"async"``)."""
    m = "async" if method == "async_" else method
    if not isinstance(m, str) or m not in METHODS:
        raise ValueError(f"method must be one of {METHODS} (or 'async_'), got {method!r}")
    return m


def split_dout(dout):
    if not isinstance(dout, (tuple, list)) or len(dout) != 2:
        raise TypeError("dout must be the pair (dA_bar, dgamma_bar) (either may be None), "
                        f"got {type(dout).__name__}")
    return dout[0], dout[1]


def problem(xp, method, A, delta, tau, cots=(None, None)):
    """Shape rules (no values read): the output shape and compute dtype.

    ``integration_timesteps`` only takes part for ``async`` (ignored elsewhere, as in lrnnx's
    core: it need not even broadcast).
    """
    if method in REAL_ONLY and xp.isdtype(A.dtype, "complex floating"):
        raise TypeError(f"A must be real for method {method!r} (float32 or float64), "
                        f"got dtype {A.dtype}")
    if method == "async" and tau is None:
        raise ValueError("async_ needs integration_timesteps (the A time step is delta * tau)")
    used = [("A", A), ("delta", delta)] + ([("integration_timesteps", tau)]
                                           if method == "async" else [])
    try:
        shape = broadcast_shapes(*(tuple(x.shape) for _, x in used))
    except ValueError:
        desc = ", ".join(f"{k} with shape {tuple(x.shape)}" for k, x in used)
        raise ValueError(f"{desc} do not broadcast together") from None
    for name, g in zip(("dout[0]", "dout[1]"), cots):
        if g is not None:
            _checks.check_broadcastable(name, g, shape, "the output shape")
    dtype = _checks.result_dtype(xp, A, delta, tau if method == "async" else None)
    return shape, dtype


def check_domain(xp, method, A, delta):
    """rglru's domain (reads values: only under ``check_finite``)."""
    if method != "rglru":
        return
    if not bool(xp.all((A > 0) & (A <= 1))):
        raise ValueError("A must lie in (0, 1] for method 'rglru' (A_bar = A**delta)")
    if not bool(xp.all(delta >= 0)):
        raise ValueError("delta must be >= 0 for method 'rglru' (gamma_bar = sqrt(1 - A_bar^2))")
