"""discretize: SciPy / closed-form oracles for the reference, finite differences for its VJP,
every impl vs ref, small-step accuracy, properties, bad input."""

import doctest
import math

import numpy as np
import pytest
import scipy.signal

from lrnnx_array import discretization as D
from lrnnx_array import testing
from lrnnx_array._ops._shared import numerics
from lrnnx_array._ops.discretization._ref import discretize_ref, discretize_vjp_ref

METHODS = D.METHODS
FNS = {m: getattr(D, "async_" if m == "async" else m) for m in METHODS}
VJPS = {m: getattr(D, f"{m}_vjp") for m in METHODS}
testing.add_override("discretization_closed_form", 1e-3,
                     "two float64 evaluations of one closed form differ by rounding only "
                     "(~1e-15); (1e-12, 1e-14) still catches a lost digit")
testing.add_override("discretization_same_formula", 3e-6,
                     "the same float64 formula reached two ways (series switch, tau = 1): a few "
                     "ulp")
testing.add_override("discretization_float32_exp", 4,
                     "float32 exp/expm1 of moderate arguments: a few ulp on top of the table")
testing.add_override("discretization_float32_exp_vjp", 32,
                     "float32 VJPs: sums of products of a few exp/expm1 terms, each a few ulp")
COMPLEX_OK = [m for m in METHODS if m not in ("s7", "rglru")]
# (A shape, delta shape, tau shape): per state, per channel, per (batch, time) with A (D, 1, N).
GRIDS = [((5,), (5,), (5,)), ((3, 4), (3, 1), (1, 1)), ((3, 1, 4), (2, 3, 5, 1), (2, 1, 5, 1)),
         ((4,), (), ())]


def _data(rng, method, a_shape, d_shape, t_shape, cplx):
    """Parameters in each method's natural range (A stable, delta > 0, rglru A in (0, 1))."""
    if method == "rglru":
        A = rng.uniform(0.05, 0.999, a_shape)
    elif method == "s7":
        A = rng.standard_normal(a_shape)
    else:
        A = -rng.uniform(0.1, 3.0, a_shape)
        if cplx:
            A = A + 1j * rng.uniform(-4, 4, a_shape)
    delta = rng.standard_normal(d_shape) if method == "s7" else rng.uniform(0.01, 1.0, d_shape)
    tau = rng.uniform(0.1, 2.0, t_shape) if method == "async" else None
    return A, delta, tau


# ---- tier 1: the reference against SciPy and closed forms ------------------------------------


@pytest.mark.parametrize("method", ["zoh", "bilinear", "gbt"])
@pytest.mark.parametrize("dt", [1e-3, 0.3, 2.0])
def test_zoh_bilinear_match_cont2discrete(rng, method, dt):
    # A diagonal system with B = 1 per state: SciPy's B_d is exactly gamma_bar. 'gbt' with
    # alpha = 1/2 is the same bilinear map: B_d = (I - dt A/2)^-1 dt B.
    lam = np.concatenate([-rng.uniform(0.1, 5, 3),
                          -rng.uniform(0.1, 5, 3) + 1j * rng.uniform(-9, 9, 3), [0.0, 0.7]])
    sys = (np.diag(lam), np.ones((lam.size, 1)), np.ones((1, lam.size)), np.zeros((1, 1)))
    Ad, Bd = scipy.signal.cont2discrete(sys, dt, method=method, alpha=0.5)[:2]
    name = "zoh" if method == "zoh" else "bilinear"
    for impl in ("reference", "generic"):
        Abar, gbar = D.discretize(lam, np.full(lam.shape, dt), name, impl=impl)
        testing.assert_close(Abar, np.diag(Ad).astype(Abar.dtype),
                             override="discretization_closed_form")
        testing.assert_close(gbar, Bd[:, 0].astype(gbar.dtype),
                             override="discretization_closed_form")


def _series(x, coef):
    return sum(c * x**k for k, c in enumerate(coef))


