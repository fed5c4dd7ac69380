"""diag_scan: SciPy oracle for the reference, finite differences for its VJP, every impl vs ref."""

import numpy as np
import pytest
import scipy.signal

from lrnnx_array import testing
from lrnnx_array._ops.diag_scan._ref import diag_scan_ref, diag_scan_vjp_ref
from lrnnx_array.ops import diag_scan, diag_scan_vjp

# L = 1, prime, above the CUDA chunk (1024 fp32 steps) and above the generic chunked crossover.
SIZES = [((1,), 1), ((2, 3), 7), ((5,), 13), ((3,), 1031), ((300,), 17), ((1,), 600)]


def _data(rng, lead, L, dtype, *, a_shape=None):
    cplx = dtype.startswith("complex")
    a_shape = lead + (L,) if a_shape is None else a_shape
    a = rng.uniform(-0.99, 0.99, a_shape)
    b = rng.standard_normal(lead + (L,))
    h0 = rng.standard_normal(lead)
    if cplx:
        a = a * np.exp(1j * rng.uniform(0, 2 * np.pi, a_shape))
        b = b + 1j * rng.standard_normal(b.shape)
        h0 = h0 + 1j * rng.standard_normal(h0.shape)
    return a, b, h0


# ---- tier 1: the reference against SciPy ---------------------------------------------------


