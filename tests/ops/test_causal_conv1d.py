"""causal_conv1d: NumPy/SciPy oracle for the reference, finite differences for its VJP, every impl
vs the reference, the update step vs the forward, and the named errors."""

import numpy as np
import pytest
import scipy.signal

from lrnnx_array import testing
from lrnnx_array._ops.causal_conv1d._ref import (
    causal_conv1d_ref,
    causal_conv1d_update_ref,
    causal_conv1d_vjp_ref,
)
from lrnnx_array.ops import causal_conv1d, causal_conv1d_update, causal_conv1d_vjp

SIZES = [(1, 1, 1, 1), (2, 3, 7, 4), (3, 5, 2, 4), (2, 4, 33, 3), (1, 2, 5, 1)]  # B, D, L, K


def _data(rng, B, D, L, K):
    return (rng.standard_normal((B, D, L)), rng.standard_normal((D, K)),
            rng.standard_normal(D), rng.standard_normal((B, D, K - 1)))


# ---- tier 1: the reference against SciPy ---------------------------------------------------


@pytest.mark.parametrize("B,D,L,K", SIZES)
def test_ref_matches_scipy(rng, B, D, L, K):
    x, w, b, init = _data(rng, B, D, L, K)
    pre, final = causal_conv1d_ref(x, w, b, None, init)
    out, _ = causal_conv1d_ref(x, w, b, "silu", init)
    for i in range(B):
        for d in range(D):
            # lfilter with FIR taps w reversed; its zi carries the initial inputs' contribution.
            zi = scipy.signal.lfiltic(w[d, ::-1], [1.0], [], x=init[i, d, ::-1])
            y, _ = scipy.signal.lfilter(w[d, ::-1], [1.0], x[i, d], zi=zi)
            full = np.convolve(np.concatenate([init[i, d], x[i, d]]), w[d, ::-1])
            np.testing.assert_allclose(pre[i, d], y + b[d], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(pre[i, d], full[K - 1:K - 1 + L] + b[d], rtol=1e-12,
                                       atol=1e-12)
    np.testing.assert_allclose(out, pre / (1 + np.exp(-pre)), rtol=1e-12, atol=1e-14)
    want_final = np.concatenate([init, x], axis=-1)[:, :, L:]
    np.testing.assert_array_equal(final, want_final)


# ---- tier 2: the reference VJP against finite differences ----------------------------------


@pytest.mark.parametrize("activation", [None, "silu"])
@pytest.mark.parametrize("B,D,L,K", [(2, 3, 6, 4), (1, 2, 2, 3)])
def test_ref_vjp_finite_differences(rng, activation, B, D, L, K):
    x, w, b, init = _data(rng, B, D, L, K)

    def f(x, w, b, init):
        return causal_conv1d_ref(x, w, b, activation, init)

    def f_vjp(cots, x, w, b, init):
        return causal_conv1d_vjp_ref(cots[0], x, w, b, activation, init, cots[1])

    testing.check_vjp(f, f_vjp, (x, w, b, init))


# ---- tier 3: every impl on every backend and dtype against the reference -------------------


@pytest.mark.parametrize("activation", [None, "silu", "swish"])
@pytest.mark.parametrize("B,D,L,K", SIZES)
def test_impl_matches_ref(backend_impl, real_dtype, rng, activation, B, D, L, K):
    xp, impl = backend_impl
    x, w, b, init = _data(rng, B, D, L, K)
    dout, dfin = rng.standard_normal(x.shape), rng.standard_normal(init.shape)
    act = None if activation is None else "silu"
    want, want_final = causal_conv1d_ref(x, w, b, act, init)
    wg = causal_conv1d_vjp_ref(dout, x, w, b, act, init, dfin)
    a = [testing.from_numpy(xp, v, real_dtype) for v in (x, w, b, init, dout, dfin)]
    out, final = causal_conv1d(*a[:3], activation, initial_states=a[3], return_final_states=True,
                               impl=impl)
    testing.assert_close(out, testing.from_numpy(xp, want, real_dtype))
    testing.assert_close(final, testing.from_numpy(xp, want_final, real_dtype))
    grads = causal_conv1d_vjp(a[4], *a[:3], activation, initial_states=a[3], dfinal_states=a[5],
                              impl=impl)
    for name, g, w_ in zip(grads._fields, grads, wg):
        testing.assert_close(g, testing.from_numpy(xp, w_, real_dtype), err_msg=name)


def test_no_bias_no_initial_state(xp, rng):
    x, w, _, _ = _data(rng, 2, 3, 8, 4)
    got = causal_conv1d(xp.asarray(x), xp.asarray(w))
    testing.assert_close(got, xp.asarray(causal_conv1d_ref(x, w)[0]))
    g = causal_conv1d_vjp(xp.asarray(x), xp.asarray(x), xp.asarray(w))
    assert g.dbias is None and g.dinitial_states is None
    testing.assert_close(g.dx, xp.asarray(causal_conv1d_vjp_ref(x, x, w)[0]))


def test_float16_computes_float32(rng):
    x, w, b, _ = _data(rng, 1, 2, 5, 3)
    out = causal_conv1d(x.astype(np.float16), w.astype(np.float16), b.astype(np.float16))
    assert out.dtype == np.float32


def test_zero_sizes(xp):
    w = xp.ones((3, 4))
    assert causal_conv1d(xp.zeros((2, 3, 0)), w).shape == (2, 3, 0)
    out, fin = causal_conv1d(xp.zeros((0, 3, 5)), w, return_final_states=True)
    assert out.shape == (0, 3, 5) and fin.shape == (0, 3, 3)
    assert causal_conv1d(xp.zeros((2, 0, 5)), xp.ones((0, 4))).shape == (2, 0, 5)


# ---- the step -------------------------------------------------------------------------------


@pytest.mark.parametrize("state_len_extra", [0, 1, 3])
@pytest.mark.parametrize("activation", [None, "silu"])
def test_update_loop_equals_forward(backend_impl, real_dtype, rng, state_len_extra, activation):
    xp, impl = backend_impl
    B, D, L, K = 2, 3, 9, 4
    x, w, b, init = _data(rng, B, D, L, K)
    S = K - 1 + state_len_extra
    state0 = np.concatenate([rng.standard_normal((B, D, state_len_extra)), init], axis=-1)
    want, want_final = causal_conv1d_ref(x, w, b, activation, init)
    state = testing.from_numpy(xp, state0, real_dtype)
    a = [testing.from_numpy(xp, v, real_dtype) for v in (x, w, b)]
    outs = [causal_conv1d_update(a[0][:, :, t], state, a[1], a[2], activation, impl=impl)
            for t in range(L)]
    testing.assert_close(xp.stack(outs, axis=-1), testing.from_numpy(xp, want, real_dtype))
    testing.assert_close(state[:, :, S - (K - 1):], testing.from_numpy(xp, want_final, real_dtype))
    # Several tokens in one call: the same as one at a time.
    state2 = testing.from_numpy(xp, state0, real_dtype)
    multi = causal_conv1d_update(a[0], state2, a[1], a[2], activation, impl=impl)
    testing.assert_close(multi, testing.from_numpy(xp, want, real_dtype))
    testing.assert_close(state2, state)
    ref_out, ref_state = causal_conv1d_update_ref(x, state0, w, b, activation)
    testing.assert_close(state2, testing.from_numpy(xp, ref_state, real_dtype))


# ---- errors ---------------------------------------------------------------------------------


def test_errors_name_the_argument(rng):
    x, w, b, init = _data(rng, 2, 3, 8, 4)
    with pytest.raises(TypeError, match="x is required"):
        causal_conv1d(None, w)
    with pytest.raises(TypeError, match="weight"):
        causal_conv1d(x, w.astype(np.int64))
    with pytest.raises(TypeError, match="x must have a real"):
        causal_conv1d(x + 0j, w)
    with pytest.raises(ValueError, match=r"squeeze a Conv1d weight"):
        causal_conv1d(x, w[:, None, :])
    with pytest.raises(ValueError, match=r"looks like \(batch, seqlen, dim\)"):
        causal_conv1d(np.swapaxes(x, 1, 2), w)
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        causal_conv1d(x[0], w)
    with pytest.raises(ValueError, match="bias must have shape"):
        causal_conv1d(x, w, b[:2])
    with pytest.raises(ValueError, match="initial_states must have shape"):
        causal_conv1d(x, w, b, initial_states=init[:, :, :2])
    with pytest.raises(ValueError, match="activation must be one of"):
        causal_conv1d(x, w, b, "relu")
    with pytest.raises(TypeError, match="return_final_states must be a bool"):
        causal_conv1d(x, w, return_final_states=1)
    with pytest.raises(ValueError, match="width"):
        causal_conv1d(x, w[:, :0])
    bad = w.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="weight must be finite"):
        causal_conv1d(x, bad)
    assert np.isnan(causal_conv1d(x, bad, check_finite=False)).any()
    with pytest.raises(ValueError, match="impl"):
        causal_conv1d(x, w, impl="cuda")
    with pytest.raises(ValueError, match="dout must have shape"):
        causal_conv1d_vjp(x[:, :, :2], x, w)


def test_update_errors_leave_state_untouched(rng):
    x, w, b, _ = _data(rng, 2, 3, 1, 4)
    state = rng.standard_normal((2, 3, 4))
    before = state.copy()
    cases = [
        ((x[:, :, 0], state[:1], w, b), "conv_state must have shape"),
        ((x[:, :, 0], state[:, :, :2], w, b), "at least width - 1"),
        ((x[:, :, 0], state, w, b[:1]), "bias must have shape"),
        ((x[:, :, 0], state, w[:2], b), "weight must have shape"),
        ((x[:, 0, 0], state, w, b), "x must have 2 or 3 dimensions"),
    ]
    for args, msg in cases:
        with pytest.raises(ValueError, match=msg):
            causal_conv1d_update(*args)
        np.testing.assert_array_equal(state, before)
    with pytest.raises(TypeError, match="conv_state is required"):
        causal_conv1d_update(x[:, :, 0], None, w)
    nan_w = w.copy()
    nan_w[1, 1] = np.inf
    with pytest.raises(ValueError, match="weight must be finite"):
        causal_conv1d_update(x[:, :, 0], state, nan_w)
    np.testing.assert_array_equal(state, before)