@pytest.mark.parametrize("impl", ["reference", "generic"])
@pytest.mark.parametrize("mag", [1e-8, 1e-6, 1e-4, 1e-3])
def test_small_steps_are_accurate(impl, mag):
    # x = dt*A on a circle of radius mag (all phases, real included). Closed-form series:
    # (e^x-1)/x = 1 + x/2 + x^2/6 + ..., d/dx = 1/2 + x/3 + x^2/8 + x^3/30.
    x = mag * np.exp(1j * np.linspace(-np.pi, np.pi, 17))
    x = np.concatenate([x, [mag, -mag]])
    dt = 0.25
    A = x / dt
    rtol = testing.tolerance("float64", "discretization_closed_form")[0]
    phi = _series(x, [1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720])
    dphi = _series(x, [1 / 2, 1 / 3, 1 / 8, 1 / 30, 1 / 144])
    for cplx in (True, False):
        a = A if cplx else A[-2:].real
        want_g, want_d = (phi, dphi) if cplx else (phi[-2:].real, dphi[-2:].real)
        Abar, gbar = D.zoh(a, np.full(a.shape, dt), impl=impl)
        assert np.max(np.abs(gbar / dt - want_g) / np.abs(want_g)) <= rtol
        assert np.max(np.abs(Abar - (1 + x[-a.size:] if cplx else 1 + a * dt))) <= 2 * mag**2
        dA = D.zoh_vjp((None, np.ones(a.shape)), a, np.full(a.shape, dt), impl=impl).dA
        assert np.max(np.abs(np.conj(dA) / dt**2 - want_d) / np.abs(want_d)) <= rtol


@pytest.mark.parametrize("impl", ["reference", "generic"])
def test_rglru_gamma_accurate_near_one(impl):
    eps = np.array([1e-14, 1e-10, 1e-6, 1e-2])
    A, dt = 1 - eps, np.full(4, 0.7)
    _, gbar = D.rglru(A, dt, impl=impl)
    # a - 1 is exact for a near 1 (Sterbenz), so log1p(a - 1) is log(a) to an ulp.
    want = [math.sqrt(-math.expm1(2 * 0.7 * math.log1p(a - 1.0))) for a in A]
    testing.assert_close(gbar, np.array(want), override="discretization_closed_form")


def test_series_switch_is_continuous():
    # Both phi-function forms agree across |x| = 1/2, where each implementation switches.
    r = np.linspace(0.3, 0.8, 41)
    x = (r[:, None] * np.exp(1j * np.linspace(-np.pi, np.pi, 13))[None]).ravel()
    g_ref = discretize_vjp_ref((None, np.ones(x.shape)), "zoh", x, np.ones(x.shape))[0]
    g_gen = D.zoh_vjp((None, np.ones(x.shape)), x, np.ones(x.shape), impl="generic").dA
    testing.assert_close(g_gen, g_ref, override="discretization_same_formula")
    testing.assert_close(D.zoh(x, np.ones(x.shape))[1], discretize_ref("zoh", x, 1.0)[1],
                         override="discretization_same_formula")


@pytest.mark.parametrize("method", METHODS)
def test_ref_closed_forms(rng, method):
    A, dt, tau = _data(rng, method, (6,), (6,), (6,), method in COMPLEX_OK)
    Abar, gbar = discretize_ref(method, A, dt, tau)
    E = np.exp(dt * A)
    tau = np.ones(6) if tau is None else tau
    want = {
        "zoh": lambda: (E, (E - 1) / A),
        "bilinear": lambda: ((2 + dt * A) / (2 - dt * A), 2 * dt / (2 - dt * A)),
        "dirac": lambda: (E, np.ones(6)),
        "mamba": lambda: (E, dt),
        # the input path uses delta only (spec §9.2)
        "async": lambda: (np.exp(dt * tau * A), (E - 1) / A),
        "no_discretization": lambda: (A, np.ones(6)),
        "s7": lambda: ((dt**2 - 0.5) / (dt**2 + 0.5), np.ones(6)),
        "rglru": lambda: (A**dt, np.sqrt(1 - A ** (2 * dt))),
    }[method]()
    for got, w in zip((Abar, gbar), want):
        testing.assert_close(got, np.asarray(w, got.dtype), override="discretization_closed_form")


