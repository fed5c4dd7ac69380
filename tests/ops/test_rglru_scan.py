"""rglru_scan: SciPy oracle for the reference, finite differences for its VJP, every impl vs ref."""

import numpy as np
import pytest
import scipy.signal

from lrnnx_array import testing
from lrnnx_array._ops.rglru_scan._ref import rglru_scan_ref, rglru_scan_vjp_ref
from lrnnx_array.ops import rglru_scan, rglru_scan_vjp

# (batch, dim, d_state, L): L = 1, odd/prime, above the generic chunked crossover (512) and the
# CUDA chunks (1024 float32 / 512 float64 steps); d_state 1 (lrnnx's RG-LRU) and 4; batch 1.
SIZES = [(1, 4, 1, 1), (2, 4, 4, 8), (2, 8, 1, 67), (1, 4, 4, 600), (1, 4, 1, 1100)]
# lrnnx's float32 tolerances (spec §5) are the loosest allowed: fwd (3e-3, 5e-3),
# du (6e-3, 2.5e-2), ddelta (1.5e-2, 5e-2), dA (5e-3, 5e-3). The table
# (atol relative to the largest entry, see _close) is tighter than each.
testing.add_override("rglru_scan_property", 10, "both sides are float32 runs with differently "
                     "ordered arithmetic (linearity, chunk splits): each carries its own rounding")
testing.add_override("rglru_scan_fd", 1e4, "finite differences of the float64 oracle at "
                     "eps=1e-7 (A near 1 makes the state's derivative steep)")


def _data(rng, Bsz, D, N, L, *, a_lo=0.9, a_hi=0.999):
    u = rng.standard_normal((Bsz, D, L))
    delta = 8 / (1 + np.exp(-rng.standard_normal((Bsz, D, L))))  # lrnnx: 8·σ(randn)
    A = rng.uniform(a_lo, a_hi, (D, N))
    h0 = rng.standard_normal((Bsz, D, N))
    return u, delta, A, h0


def _close(got, want, xp, dtype, name):
    """The table's tolerance, atol relative to the largest reference entry (long
    sums of both signs make tiny entries whose relative error means nothing)."""
    rtol, atol = testing.tolerance(dtype)
    atol *= max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    testing.assert_close(got, testing.from_numpy(xp, want, dtype), rtol=rtol, atol=atol,
                         err_msg=name)


# ---- tier 1: the reference against SciPy ---------------------------------------------------


def test_ref_matches_lfilter_for_constant_delta(rng):
    Bsz, D, N, L = 2, 3, 2, 40
    u, _, A, h0 = _data(rng, Bsz, D, N, L, a_lo=0.3)
    c = rng.uniform(0.5, 4, (Bsz, D))
    delta = np.repeat(c[..., None], L, axis=-1)
    y, last = rglru_scan_ref(u, delta, A, True, h0=h0)
    want = np.zeros_like(y)
    for b in range(Bsz):
        for d in range(D):
            for n in range(N):
                a = A[d, n] ** c[b, d]
                hn, zf = scipy.signal.lfilter([np.sqrt(1 - a * a)], [1.0, -a], u[b, d],
                                              zi=[a * h0[b, d, n]])
                want[b, d] += hn
                testing.assert_close(np.asarray(last[b, d, n]), np.asarray(zf[0] / a))
    testing.assert_close(y, want)


def test_ref_zero_delta_holds_the_state(rng):
    u, _, A, h0 = _data(rng, 2, 3, 2, 5)
    y = rglru_scan_ref(u, np.zeros(u.shape), A, h0=h0)
    np.testing.assert_array_equal(y, np.repeat(h0.sum(-1)[..., None], 5, axis=-1))


# ---- tier 2: the reference VJP against finite differences ----------------------------------


@pytest.mark.parametrize("a_range", [(0.3, 0.9), (0.99, 0.9999)], ids=["mid_a", "a_near_1"])
def test_ref_vjp_finite_differences(rng, a_range):
    u, delta, A, h0 = _data(rng, 2, 3, 2, 6, a_lo=a_range[0], a_hi=a_range[1])

    def f(u, delta, A, h0):
        return rglru_scan_ref(u, delta, A, True, h0=h0)

    def f_vjp(cots, u, delta, A, h0):
        return rglru_scan_vjp_ref(cots[0], u, delta, A, h0=h0, dlast_state=cots[1])

    rtol, atol = testing.tolerance("float64", "rglru_scan_fd")
    testing.check_vjp(f, f_vjp, (u, delta, A, h0), rtol=rtol, atol=atol, eps=1e-7)


