"""The numba selective scan against the float64 oracle: every discretization, real and complex
A, constant / variable / grouped B and C, D, z, delta_bias with softplus, deltaA, h0 and the
last state's cotangent; forward and VJP; odd sizes (L = 1, prime L)."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import cast, close_all, needs_numba

from lrnnx_array import testing
from lrnnx_array._ops.selective_scan._ref import selective_scan_ref, selective_scan_vjp_ref
from lrnnx_array.ops import selective_scan, selective_scan_vjp

pytestmark = needs_numba
# The same entries (and reasons) as tests/ops/test_selective_scan.py registers for the generic path.
testing.add_override("selective_scan_out", 2, "out and last state are sums over dstate of a "
                     "length-L recurrence: float32 rounding grows with N and L")
testing.add_override("selective_scan_grads", 4, "gradients add a reverse recurrence and reductions "
                     "over batch and time to the forward's rounding")
COMPLEX_OK = ("mamba", "zoh", "bilinear", "dirac")
NAMES = ("du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddelta_bias", "ddeltaA", "dh0")


def _case(method, dtype, bc, extras, Bsz=2, Dm=4, N=3, L=7, G=2, seed=0):
    rng = np.random.default_rng(seed)
    cplx = dtype.startswith("complex")
    real = "float32" if dtype in ("float32", "complex64") else "float64"

    def c(shape):
        x = rng.standard_normal(shape)
        return x + 1j * rng.standard_normal(shape) if cplx else x

    A = rng.uniform(0.5, 0.99, (Dm, N)) if method == "rglru" else -rng.uniform(0.5, 1, (Dm, N))
    if cplx:
        A = A + 1j * rng.uniform(-2, 2, (Dm, N))
    shapes = {"c": (Dm, N), "v3": (Bsz, N, L), "v4": (Bsz, G, N, L)}
    kw = dict(u=rng.standard_normal((Bsz, Dm, L)), delta=rng.uniform(0.05, 1, (Bsz, Dm, L)),
              A=A, B=c(shapes[bc[0]]), C=c(shapes[bc[1]]))
    if extras:
        kw.update(D=rng.standard_normal(Dm), z=rng.standard_normal((Bsz, Dm, L)),
                  delta_bias=0.3 * rng.standard_normal(Dm), delta_softplus=True,
                  deltaA=rng.uniform(0.05, 1, (Bsz, Dm, L)), h0=c((Bsz, Dm, N)))
    arrays = {k: (cast(v, real if k not in ("A", "B", "C", "h0") else dtype)
                  if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    dout = cast(rng.standard_normal((Bsz, Dm, L)), real)
    dlast = cast(c((Bsz, Dm, N)), dtype) if extras else None
    return arrays, dout, dlast


CASES = [(m, dt, bc, ex)
         for m in ("mamba", "zoh", "bilinear", "dirac", "s7", "rglru")
         for dt in (("float32", "float64", "complex64", "complex128") if m in COMPLEX_OK
                    else ("float32", "float64"))
         for bc, ex in ((("c", "c"), True), (("v3", "v3"), False), (("v4", "c"), True),
                        (("c", "v4"), False))]


@pytest.mark.parametrize("method,dtype,bc,extras", CASES)
def test_matches_oracle(method, dtype, bc, extras):
    kw, dout, dlast = _case(method, dtype, bc, extras)
    out, last = selective_scan(**kw, discretization=method, return_last_state=True,
                               impl="numba")
    r_out, r_last = selective_scan_ref(**kw, discretization=method, return_last_state=True)
    close_all(["out", "last"], [out, last], [r_out, r_last], dtype,
              override="selective_scan_out")
    g = selective_scan_vjp(dout, **kw, discretization=method, dlast_state=dlast, impl="numba")
    r = selective_scan_vjp_ref(dout, **kw, discretization=method, dlast_state=dlast)
    close_all(NAMES, g, r, dtype, override="selective_scan_grads", normwise=True)


@pytest.mark.parametrize("L", [1, 2, 67, 131])
@pytest.mark.parametrize("dtype", ["float32", "complex128"])
def test_odd_lengths_cross_checkpoints(L, dtype):
    # 67 and 131 are prime and cross the backward's checkpoint interval (64) once and twice.
    kw, dout, dlast = _case("zoh", dtype, ("v4", "v3"), True, Bsz=1, Dm=2, N=5, L=L, G=1)
    out, last = selective_scan(**kw, discretization="zoh", return_last_state=True, impl="numba")
    r_out, r_last = selective_scan_ref(**kw, discretization="zoh", return_last_state=True)
    close_all(["out", "last"], [out, last], [r_out, r_last], dtype,
              override="selective_scan_out")
    g = selective_scan_vjp(dout, **kw, discretization="zoh", dlast_state=dlast, impl="numba")
    r = selective_scan_vjp_ref(dout, **kw, discretization="zoh", dlast_state=dlast)
    close_all(NAMES, g, r, dtype, override="selective_scan_grads", normwise=True)


def test_tiny_steps_zoh_stays_accurate():
    # dt*A ~ 1e-9: the closed forms (e^x - 1)/x would lose every digit in float64.
    kw, dout, _ = _case("zoh", "complex128", ("c", "c"), False, L=5)
    kw["delta"] = np.full_like(kw["delta"], 1e-9)
    out = selective_scan(**kw, discretization="zoh", impl="numba")
    close_all(["out"], [out], [selective_scan_ref(**kw, discretization="zoh")], "complex128")
    g = selective_scan_vjp(dout, **kw, discretization="zoh", impl="numba")
    r = selective_scan_vjp_ref(dout, **kw, discretization="zoh")
    close_all(NAMES, g, r, "complex128", normwise=True)


@pytest.mark.parametrize("dims", [(0, 4, 3, 5), (2, 0, 3, 5), (2, 4, 0, 5)])
@pytest.mark.parametrize("bc", [("c", "c"), ("v3", "v3")])
@pytest.mark.parametrize("dtype", ["float32", "complex64"])
def test_zero_size_dimensions(dims, bc, dtype):
    # Batch 0 once divided by zero when sizing the backward's tasks.
    Bsz, Dm, N, L = dims
    kw, dout, dlast = _case("zoh", dtype, bc, True, Bsz=Bsz, Dm=Dm, N=N, L=L, G=1)
    out, last = selective_scan(**kw, discretization="zoh", return_last_state=True, impl="numba")
    assert out.shape == (Bsz, Dm, L) and last.shape == (Bsz, Dm, N)
    g = selective_scan_vjp(dout, **kw, discretization="zoh", dlast_state=dlast, impl="numba")
    r = selective_scan_vjp_ref(dout, **kw, discretization="zoh", dlast_state=dlast)
    close_all(NAMES, g, r, dtype)


def test_auto_routing():
    import array_api_compat.numpy as xp

    from lrnnx_array._ops.selective_scan._api import _NUMBA_REAL_MAX_ROWS, SPEC

    def _resolve(impl, xp, rt, st, rows, method):
        return SPEC.resolve(impl, xp, rt, state_dtype=st, rows=rows, method=method)

    f32, c64, many = np.float32, np.complex64, _NUMBA_REAL_MAX_ROWS
    assert _resolve("auto", xp, f32, c64, 4096, "zoh") == "numba"  # complex A: any size
    assert _resolve("auto", xp, f32, f32, many, "rglru") == "generic"  # real, many rows
    assert _resolve("auto", xp, f32, f32, many, "s7") == "generic"
    for method in ("mamba", "dirac", "zoh", "bilinear"):  # real, vectorised tiles: any size
        assert _resolve("auto", xp, f32, f32, 4096, method) == "numba"
    assert _resolve("auto", xp, f32, f32, many - 1, "s7") == "numba"  # few long rows
    assert _resolve("numba", xp, f32, f32, 4096, "bilinear") == "numba"
    assert _resolve("generic", xp, f32, c64, 1, "mamba") == "generic"