def test_bilinear_is_stable_and_not_lrnnx_core_inverted(rng):
    A = -rng.uniform(0.01, 50, 20) + 1j * rng.uniform(-50, 50, 20)
    Abar, _ = D.bilinear(A, np.full(20, 0.7))
    assert np.all(np.abs(Abar) < 1)
    inverted = (1 - 0.35 * A) / (1 + 0.35 * A)
    assert np.all(np.abs(inverted) > 1)


def test_docstring_examples_run():
    for fn in [*FNS.values(), *VJPS.values(), D.discretize, D.discretize_vjp]:
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        for t in doctest.DocTestFinder().find(fn, fn.__name__, globs={}):
            runner.run(t)
        assert runner.failures == 0 and runner.tries > 0, fn.__name__


# ---- tier 2: the reference VJP against finite differences ------------------------------------


@pytest.mark.parametrize("method,cplx", [(m, False) for m in METHODS] +
                         [(m, True) for m in COMPLEX_OK])
@pytest.mark.parametrize("grid", [0, 2], ids=["per_state", "per_batch_time"])
def test_ref_vjp_finite_differences(rng, method, cplx, grid):
    a_s, d_s, t_s = GRIDS[grid]
    A, dt, tau = _data(rng, method, a_s, d_s, t_s, cplx)
    if tau is None:
        tau = rng.uniform(0.1, 2.0, t_s)  # ignored by all but async: its gradient must be 0

    def f(A, dt, tau):
        return discretize_ref(method, A, dt, tau)

    def f_vjp(cot, A, dt, tau):
        return discretize_vjp_ref(cot, method, A, dt, tau)

    # Small steps keep rglru/s7 inside their domains.
    testing.check_vjp(f, f_vjp, (A, dt, tau), eps=1e-7)


def test_ref_vjp_one_cotangent_none(rng):
    A, dt, _ = _data(rng, "zoh", (4,), (4,), (4,), True)
    g = rng.standard_normal(4)
    both = discretize_vjp_ref((g, np.zeros(4)), "zoh", A, dt)
    half = discretize_vjp_ref((g, None), "zoh", A, dt)
    for x, y in zip(both[:2], half[:2]):
        testing.assert_close(x, y)


# ---- tier 3: every impl on every backend and dtype against the reference ---------------------


def _cot(rng, shape, cplx):
    g = rng.standard_normal(shape)
    return g + 1j * rng.standard_normal(shape) if cplx else g


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("grid", range(len(GRIDS)))
def test_impl_matches_ref(backend_impl, dtype, rng, method, grid):
    xp, impl = backend_impl
    cplx = dtype.startswith("complex")
    if cplx and method not in COMPLEX_OK:
        pytest.skip("real-only method")
    A, dt, tau = _data(rng, method, *GRIDS[grid], cplx)
    rdt = "float32" if dtype in ("float32", "complex64") else "float64"
    args = (testing.from_numpy(xp, A, dtype), testing.from_numpy(xp, dt, rdt),
            testing.from_numpy(xp, tau, rdt))
    if impl == "cuda":  # no kernel: impl="cuda" must say so rather than fall back silently
        with pytest.raises(ValueError, match="no CUDA kernel"):
            D.discretize(*args[:2], method, args[2], impl=impl)
        return
    got = D.discretize(*args[:2], method, args[2], impl=impl)
    want = discretize_ref(method, A, dt, tau)
    for g, w in zip(got, want):
        testing.assert_close(g, testing.from_numpy(xp, w, dtype),
                             override="discretization_float32_exp")

    shape = want[0].shape
    cots = (_cot(rng, shape, cplx), _cot(rng, shape, cplx))
    want_g = discretize_vjp_ref(cots, method, A, dt, tau)
    got_g = D.discretize_vjp(tuple(testing.from_numpy(xp, c, dtype) for c in cots),
                             *args[:2], method, args[2], impl=impl)
    kinds = (dtype, rdt, rdt)
    for name, g, w, k in zip(got_g._fields, got_g, want_g, kinds):
        w = None if w is None else testing.from_numpy(xp, w, k)
        testing.assert_close(g, w, override="discretization_float32_exp_vjp",
                             err_msg=f"{method} {name}")