def test_ref_vjp_without_h0(rng):
    u, delta, A, _ = _data(rng, 1, 2, 3, 7)
    testing.check_vjp(lambda u, d, A: rglru_scan_ref(u, d, A),
                      lambda c, u, d, A: rglru_scan_vjp_ref(c, u, d, A)[:3], (u, delta, A))


# ---- tier 3: every impl on every backend and dtype against the reference -------------------


@pytest.mark.parametrize("Bsz,D,N,L", SIZES)
def test_impl_matches_ref(backend_impl, real_dtype, rng, Bsz, D, N, L):
    xp, impl = backend_impl
    u, delta, A, h0 = _data(rng, Bsz, D, N, L)
    y, last = rglru_scan_ref(u, delta, A, True, h0=h0)
    dout = rng.standard_normal(y.shape)
    dlast = rng.standard_normal(last.shape)
    want_g = rglru_scan_vjp_ref(dout, u, delta, A, h0=h0, dlast_state=dlast)
    args = [testing.from_numpy(xp, v, real_dtype) for v in (u, delta, A)]
    H0 = testing.from_numpy(xp, h0, real_dtype)
    got_y, got_last = rglru_scan(*args, True, h0=H0, impl=impl)
    for name, g, w in (("y", got_y, y), ("last", got_last, last)):
        _close(g, w, xp, real_dtype, name)
    got_g = rglru_scan_vjp(testing.from_numpy(xp, dout, real_dtype), *args, h0=H0,
                           dlast_state=testing.from_numpy(xp, dlast, real_dtype), impl=impl)
    for name, g, w in zip(got_g._fields, got_g, want_g):
        _close(g, w, xp, real_dtype, name)


def test_vjp_without_h0_or_dlast(backend_impl, rng):
    xp, impl = backend_impl
    u, delta, A, _ = _data(rng, 2, 4, 2, 9)
    dout = rng.standard_normal(u.shape)
    got = rglru_scan_vjp(*(testing.from_numpy(xp, v) for v in (dout, u, delta, A)), impl=impl)
    assert got.dh0 is None
    for g, w in zip(got[:3], rglru_scan_vjp_ref(dout, u, delta, A)[:3]):
        _close(g, w, xp, "float64", "grad")


def test_reference_impl_keeps_input_dtype(rng):
    u, delta, A, _ = (v.astype(np.float32) for v in _data(rng, 1, 2, 1, 4))
    assert rglru_scan(u, delta, A, impl="reference").dtype == np.float32


# ---- properties ----------------------------------------------------------------------------


def test_zero_in_zero_out(backend_impl, rng):
    xp, impl = backend_impl
    _, delta, A, _ = _data(rng, 2, 4, 2, 30)
    y = rglru_scan(xp.zeros((2, 4, 30), dtype=xp.float64), testing.from_numpy(xp, delta),
                   testing.from_numpy(xp, A), impl=impl)
    assert float(xp.max(xp.abs(y))) == 0.0


def test_linear_in_input(backend_impl, rng):
    xp, impl = backend_impl
    u1, delta, A, _ = _data(rng, 2, 4, 2, 33)
    u2 = rng.standard_normal(u1.shape)
    dl, a = testing.from_numpy(xp, delta), testing.from_numpy(xp, A)
    lhs = rglru_scan(testing.from_numpy(xp, 2 * u1 - 3 * u2), dl, a, impl=impl)
    rhs = 2 * rglru_scan(testing.from_numpy(xp, u1), dl, a, impl=impl) - 3 * rglru_scan(
        testing.from_numpy(xp, u2), dl, a, impl=impl)
    testing.assert_close(lhs, rhs, override="rglru_scan_property")


@pytest.mark.parametrize("split", [1, 17, 600])
def test_chunk_consistency(backend_impl, rng, split):
    xp, impl = backend_impl
    u, delta, A, h0 = (testing.from_numpy(xp, v) for v in _data(rng, 1, 4, 2, 700))
    full, last = rglru_scan(u, delta, A, True, h0=h0, impl=impl)
    y1, l1 = rglru_scan(u[..., :split], delta[..., :split], A, True, h0=h0, impl=impl)
    y2, l2 = rglru_scan(u[..., split:], delta[..., split:], A, True, h0=l1, impl=impl)
    testing.assert_close(xp.concat([y1, y2], axis=-1), full, override="rglru_scan_property")
    testing.assert_close(l2, last, override="rglru_scan_property")


