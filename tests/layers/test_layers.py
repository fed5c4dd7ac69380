"""Layers: activations vs SciPy/NumPy float64 formulas, Linear/norms vs NumPy oracles, dropout."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp

from lrnnx_array import testing
from lrnnx_array.layers import (
    Activation,
    Dropout,
    LayerNorm,
    Linear,
    RMSNorm,
    erfc,
    gelu,
    get_activation,
    glu,
    sigmoid,
    silu,
    softplus,
)
from lrnnx_array.layers.activations import _erfc_array_api


def _np(x):
    return testing.to_numpy(x)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_erfc_array_api_fallback_matches_scipy(dtype):
    import array_api_compat.numpy as xnp

    x = np.linspace(-10, 25, 70001).astype(dtype)
    want = sp.erfc(x.astype(np.float64))
    got = _erfc_array_api(xnp, x)
    assert got.dtype == x.dtype
    keep = want > np.finfo(dtype).tiny * 1e3
    rel = np.abs(got.astype(np.float64) - want)[keep] / want[keep]
    # relative, including the tail: float64 ~ 1e-14 (exp(-t^2) rounding at t ~ 25)
    assert rel.max() < (1e-13 if dtype == "float64" else 2e-5), rel.max()


def test_erfc_dispatch_per_backend(xp, real_dtype):
    x = np.linspace(-6, 6, 1001)
    got = erfc(testing.from_numpy(xp, x, real_dtype))
    testing.assert_close(got, testing.from_numpy(xp, sp.erfc(x), real_dtype))


def test_gelu_is_exact_erf_form(xp, real_dtype):
    x = np.linspace(-9, 9, 2001)
    want = x * sp.ndtr(x)  # x * Phi(x)
    got = gelu(testing.from_numpy(xp, x, real_dtype))
    testing.assert_close(got, testing.from_numpy(xp, want, real_dtype))
    # the tanh approximation differs by ~1e-3 near |x| ~ 2: the test would see it
    tanh_form = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    assert np.max(np.abs(tanh_form - want)) > 1e-4


def test_elementwise_activations(xp, real_dtype):
    x = np.linspace(-50, 50, 1001)
    a = testing.from_numpy(xp, x, real_dtype)
    sig = 1 / (1 + np.exp(-x))
    testing.assert_close(sigmoid(a), testing.from_numpy(xp, sig, real_dtype))
    testing.assert_close(silu(a), testing.from_numpy(xp, x * sig, real_dtype))
    testing.assert_close(softplus(a), testing.from_numpy(xp, np.logaddexp(0, x), real_dtype))
    for name, want in [("relu", np.maximum(x, 0)), ("tanh", np.tanh(x)), ("id", x),
                       (None, x), ("swish", x * sig)]:
        got = get_activation(name, xp=xp)(a)
        testing.assert_close(got, testing.from_numpy(xp, want, real_dtype), err_msg=str(name))


def test_glu(xp):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 4))
    want = x[:, :3] / (1 + np.exp(-x[:, 3:]))
    got = glu(testing.from_numpy(xp, x), axis=1)
    testing.assert_close(got, testing.from_numpy(xp, want))
    got = Activation("glu", dim=1, xp=xp)(testing.from_numpy(xp, x))
    testing.assert_close(got, testing.from_numpy(xp, want))
    with pytest.raises(ValueError, match="even size"):
        glu(testing.from_numpy(xp, np.ones((2, 3))))


def test_activation_bad_names():
    with pytest.raises(ValueError, match="activation must be one of"):
        get_activation("gleu")
    with pytest.raises(TypeError, match="activation name"):
        get_activation(3)


def test_linear_forward_init_and_keys(xp, real_dtype):
    lin = Linear(5, 3, seed=7, dtype=real_dtype, xp=xp)
    assert list(lin.state_dict()) == ["weight", "bias"]
    w, b = _np(lin.weight), _np(lin.bias)
    assert w.shape == (3, 5) and b.shape == (3,) and str(w.dtype) == real_dtype
    bound = 1 / np.sqrt(5)
    assert np.all(np.abs(w) <= bound) and np.all(np.abs(b) <= bound)
    big = _np(Linear(400, 50, seed=1).weight)  # U(-1/20, 1/20): std = 1/(20 sqrt 3)
    assert np.std(big) == pytest.approx(1 / (20 * np.sqrt(3)), rel=0.05)
    x = np.random.default_rng(0).standard_normal((2, 4, 5))
    got = lin(testing.from_numpy(xp, x, real_dtype))
    want = x.astype(real_dtype).astype(np.float64) @ w.T.astype(np.float64) + b
    testing.assert_close(got, testing.from_numpy(xp, want, real_dtype))
    # same seed, same parameters; no bias -> no key
    np.testing.assert_array_equal(_np(Linear(5, 3, seed=7, dtype=real_dtype).weight), w)
    assert list(Linear(5, 3, bias=False).state_dict()) == ["weight"]


def test_linear_round_trip_and_promotion(xp):
    lin = Linear(4, 2, seed=3, xp=xp)
    sd = {k: _np(v) for k, v in lin.state_dict().items()}
    back = Linear.from_state_dict(sd, in_features=4, out_features=2, xp=xp)
    for k in sd:
        np.testing.assert_array_equal(_np(back.state_dict()[k]), sd[k])
    y = lin(testing.from_numpy(xp, np.ones((1, 4)), "float64"))
    assert y.dtype == xp.float64  # float32 weights, float64 input: float64 out
    if hasattr(xp, "float16"):
        y = lin(testing.from_numpy(xp, np.ones((1, 4)), "float16"))
        assert y.dtype == xp.float32


def test_linear_bad_inputs(xp):
    lin = Linear(4, 2, xp=xp)
    with pytest.raises(ValueError, match="last dimension 4"):
        lin(testing.from_numpy(xp, np.ones((2, 3))))
    with pytest.raises(TypeError, match="floating dtype"):
        lin(xp.ones((2, 4), dtype=xp.int32))
    with pytest.raises(TypeError, match="got None"):
        lin(None)
    with pytest.raises(TypeError, match="got list"):
        lin([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(TypeError, match="bias must be a bool"):
        Linear(4, 2, bias=1)
    with pytest.raises(ValueError, match="out_features must be >= 1"):
        Linear(4, 0)
    with pytest.raises(TypeError, match="in_features must be an integer"):
        Linear(4.0, 2)
    with pytest.raises(TypeError, match="float32 or float64"):
        Linear(4, 2, dtype="int32")
    with pytest.raises(ValueError, match="shape"):
        lin.load_state_dict({"weight": np.ones((4, 2)), "bias": np.ones(2)})
    with pytest.raises(ValueError, match="NaN or inf"):
        lin.load_state_dict({"weight": np.full((2, 4), np.nan), "bias": np.ones(2)})


def test_linear_rejects_other_library():
    import array_api_strict as xps

    lin = Linear(4, 2)
    with pytest.raises(TypeError, match="array_api_strict array"):
        lin(xps.ones((1, 4)))


def test_layernorm_and_rmsnorm(xp, real_dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 6)) * 3 + 1
    ln = LayerNorm(6, eps=1e-5, dtype=real_dtype, xp=xp)
    assert list(ln.state_dict()) == ["weight", "bias"]
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    ln.load_state_dict({"weight": w, "bias": b})
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    want = (x - mu) / np.sqrt(var + 1e-5) * w + b
    testing.assert_close(ln(testing.from_numpy(xp, x, real_dtype)),
                         testing.from_numpy(xp, want, real_dtype))
    rms = RMSNorm(6, dtype=real_dtype, xp=xp)
    assert list(rms.state_dict()) == ["weight"]
    rms.load_state_dict({"weight": w})
    want = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5) * w
    testing.assert_close(rms(testing.from_numpy(xp, x, real_dtype)),
                         testing.from_numpy(xp, want, real_dtype))
    assert list(LayerNorm(6, elementwise_affine=False).state_dict()) == []
    with pytest.raises(ValueError, match="eps must be positive"):
        LayerNorm(6, eps=0.0)
    with pytest.raises(ValueError, match="last dimension 6"):
        rms(testing.from_numpy(xp, np.ones((2, 5))))


def test_dropout_modes(xp):
    x = testing.from_numpy(xp, np.ones((64, 32)), "float32")
    d = Dropout(0.25, seed=5, xp=xp)
    y = _np(d(x))
    assert set(np.unique(y).tolist()) <= {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.05
    assert abs(y.mean() - 1.0) < 0.08  # inverted scaling keeps the mean
    y2 = _np(Dropout(0.25, seed=5, xp=xp)(x))
    np.testing.assert_array_equal(y, y2)  # seeded
    assert np.any(_np(d(x)) != y)  # the stream advances
    d.eval()
    np.testing.assert_array_equal(_np(d(x)), _np(x))
    np.testing.assert_array_equal(_np(Dropout(0.0, xp=xp)(x)), _np(x))
    assert not np.any(_np(Dropout(1.0, xp=xp)(x)))
    tied = _np(Dropout(0.5, tie_axis=0, seed=1, xp=xp)(x))
    assert np.all(tied == tied[:1])
    with pytest.raises(ValueError, match="p must be in"):
        Dropout(1.5)
    with pytest.raises(TypeError, match="p must be a number"):
        Dropout("0.1")
    with pytest.raises(TypeError, match="mode must be a bool"):
        d.train(1)