def test_per_method_functions_match_the_oracle(rng):
    # Each plain def runs its own method (not a neighbour's): checked against the oracle.
    for name, fn in FNS.items():
        A, dt, tau = _data(rng, name, (3,), (3,), (3,), False)
        for x, y in zip(fn(A, dt, tau), discretize_ref(name, A, dt, tau)):
            testing.assert_close(x, y)
        c = (np.ones(3), np.ones(3))
        got = VJPS[name](c, A, dt, tau)
        for x, y in zip(got, discretize_vjp_ref(c, name, A, dt, tau)):
            testing.assert_close(x, y)


def test_reference_impl_keeps_input_dtype(rng):
    A, dt, _ = _data(rng, "zoh", (4,), (4,), (4,), True)
    out = D.zoh(A.astype(np.complex64), dt.astype(np.float32), impl="reference")
    assert all(o.dtype == np.complex64 for o in out)
    g = D.zoh_vjp((np.ones(4, np.complex64), None), A.astype(np.complex64), dt.astype(np.float32),
                  impl="reference")
    assert g.dA.dtype == np.complex64 and g.ddelta.dtype == np.float32


# ---- properties ------------------------------------------------------------------------------


def test_zero_step_and_zero_A_limits(backend_impl):
    xp, impl = backend_impl
    if impl == "cuda":
        pytest.skip("no kernel")
    A = testing.from_numpy(xp, np.array([-1.0 + 2j, 0.0, -3.0]))
    zero = xp.zeros(3, dtype=xp.float64)
    for name in ("zoh", "bilinear", "async"):
        Abar, gbar = D.discretize(A, zero, name, zero + 1.0, impl=impl)
        # exact: e^0 = 1 and delta * phi1(0) = 0 carry no rounding
        assert Abar.dtype == xp.complex128 and bool(xp.all(Abar == 1))
        assert gbar.dtype == xp.complex128 and bool(xp.all(gbar == 0))
    dt = testing.from_numpy(xp, np.array([0.3, 0.3, 0.3]))
    _, gbar = D.zoh(A, dt, impl=impl)
    assert complex(testing.to_numpy(gbar)[1]) == 0.3  # the limit (e^{dt A}-1)/A -> dt at A = 0


def test_async_with_unit_tau_is_zoh(rng):
    A, dt, _ = _data(rng, "zoh", (3, 4), (3, 1), (1,), True)
    for x, y in zip(D.async_(A, dt, np.ones(1)), D.zoh(A, dt)):
        testing.assert_close(x, y, override="discretization_same_formula")
    Abar, gbar = D.async_(A, dt, np.full(1, 2.0))
    testing.assert_close(Abar, D.zoh(A, 2 * dt)[0], override="discretization_same_formula")
    testing.assert_close(gbar, D.zoh(A, dt)[1], override="discretization_same_formula")


def test_integration_timesteps_ignored_outside_async(rng):
    A, dt, _ = _data(rng, "zoh", (4,), (4,), (4,), True)
    tau = np.full((7, 1), 3.0)  # would not even broadcast: ignored, as in lrnnx's core
    for name in ("zoh", "bilinear", "dirac", "mamba", "no_discretization"):
        for x, y in zip(D.discretize(A, dt, name, tau), D.discretize(A, dt, name)):
            np.testing.assert_array_equal(x, y)
        g = D.discretize_vjp((np.ones(4), np.ones(4)), A, dt, name, tau)
        assert g.dintegration_timesteps.shape == (7, 1) and not np.any(g.dintegration_timesteps)


def test_outputs_are_fresh_full_arrays(rng):
    A = np.array([0.9, 0.5])
    dt = np.array([0.2, 0.4])
    Abar, gbar = D.no_discretization(A, dt)
    assert Abar is not A and not np.shares_memory(Abar, A) and Abar.flags.writeable
    Abar, gbar = D.mamba(-A, dt)
    assert not np.shares_memory(gbar, dt) and gbar.flags.writeable
    Abar, gbar = D.dirac(A + 0j, np.array([[0.1], [0.2], [0.3]]))
    assert gbar.shape == (3, 2) and gbar.dtype == np.complex128 and np.all(gbar == 1)
    assert isinstance(gbar, np.ndarray)  # lrnnx returns the Python float 1.0
    _, gbar = D.s7(np.zeros((2, 3)), np.array([1.0, 2.0, 3.0]))
    assert gbar.shape == (2, 3)