def test_finite_for_small_delta_and_a_near_one(backend_impl, rng):
    xp, impl = backend_impl
    u, delta, _, h0 = _data(rng, 2, 4, 3, 40)
    delta[:, :, ::3] = 0.0
    delta[:, :, 1::3] = 1e-30
    A = np.array([[1.0, 1 - 1e-12, 0.5]] * 4)
    args = [testing.from_numpy(xp, v) for v in (u, delta, A)]
    y, last = rglru_scan(*args, True, h0=testing.from_numpy(xp, h0), impl=impl)
    want_y, want_last = rglru_scan_ref(u, delta, A, True, h0=h0)
    _close(y, want_y, xp, "float64", "y")
    g = rglru_scan_vjp(testing.from_numpy(xp, rng.standard_normal(u.shape)), *args,
                       h0=testing.from_numpy(xp, h0), impl=impl)
    for name, gi in zip(g._fields, g):
        assert bool(xp.all(xp.isfinite(gi))), name
    # A = 1: the state is held and nothing enters (β = 0).
    np.testing.assert_array_equal(want_last[:, :, 0], h0[:, :, 0])


def test_negative_delta_clamps_the_input_term(rng):
    u, delta, A, _ = _data(rng, 1, 2, 1, 5)
    y = rglru_scan(u, -delta, A)
    assert np.all(np.isfinite(y)) and np.all(y == 0)


# ---- bad input -----------------------------------------------------------------------------


def test_rejects_complex_and_integer():
    u = np.ones((1, 2, 3))
    with pytest.raises(TypeError, match="A must have a real floating dtype"):
        rglru_scan(u, u, np.full((2, 1), 0.5 + 0j))
    with pytest.raises(TypeError, match="u must have a real floating dtype"):
        rglru_scan(u + 0j, u, np.full((2, 1), 0.5))
    with pytest.raises(TypeError, match="delta must have a (real )?floating dtype"):
        rglru_scan(u, np.ones((1, 2, 3), dtype=np.int64), np.full((2, 1), 0.5))


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.5, np.nan])
def test_rejects_a_outside_unit_interval(bad):
    u = np.ones((1, 2, 3))
    A = np.full((2, 1), 0.5)
    A[1, 0] = bad
    with pytest.raises(ValueError, match="A must"):
        rglru_scan(u, u, A)


def test_rejects_shape_mismatches():
    u = np.ones((1, 2, 3))
    A = np.full((2, 1), 0.5)
    with pytest.raises(ValueError, match=r"delta must have shape .*\(1, 2, 3\), got \(1, 2, 4\)"):
        rglru_scan(u, np.ones((1, 2, 4)), A)
    with pytest.raises(ValueError, match="A must have shape"):
        rglru_scan(u, u, np.full((3, 1), 0.5))
    with pytest.raises(ValueError, match="u must have 3 dimensions"):
        rglru_scan(np.ones((2, 3)), np.ones((2, 3)), A)
    with pytest.raises(ValueError, match="h0 must have shape"):
        rglru_scan(u, u, A, h0=np.ones((1, 2)))
    with pytest.raises(ValueError, match="dout must have shape"):
        rglru_scan_vjp(np.ones((1, 2, 2)), u, u, A)
    with pytest.raises(ValueError, match="dlast_state must have shape"):
        rglru_scan_vjp(u, u, u, A, dlast_state=np.ones((1, 2, 2)))


def test_rejects_cuda_on_numpy():
    u = np.ones((1, 2, 3))
    with pytest.raises(ValueError, match="impl='cuda' needs CuPy arrays"):
        rglru_scan(u, u, np.full((2, 1), 0.5), impl="cuda")


# ---- lrnnx's full grid (spec §5), slow -----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("Bsz", [2, 64])
@pytest.mark.parametrize("D", [8, 64])
@pytest.mark.parametrize("L", [8, 16, 64, 128, 256, 512, 1024, 2048, 4096])
def test_lrnnx_grid_float32(backend_impl, Bsz, D, L):
    xp, impl = backend_impl
    rng = np.random.default_rng(42)
    u, delta, A, _ = _data(rng, Bsz, D, 1, L)
    y = rglru_scan_ref(u, delta, A)
    dout = rng.standard_normal(y.shape)
    args = [testing.from_numpy(xp, v, "float32") for v in (u, delta, A)]
    _close(rglru_scan(*args, impl=impl), y, xp, "float32", "y")
    got = rglru_scan_vjp(testing.from_numpy(xp, dout, "float32"), *args, impl=impl)
    want = rglru_scan_vjp_ref(dout, u, delta, A)
    for name in ("du", "ddelta", "dA"):
        _close(getattr(got, name), want[got._fields.index(name)], xp, "float32", name)
