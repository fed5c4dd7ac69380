"""s7_scan: SciPy oracle for the reference, finite differences for its VJP, every impl vs ref."""

import numpy as np
import pytest
import scipy.signal

from lrnnx_array import testing
from lrnnx_array._ops.s7_scan._ref import s7_scan_ref, s7_scan_vjp_ref
from lrnnx_array.ops import s7_scan, s7_scan_vjp

# (batch, H, N, L): L = 1, odd/prime, above the generic chunked crossover and the CUDA chunks.
SIZES = [(1, 4, 1, 1), (2, 4, 4, 8), (2, 8, 4, 67), (1, 4, 1, 600), (1, 2, 2, 1100)]
# lrnnx float32 (spec §5): fwd (3e-3, 5e-3), du (6e-3, 2.5e-2), dA (1.5e-2, 5e-2),
# dB/dC/dbias (1e-3, 1e-3) are the loosest allowed; the table (atol relative to the largest
# entry, see _close) is tighter than each.
testing.add_override("s7_scan_property", 10, "both sides are float32 runs with differently "
                     "ordered arithmetic (linearity, chunk splits): each carries its own rounding")


def _data(rng, Bsz, H, N, L):
    u = rng.standard_normal((Bsz, H, L))
    A = -0.5 + 0.5 * rng.standard_normal((Bsz, N, L))  # lrnnx: HiPPO real part −½ plus noise
    B = 0.5 * rng.standard_normal((Bsz, N, H, L))
    C = 0.5 * rng.standard_normal((Bsz, H, N, L))
    bias = rng.standard_normal((Bsz, N, L))
    h0 = rng.standard_normal((Bsz, N))
    return u, A, B, C, bias, h0


def _close(got, want, xp, dtype, name):
    """The table's tolerance, atol relative to the largest reference entry (long sums of both
    signs make tiny entries whose relative error means nothing)."""
    rtol, atol = testing.tolerance(dtype)
    atol *= max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    testing.assert_close(got, testing.from_numpy(xp, want, dtype), rtol=rtol, atol=atol,
                         err_msg=name)


# ---- tier 1: the reference against SciPy ---------------------------------------------------


def test_ref_matches_lfilter_for_constant_parameters(rng):
    Bsz, H, N, L = 2, 3, 2, 30
    u = rng.standard_normal((Bsz, H, L))
    a = rng.standard_normal((Bsz, N))
    Bc, Cc = rng.standard_normal((Bsz, N, H)), rng.standard_normal((Bsz, H, N))
    h0 = rng.standard_normal((Bsz, N))
    A = np.repeat(a[..., None], L, -1)
    B = np.repeat(Bc[..., None], L, -1)
    C = np.repeat(Cc[..., None], L, -1)
    y, last = s7_scan_ref(u, A, B, C, None, True, h0=h0)
    abar = 1 - 1 / (a * a + 0.5)
    want = np.zeros_like(y)
    for b in range(Bsz):
        bu = Bc[b] @ u[b]
        for n in range(N):
            s, _ = scipy.signal.lfilter(
                [1.0], [1.0, -abar[b, n]], bu[n], zi=[abar[b, n] * h0[b, n]]
            )
            want[b] += np.outer(Cc[b, :, n], s)
            testing.assert_close(np.asarray(last[b, n]), np.asarray(s[-1]))
    testing.assert_close(y, want)


def test_ref_gate_is_zero_at_half():
    # a² = ½ gives Ā = 0: the state is just the new input (lrnnx's backward divides by Ā here).
    u = np.ones((1, 1, 3))
    A = np.full((1, 1, 3), np.sqrt(0.5))
    y = s7_scan_ref(u, A, np.ones((1, 1, 1, 3)), np.ones((1, 1, 1, 3)), h0=np.array([[5.0]]))
    testing.assert_close(y, np.ones((1, 1, 3)))


# ---- tier 2: the reference VJP against finite differences ----------------------------------