def test_zero_dim_delta_and_dtype_promotion():
    A = np.array([-1.0, -2.0], np.float32)
    Abar, gbar = D.zoh(A, np.asarray(0.1, np.float32))
    assert Abar.dtype == np.float32 and Abar.shape == (2,)
    g = D.zoh_vjp((np.ones(2, np.float32), np.ones(2, np.float32)), A, np.asarray(0.1, np.float32))
    assert g.ddelta.shape == () and g.ddelta.dtype == np.float32
    testing.assert_close(g.ddelta, np.sum(np.exp(0.1 * A) * (A + 1)))
    Abar, _ = D.zoh(A.astype(np.complex64), np.array([0.1]))  # float64 delta promotes
    assert Abar.dtype == np.complex128


def test_async_alias_and_lrnnx_keys():
    assert set(METHODS) == {"zoh", "bilinear", "dirac", "async", "no_discretization",
                            "mamba", "s7", "rglru"}
    A, dt, tau = np.array([-1.0]), np.array([0.5]), np.array([2.0])
    for x, y in zip(D.discretize(A, dt, "async_", tau), D.discretize(A, dt, "async", tau)):
        np.testing.assert_array_equal(x, y)


def test_broadcast_gradients_are_reduced(backend_impl, rng):
    xp, impl = backend_impl
    if impl == "cuda":
        pytest.skip("no kernel")
    A, dt, tau = _data(rng, "async", *GRIDS[2], True)
    g = D.async_vjp((xp.ones((2, 3, 5, 4), dtype=xp.complex128), None),
                    *(testing.from_numpy(xp, v) for v in (A, dt, tau)), impl=impl)
    assert [tuple(x.shape) for x in g] == [A.shape, dt.shape, tau.shape]
    want = discretize_vjp_ref((np.ones((2, 3, 5, 4)), None), "async", A, dt, tau)
    for x, w in zip(g, want):
        testing.assert_close(x, testing.from_numpy(xp, w))


def test_complex_expm1_helper_beats_numpy():
    import array_api_compat.numpy as xp

    z = np.array([1e-10 + 1e-10j, -3e-9 + 1e-12j])
    want = z + z**2 / 2 + z**3 / 6
    got = numerics.expm1(xp, z)
    assert np.max(np.abs(got - want) / np.abs(want)) < 1e-15


# ---- bad input -------------------------------------------------------------------------------


def test_rejects_unknown_method():
    with pytest.raises(ValueError, match="method must be one of .*'zoh'.*'rglru'.*got 'tustin'"):
        D.discretize(np.ones(2), np.ones(2), "tustin")


def test_async_requires_integration_timesteps():
    with pytest.raises(ValueError, match="async_ needs integration_timesteps"):
        D.async_(-np.ones(2), np.ones(2))


@pytest.mark.parametrize("which", ["A", "delta", "integration_timesteps"])
def test_rejects_non_finite(which):
    args = {"A": -np.ones(3), "delta": np.ones(3), "integration_timesteps": np.ones(3)}
    args[which] = np.array([1.0, np.nan, 1.0])
    with pytest.raises(ValueError, match=f"{which} must be finite"):
        D.async_(args["A"], args["delta"], args["integration_timesteps"])


def test_rejects_non_broadcasting_shapes():
    with pytest.raises(ValueError, match=r"A with shape \(3, 4\), delta with shape \(2,\)"):
        D.zoh(np.ones((3, 4)), np.ones(2))
    with pytest.raises(ValueError, match=r"integration_timesteps with shape \(5,\)"):
        D.async_(np.ones(4), np.ones(4), np.ones(5))


def test_rejects_bad_dtypes():
    with pytest.raises(TypeError, match="A must have a floating dtype"):
        D.zoh(np.ones(3, dtype=np.int64), np.ones(3))
    with pytest.raises(TypeError, match="delta must have a real floating dtype"):
        D.zoh(np.ones(3), np.ones(3) + 0j)
    with pytest.raises(TypeError, match="delta must be an array, got float"):
        D.zoh(np.ones(3), 0.1)
    for name in ("s7", "rglru"):
        with pytest.raises(TypeError, match=f"A must be real for method '{name}'"):
            D.discretize(np.full(3, 0.5 + 0j), np.ones(3), name)