@pytest.mark.parametrize("cplx", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_ref_matches_lfilter_for_constant_gates(rng, cplx, reverse):
    R, L = 4, 50
    lam = rng.uniform(-0.95, 0.95, R) * (np.exp(1j * rng.uniform(0, 6, R)) if cplx else 1)
    b = rng.standard_normal((R, L)) + (1j * rng.standard_normal((R, L)) if cplx else 0)
    h0 = rng.standard_normal(R) + (1j if cplx else 0)
    got = diag_scan_ref(lam[:, None], b, h0, reverse=reverse)
    for r in range(R):
        x = b[r, ::-1] if reverse else b[r]
        y, _ = scipy.signal.lfilter([1.0], [1.0, -lam[r]], x, zi=[lam[r] * h0[r]])
        np.testing.assert_allclose(got[r], y[::-1] if reverse else y, rtol=1e-12, atol=1e-12)


# ---- tier 2: the reference VJP against finite differences ----------------------------------


@pytest.mark.parametrize("cplx", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("a_shape", [None, (3, 1)], ids=["full_a", "const_a"])
def test_ref_vjp_finite_differences(rng, cplx, reverse, a_shape):
    a, b, h0 = _data(rng, (3,), 6, "complex128" if cplx else "float64", a_shape=a_shape)
    last = 0 if reverse else -1

    def f(a, b, h0):
        h = diag_scan_ref(a, b, h0, reverse=reverse)
        return h, h[..., last]

    def f_vjp(cots, a, b, h0):
        return diag_scan_vjp_ref(cots[0], a, b, h0, reverse=reverse, dlast_state=cots[1])

    testing.check_vjp(f, f_vjp, (a, b, h0))


def test_ref_vjp_real_gate_complex_input(rng):
    a = rng.uniform(-0.9, 0.9, (2, 5))
    b = rng.standard_normal((2, 5)) + 1j * rng.standard_normal((2, 5))
    da, db, _ = diag_scan_vjp_ref(np.ones((2, 5), complex), a, b)
    assert not np.iscomplexobj(da) and np.iscomplexobj(db)
    testing.check_vjp(
        lambda a, b: diag_scan_ref(a, b), lambda c, a, b: diag_scan_vjp_ref(c, a, b)[:2], (a, b)
    )


# ---- tier 3: every impl on every backend and dtype against the reference -------------------


@pytest.mark.parametrize("lead,L", SIZES)
@pytest.mark.parametrize("reverse", [False, True])
def test_impl_matches_ref(backend_impl, dtype, rng, lead, L, reverse):
    xp, impl = backend_impl
    a, b, h0 = _data(rng, lead, L, dtype)
    want = diag_scan_ref(a, b, h0, reverse=reverse)
    A, Bx, H0 = (testing.from_numpy(xp, v, dtype) for v in (a, b, h0))
    got = diag_scan(A, Bx, H0, reverse=reverse, impl=impl)
    testing.assert_close(got, testing.from_numpy(xp, want, dtype), scale=4)

    dh = rng.standard_normal(want.shape) + (
        1j * rng.standard_normal(want.shape) if dtype.startswith("c") else 0
    )
    dl = dh[..., 0] * 0.5
    want_g = diag_scan_vjp_ref(dh, a, b, h0, reverse=reverse, dlast_state=dl)
    got_g = diag_scan_vjp(
        testing.from_numpy(xp, dh, dtype),
        A,
        Bx,
        H0,
        reverse=reverse,
        dlast_state=testing.from_numpy(xp, dl, dtype),
        impl=impl,
    )
    for name, g, w in zip(got_g._fields, got_g, want_g):
        testing.assert_close(g, testing.from_numpy(xp, w, dtype), scale=8, err_msg=name)


def test_broadcast_gate_gradient_is_reduced(backend_impl, rng):
    xp, impl = backend_impl
    a, b, h0 = _data(rng, (4,), 9, "float64", a_shape=(4, 1))
    dh = rng.standard_normal((4, 9))
    got = diag_scan_vjp(*(testing.from_numpy(xp, v) for v in (dh, a, b, h0)), impl=impl)
    assert tuple(got.da.shape) == (4, 1)
    testing.assert_close(got.da, testing.from_numpy(xp, diag_scan_vjp_ref(dh, a, b, h0)[0]))


def test_reference_impl_keeps_input_dtype(rng):
    a, b, _ = _data(rng, (2,), 5, "float32")
    out = diag_scan(a.astype(np.float32), b.astype(np.float32), impl="reference")
    assert out.dtype == np.float32


# ---- properties ----------------------------------------------------------------------------


def test_zero_in_zero_out(backend_impl):
    xp, impl = backend_impl
    a = testing.from_numpy(xp, np.full((3, 40), 0.7))
    out = diag_scan(a, xp.zeros((3, 40), dtype=xp.float64), impl=impl)
    assert float(xp.max(xp.abs(out))) == 0.0


def test_linear_in_input(backend_impl, rng):
    xp, impl = backend_impl
    a, b1, h0 = _data(rng, (3,), 33, "float64")
    b2 = rng.standard_normal(b1.shape)
    A = testing.from_numpy(xp, a)
    lhs = diag_scan(A, testing.from_numpy(xp, 2.0 * b1 - 3.0 * b2), impl=impl)
    rhs = 2.0 * diag_scan(A, testing.from_numpy(xp, b1), impl=impl) - 3.0 * diag_scan(
        A, testing.from_numpy(xp, b2), impl=impl
    )
    testing.assert_close(lhs, rhs)


@pytest.mark.parametrize("split", [1, 17, 600])
def test_chunk_consistency(backend_impl, rng, split):
    xp, impl = backend_impl
    a, b, h0 = (testing.from_numpy(xp, v) for v in _data(rng, (2,), 700, "float64"))
    full = diag_scan(a, b, h0, impl=impl)
    first = diag_scan(a[:, :split], b[:, :split], h0, impl=impl)
    second = diag_scan(a[:, split:], b[:, split:], first[:, -1], impl=impl)
    testing.assert_close(xp.concat([first, second], axis=1), full)


def test_reverse_is_flip_scan_flip(backend_impl, rng):
    xp, impl = backend_impl
    a, b, h0 = (testing.from_numpy(xp, v) for v in _data(rng, (3,), 41, "complex128"))
    rev = diag_scan(a, b, h0, reverse=True, impl=impl)
    flip = xp.flip(diag_scan(xp.flip(a, axis=1), xp.flip(b, axis=1), h0, impl=impl), axis=1)
    testing.assert_close(rev, flip)


def test_tiny_and_zero_gates_stay_finite(backend_impl):
    xp, impl = backend_impl
    a = np.full((2, 1500), 1e-30)
    a[:, 700] = 0.0
    b = np.ones((2, 1500))
    out = diag_scan(testing.from_numpy(xp, a), testing.from_numpy(xp, b), impl=impl)
    testing.assert_close(out, testing.from_numpy(xp, diag_scan_ref(a, b)))


# ---- bad input -----------------------------------------------------------------------------


def test_rejects_integer_dtype():
    with pytest.raises(TypeError, match="a must have a floating dtype"):
        diag_scan(np.ones((2, 3), dtype=np.int64), np.ones((2, 3)))


def test_rejects_non_broadcasting_shapes():
    with pytest.raises(ValueError, match=r"a with shape \(2, 3\) and b with shape \(2, 4\)"):
        diag_scan(np.ones((2, 3)), np.ones((2, 4)))


def test_rejects_bad_h0_shape():
    with pytest.raises(ValueError, match="h0 with shape"):
        diag_scan(np.ones((2, 3)), np.ones((2, 3)), np.ones(5))


def test_rejects_0d_inputs():
    with pytest.raises(ValueError, match="time axis"):
        diag_scan(np.asarray(0.5), np.ones(3))


def test_rejects_cuda_on_numpy_and_unknown_impl():
    with pytest.raises(ValueError, match="impl='cuda' needs CuPy arrays"):
        diag_scan(np.ones(3), np.ones(3), impl="cuda")
    with pytest.raises(ValueError, match="impl must be one of"):
        diag_scan(np.ones(3), np.ones(3), impl="fast")


def test_rejects_mixed_libraries():
    xps = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match="all arrays must come from one library"):
        diag_scan(np.ones(3), xps.ones(3))


def test_reference_rejects_non_numpy():
    xps = pytest.importorskip("array_api_strict")
    with pytest.raises(ValueError, match="NumPy-only"):
        diag_scan(xps.ones(3), xps.ones(3), impl="reference")


def test_rejects_python_scalar_h0():
    with pytest.raises(TypeError, match="h0 must be an array, got float"):
        diag_scan(np.ones(3), np.ones(3), 2.0)


def test_float16_computes_in_float32(backend_impl):
    xp, impl = backend_impl
    if not hasattr(xp, "float16"):
        pytest.skip("no float16 in this namespace")
    a = testing.from_numpy(xp, np.full((2, 9), 0.5), "float16")
    b = testing.from_numpy(xp, np.ones((2, 9)), "float16")
    out = diag_scan(a, b, impl=impl)
    assert out.dtype == xp.float32
    testing.assert_close(
        out, testing.from_numpy(xp, diag_scan_ref(np.full((2, 9), 0.5), np.ones((2, 9))), "float32")
    )


def test_empty_sequence(backend_impl):
    xp, impl = backend_impl
    a = xp.zeros((3, 0), dtype=xp.float64)
    h0 = testing.from_numpy(xp, np.arange(3.0))
    assert tuple(diag_scan(a, a, h0, impl=impl).shape) == (3, 0)
    g = diag_scan_vjp(a, a, a, h0, dlast_state=testing.from_numpy(xp, np.ones(3)), impl=impl)
    assert tuple(g.da.shape) == (3, 0) and tuple(g.db.shape) == (3, 0)
    testing.assert_close(g.dh0, testing.from_numpy(xp, np.ones(3)))


@pytest.mark.parametrize("lead,L", [((3,), 2048), ((3,), 2049), ((2, 35), 2053), ((1,), 5000)])
@pytest.mark.parametrize("reverse", [False, True])
def test_constant_gate_long_rows(backend_impl, dtype, rng, lead, L, reverse):
    """Long rows with a constant gate take the Toeplitz-chunk path in the generic impl."""
    xp, impl = backend_impl
    a, b, h0 = _data(rng, lead, L, dtype, a_shape=lead + (1,))
    a = 0.999 * a / np.abs(a)  # slow decay: the carries matter across many chunks
    want = diag_scan_ref(a, b, h0, reverse=reverse)
    A, Bx, H0 = (testing.from_numpy(xp, v, dtype) for v in (a, b, h0))
    # Normwise: |h| grows to ~sqrt(1/(1-|a|^2)) ~ 20, and elementwise rtol is meaningless at the
    # zero crossings of a long float32 accumulation.
    rtol, atol = testing.tolerance(dtype)
    testing.assert_close(diag_scan(A, Bx, H0, reverse=reverse, impl=impl),
                         testing.from_numpy(xp, want, dtype), rtol=rtol,
                         atol=atol * np.abs(want).max())
    dh = rng.standard_normal(want.shape)
    want_g = diag_scan_vjp_ref(dh, a, b, h0, reverse=reverse, dlast_state=dh[..., 0])
    got_g = diag_scan_vjp(testing.from_numpy(xp, dh, dtype), A, Bx, H0, reverse=reverse,
                          dlast_state=testing.from_numpy(xp, dh[..., 0], dtype), impl=impl)
    # da of a constant gate is a sum over all L steps of lam_t * conj(h_{t-1}) with heavy
    # cancellation: its error scales with sum |lam_t h_{t-1}|, not with |da| (the plain loop
    # shows the same float32 error as the Toeplitz path).
    h_prev = np.concatenate([want[..., 1:], h0[..., None]] if reverse
                            else [h0[..., None], want[..., :-1]], axis=-1)
    scale = {"da": np.abs(want_g[1] * h_prev).sum(axis=-1).max()}
    for name, g, w in zip(got_g._fields, got_g, want_g):
        testing.assert_close(g, testing.from_numpy(xp, w, g.dtype), rtol=rtol,
                             atol=atol * scale.get(name, np.abs(w).max()), err_msg=name)