@pytest.mark.parametrize("with_bias", [True, False])
def test_ref_vjp_finite_differences(rng, with_bias):
    u, A, B, C, bias, h0 = _data(rng, 2, 3, 2, 6)
    A[0, 0, 2] = np.sqrt(0.5)  # Ā = 0 exactly: still differentiable, nothing divides by it
    bias = bias if with_bias else None

    def f(u, A, B, C, bias, h0):
        return s7_scan_ref(u, A, B, C, bias, True, h0=h0)

    def f_vjp(cots, u, A, B, C, bias, h0):
        return s7_scan_vjp_ref(cots[0], u, A, B, C, bias, h0=h0, dlast_state=cots[1])

    testing.check_vjp(f, f_vjp, (u, A, B, C, bias, h0))


# ---- tier 3: every impl on every backend and dtype against the reference -------------------


@pytest.mark.parametrize("Bsz,H,N,L", SIZES)
def test_impl_matches_ref(backend_impl, real_dtype, rng, Bsz, H, N, L):
    xp, impl = backend_impl
    u, A, B, C, bias, h0 = _data(rng, Bsz, H, N, L)
    y, last = s7_scan_ref(u, A, B, C, bias, True, h0=h0)
    dout, dlast = rng.standard_normal(y.shape), rng.standard_normal(last.shape)
    want_g = s7_scan_vjp_ref(dout, u, A, B, C, bias, h0=h0, dlast_state=dlast)
    args = [testing.from_numpy(xp, v, real_dtype) for v in (u, A, B, C, bias)]
    H0 = testing.from_numpy(xp, h0, real_dtype)
    got_y, got_last = s7_scan(*args, True, h0=H0, impl=impl)
    for name, g, w in (("y", got_y, y), ("last", got_last, last)):
        _close(g, w, xp, real_dtype, name)
    got_g = s7_scan_vjp(
        testing.from_numpy(xp, dout, real_dtype),
        *args,
        h0=H0,
        dlast_state=testing.from_numpy(xp, dlast, real_dtype),
        impl=impl,
    )
    for name, g, w in zip(got_g._fields, got_g, want_g):
        _close(g, w, xp, real_dtype, name)


def test_vjp_without_bias_h0_or_dlast(backend_impl, rng):
    xp, impl = backend_impl
    u, A, B, C, _, _ = _data(rng, 2, 3, 4, 9)
    dout = rng.standard_normal(u.shape)
    got = s7_scan_vjp(*(testing.from_numpy(xp, v) for v in (dout, u, A, B, C)), impl=impl)
    assert got.dbias is None and got.dh0 is None
    for g, w in zip(got[:4], s7_scan_vjp_ref(dout, u, A, B, C)[:4]):
        _close(g, w, xp, "float64", "grad")


def test_reference_impl_keeps_input_dtype(rng):
    u, A, B, C, _, _ = (v.astype(np.float32) for v in _data(rng, 1, 2, 1, 4))
    assert s7_scan(u, A, B, C, impl="reference").dtype == np.float32


# ---- properties ----------------------------------------------------------------------------


def test_zero_in_zero_out(backend_impl, rng):
    xp, impl = backend_impl
    _, A, B, C, _, _ = _data(rng, 2, 3, 2, 30)
    y = s7_scan(
        xp.zeros((2, 3, 30), dtype=xp.float64),
        *(testing.from_numpy(xp, v) for v in (A, B, C)),
        impl=impl,
    )
    assert float(xp.max(xp.abs(y))) == 0.0


def test_linear_in_input(backend_impl, rng):
    xp, impl = backend_impl
    u1, A, B, C, _, _ = _data(rng, 2, 3, 2, 33)
    u2 = rng.standard_normal(u1.shape)
    p = [testing.from_numpy(xp, v) for v in (A, B, C)]
    lhs = s7_scan(testing.from_numpy(xp, 2 * u1 - 3 * u2), *p, impl=impl)
    rhs = 2 * s7_scan(testing.from_numpy(xp, u1), *p, impl=impl) - 3 * s7_scan(
        testing.from_numpy(xp, u2), *p, impl=impl
    )
    testing.assert_close(lhs, rhs, override="s7_scan_property")