def test_rejects_rglru_out_of_domain():
    with pytest.raises(ValueError, match=r"A must lie in \(0, 1\]"):
        D.rglru(np.array([0.5, 1.5]), np.ones(2))
    with pytest.raises(ValueError, match="delta must be >= 0"):
        D.rglru(np.array([0.5, 0.5]), np.array([1.0, -1.0]))


def test_rejects_bad_cotangents():
    with pytest.raises(TypeError, match="dout must be the pair"):
        D.zoh_vjp(np.ones(3), -np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="dout\\[1\\] with shape \\(4,\\) does not broadcast"):
        D.zoh_vjp((None, np.ones(4)), -np.ones(3), np.ones(3))


def test_rejects_impls():
    with pytest.raises(ValueError, match="impl='cuda' needs CuPy arrays"):
        D.zoh(-np.ones(3), np.ones(3), impl="cuda")
    with pytest.raises(ValueError, match="impl must be one of"):
        D.zoh(-np.ones(3), np.ones(3), impl="fast")
    xps = pytest.importorskip("array_api_strict")
    with pytest.raises(ValueError, match="NumPy-only"):
        D.zoh(-xps.ones(3), xps.ones(3), impl="reference")
    with pytest.raises(TypeError, match="all arrays must come from one library"):
        D.zoh(-np.ones(3), xps.ones(3))


# ---- issue 9's bad-input classes, for all 18 public functions --------------------------------


def _every_call(method, vjp):
    """(function, args dict in signature order) for the method's def, its VJP or by name."""
    A = np.full(3, 0.5) if method in ("rglru", "s7") else -np.ones(3)
    args = {"A": A, "delta": np.full(3, 0.5), "integration_timesteps": np.full(3, 2.0)}
    if not vjp:
        return FNS[method], args
    return VJPS[method], args


@pytest.mark.parametrize("vjp", [False, True], ids=["fwd", "vjp"])
@pytest.mark.parametrize("method", METHODS)
def test_bad_input_classes(method, vjp):
    fn, args = _every_call(method, vjp)
    pre = ((np.ones(3), np.ones(3)),) if vjp else ()

    def call(**kw):
        return fn(*pre, **{**args, **kw})

    for name in ("A", "delta"):
        with pytest.raises(TypeError, match=f"{name} is required"):
            call(**{name: None})
        with pytest.raises(TypeError, match=f"{name} must be an array"):
            call(**{name: 0.5})
        for bad in (np.ones(3, np.int64), np.ones(3, bool)):
            with pytest.raises(TypeError, match=f"{name} must have a"):
                call(**{name: bad})
        nan = args[name].copy()
        nan[1] = np.nan
        with pytest.raises(ValueError, match=f"{name} must be finite"):
            call(**{name: nan})
        with np.errstate(all="ignore"):
            call(**{name: nan}, check_finite=False)  # skipped on request
    for bad in ("False", 1, None):
        with pytest.raises(TypeError, match="check_finite must be a bool"):
            call(check_finite=bad)
    a, b = call(check_finite=np.True_), call(check_finite=True)
    for x, y in zip(a, b):
        testing.assert_close(x, y)
    with pytest.raises(ValueError, match="impl must be one of"):
        call(impl=None)
    # float16 computes in float32; float32 A with float64 delta promotes (nothing is demoted).
    half = call(A=args["A"].astype(np.float16), delta=args["delta"].astype(np.float16),
                integration_timesteps=args["integration_timesteps"].astype(np.float16))
    assert {str(o.dtype) for o in half if o is not None} == {"float32"}
    mixed = call(A=args["A"].astype(np.float32))
    assert {str(o.dtype) for o in mixed if o is not None} == {"float64"}
    # Zero-size: empty in, empty out (and empty gradients).
    empty_args = {k: v[:0] for k, v in args.items()}
    empty = fn(*(((np.ones(0), np.ones(0)),) if vjp else ()), **empty_args)
    assert all(o.shape == (0,) for o in empty if o is not None)
    if vjp:
        with pytest.raises(TypeError, match=r"dout\[0\] must have a"):
            fn((np.ones(3, np.int64), None), **args)
