"""LTV models (Mamba, RG-LRU, S5-LTV, S7): forward vs float64 loop oracles, step loop = forward,
prefill + steps = forward, event mode with equal steps, float32 vs float64, large sizes finite."""

import numpy as np
import pytest
from ltv_cases import CASES, MODE_IDS, MODES, data

from lrnnx_array import testing

testing.add_override(
    "ltv_model_float32", 10.0,
    "a whole block (projections, conv, scan, gates) in float32 against float64: the errors of "
    "several float32 ops add up (measured max 3e-6 relative at L=9)")


def _x(xp, dtype, ev, B=2, L=9):
    x, ts = data(B, L)
    return testing.from_numpy(xp, x, dtype), (testing.from_numpy(xp, ts, dtype) if ev else None)


@pytest.mark.parametrize("case,ev", MODES, ids=MODE_IDS)
def test_forward_matches_oracle(case, ev):
    make, oracle, _ = CASES[case]
    m = make(seed=0, dtype="float64")
    x, ts = data()
    want = oracle(m, x, ts if ev else None)
    got = m(x, ts if ev else None)
    testing.assert_close(got, want)


@pytest.mark.parametrize("case,ev", MODES, ids=MODE_IDS)
def test_step_loop_and_prefill_equal_forward(xp, case, ev):
    make, _, _ = CASES[case]
    m = make(seed=0, dtype="float64", xp=xp)
    x, ts = _x(xp, "float64", ev)
    L = x.shape[1]
    y = m(x, ts)

    def tau(t):
        return None if ts is None else ts[:, t]

    cache = m.allocate_inference_cache(2, L)
    steps = [m.step(x[:, t:t + 1, :], cache, tau(t))[0] for t in range(L)]
    testing.assert_close(xp.concat(steps, axis=1), y, err_msg="step loop")
    assert cache["seqlen_offset"] == L
    # Prefill on 5 tokens stores the final states; then steps, by step() and by forward().
    cache = m.allocate_inference_cache(2, L)
    y0 = m(x[:, :5, :], None if ts is None else ts[:, :5], inference_cache=cache)
    assert cache["seqlen_offset"] == 0
    outs = [y0, m.step(x[:, 5:6, :], cache, tau(5))[0]]
    for t in range(6, L):
        outs.append(m(x[:, t:t + 1, :], None if ts is None else ts[:, t:t + 1],
                      inference_cache=cache))
    testing.assert_close(xp.concat(outs, axis=1), y, err_msg="prefill + steps")


@pytest.mark.parametrize("case", [c for c, ev in MODES if ev])
def test_event_mode_equal_steps_reduces_to_normal(case):
    """S5: τ ≡ 1 gives Δᴬ = dt, the normal mode. Mamba: with dt_proj.weight = 0 the input step is
    Δ = softplus(b) per channel; τ·softplus(b_A) = Δ for τ ≡ c then gives the normal mode."""
    make, _, _ = CASES[case]
    m = make(seed=0, dtype="float64")
    x, _ = data()
    tau = 1.0
    if case.startswith("mamba"):
        sd = m.state_dict()
        sd["dt_proj.weight"] = np.zeros_like(sd["dt_proj.weight"])
        tau = 0.7
        dt = np.log1p(np.exp(sd["dt_proj.bias"]))
        sd["dtA_proj.bias"] = np.log(np.expm1(dt / tau))  # softplus(b_A) = Δ / τ
        m.load_state_dict(sd)
    ts = np.full(x.shape[:2], tau)
    testing.assert_close(m(x, ts), m(x))
    # And unequal steps change the output (the event path is really taken).
    assert not np.allclose(m(x, ts * np.linspace(0.5, 2, x.shape[1])), m(x))


@pytest.mark.parametrize("case,ev", MODES, ids=MODE_IDS)
def test_float32_matches_float64(xp, case, ev):
    make, _, _ = CASES[case]
    m64 = make(seed=0, dtype="float64", xp=xp)
    m32 = make(seed=0, dtype="float32", xp=xp)
    m32.load_state_dict(m64.state_dict())
    x64, ts64 = _x(xp, "float64", ev)
    x32, ts32 = _x(xp, "float32", ev)
    y32 = m32(x32, ts32)
    assert y32.dtype == xp.float32
    testing.assert_close(y32, testing.from_numpy(xp, testing.to_numpy(m64(x64, ts64)), "float32"),
                         override="ltv_model_float32")
    # float32 input on float64 parameters computes in float64 (promotion).
    assert m64(x32, ts32).dtype == xp.float64




@pytest.mark.parametrize("L", [256, pytest.param(1024, marks=pytest.mark.slow)])
@pytest.mark.parametrize("model", ["mamba", "rglru", "s5", "s7"])
def test_lrnnx_test_sizes_finite(model, L):
    from lrnnx_array.models.ltv import RGLRU, S5, S7, Mamba

    B, H, N = 32, 32, 16
    m = {"mamba": lambda: Mamba(H, d_state=N, seed=0), "rglru": lambda: RGLRU(H, seed=0),
         "s5": lambda: S5(H, N, seed=0), "s7": lambda: S7(H, N, seed=0)}[model]()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, L, H)).astype(np.float32)
    ts = rng.uniform(0.1, 2.0, (B, L)).astype(np.float32) if model in ("mamba", "s5") else None
    y = m(x, ts)
    assert y.shape == (B, L, H) and y.dtype == np.float32 and np.all(np.isfinite(y))
    cache = m.allocate_inference_cache(B, L)
    m(x, ts, inference_cache=cache)
    y1, _ = m.step(x[:, :1], cache, None if ts is None else ts[:, 0])
    assert np.all(np.isfinite(y1))


def test_rglru_init_decay_in_range():
    from lrnnx_array.models.ltv import RGLRU

    m = RGLRU(64, expand=2, seed=0, dtype="float64")
    a = 1 / (1 + np.exp(-m.a_log))
    assert a.shape == (128, 1) and a.min() >= 0.9 and a.max() <= 0.999
    assert a.std() > 0.02  # drawn, not constant


def test_s7_base_params_are_hippo_real_parts():
    from lrnnx_array.models.ltv import S7

    for J in (1, 2, 4):
        np.testing.assert_allclose(S7(4, 8, J=J, seed=0).base_params, -0.5, rtol=1e-7)