@pytest.mark.parametrize("split", [1, 17, 600])
def test_chunk_consistency(backend_impl, rng, split):
    xp, impl = backend_impl
    u, A, B, C, bias, h0 = (testing.from_numpy(xp, v) for v in _data(rng, 1, 2, 2, 700))
    full, last = s7_scan(u, A, B, C, bias, True, h0=h0, impl=impl)
    y1, l1 = s7_scan(
        u[..., :split],
        A[..., :split],
        B[..., :split],
        C[..., :split],
        bias[..., :split],
        True,
        h0=h0,
        impl=impl,
    )
    y2, l2 = s7_scan(
        u[..., split:],
        A[..., split:],
        B[..., split:],
        C[..., split:],
        bias[..., split:],
        True,
        h0=l1,
        impl=impl,
    )
    testing.assert_close(xp.concat([y1, y2], axis=-1), full, override="s7_scan_property")
    testing.assert_close(l2, last, override="s7_scan_property")


# ---- bad input -----------------------------------------------------------------------------


def _ok():
    return np.ones((1, 2, 3)), np.ones((1, 4, 3)), np.ones((1, 4, 2, 3)), np.ones((1, 2, 4, 3))


def test_rejects_complex_and_integer():
    u, A, B, C = _ok()
    with pytest.raises(TypeError, match="A must have a real floating dtype"):
        s7_scan(u, A + 0j, B, C)
    with pytest.raises(TypeError, match="C must have a real floating dtype"):
        s7_scan(u, A, B, C + 0j)
    with pytest.raises(TypeError, match="u must have a (real )?floating dtype"):
        s7_scan(u.astype(np.int32), A, B, C)


def test_rejects_shape_mismatches():
    u, A, B, C = _ok()
    with pytest.raises(ValueError, match="A must have shape"):
        s7_scan(u, np.ones((1, 4, 5)), B, C)
    with pytest.raises(ValueError, match=r"B must have shape .*\(1, 4, 2, 3\)"):
        s7_scan(u, A, np.ones((1, 2, 4, 3)), C)
    with pytest.raises(ValueError, match=r"C must have shape .*\(1, 2, 4, 3\)"):
        s7_scan(u, A, B, np.ones((1, 4, 2, 3)))
    with pytest.raises(ValueError, match="bias must have shape"):
        s7_scan(u, A, B, C, np.ones((1, 4)))
    with pytest.raises(ValueError, match="h0 must have shape"):
        s7_scan(u, A, B, C, h0=np.ones((1, 2)))
    with pytest.raises(ValueError, match="dout must have shape"):
        s7_scan_vjp(np.ones((1, 4, 3)), u, A, B, C)


def test_rejects_cuda_on_numpy():
    with pytest.raises(ValueError, match="impl='cuda' needs CuPy arrays"):
        s7_scan(*_ok(), impl="cuda")


# ---- lrnnx's full grid (spec §5), slow -----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("Bsz,H", [(2, 8), (2, 64), (64, 8)])
@pytest.mark.parametrize("N", [16, 32])
@pytest.mark.parametrize("L", [8, 64, 512, 2048])
def test_lrnnx_grid_float32(backend_impl, Bsz, H, N, L):
    xp, impl = backend_impl
    rng = np.random.default_rng(42)
    u = rng.standard_normal((Bsz, H, L))
    A = -0.5 + 0.02 * rng.standard_normal((Bsz, N, L))
    B, C = 0.02 * rng.standard_normal((Bsz, N, H, L)), 0.02 * rng.standard_normal((Bsz, H, N, L))
    bias = rng.standard_normal((Bsz, N, L))
    y = s7_scan_ref(u, A, B, C, bias)
    dout = rng.standard_normal(y.shape)
    args = [testing.from_numpy(xp, v, "float32") for v in (u, A, B, C, bias)]
    _close(s7_scan(*args, impl=impl), y, xp, "float32", "y")
    got = s7_scan_vjp(testing.from_numpy(xp, dout, "float32"), *args, impl=impl)
    want = s7_scan_vjp_ref(dout, u, A, B, C, bias)
    for name in ("du", "dA", "dB", "dC", "dbias"):
        _close(getattr(got, name), want[got._fields.index(name)], xp, "float32", name)
