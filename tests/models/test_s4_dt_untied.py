"""S4 with ``dt_tie=False`` (one dt per mode, inv_dt (H, N/2)): lrnnx's keys and shapes, forward =
the float64 eigenbasis recurrence of diag(dt_f)(Λ_f - P_f P_f^H) (``_s4_oracle``), step loop =
forward in every step mode, C̃ checkpoints, state input, rate, round trip, float32 ~ float64."""

from __future__ import annotations

import numpy as np
import pytest
from _s4_oracle import LENGTHS, S4_TABLE, block_oracle, host, ssm_params, step_loop

from lrnnx_array import ops, testing
from lrnnx_array._ops.dplr_kernel._ref import dplr_kernel_ref
from lrnnx_array.models.lti import S4

testing.add_override("s4u_float32_block", 10.0,
                     "three GELUs and two Linears after an N-mode SSM sum in float32")
testing.add_override("s4u_diagonal_step", 1e3,
                     "diagonal step mode: eig of the non-normal dense bilinear matrix")

CONFIGS = [
    dict(dt_tie=False),
    dict(dt_tie=False, rank=2, init="legt", n_ssm=4, channels=2),
    dict(dt_tie=False, gate=2, transposed=False, dt_fast=True),
    dict(dt_tie=False, init="diag-inv", bottleneck=2),
    dict(dt_tie=False, is_real=True),
]
IDS = ["-".join(f"{k}={v}" for k, v in kw.items()) for kw in CONFIGS]


def _model(kw, xp=None, dtype="float64", H=8, N=8):
    return S4(H, d_state=N, seed=3, dtype=dtype, xp=xp, verbose=False, dt_max=0.5,
              **kw).eval()


def _x(model, B, L, seed=0):
    shape = (B, model.d_model, L) if model.transposed else (B, L, model.d_model)
    return np.random.default_rng(seed).standard_normal(shape)


def test_state_dict_keys_and_shapes_are_lrnnx():
    untied = [(kw, want) for kw, want in S4_TABLE if kw.get("dt_tie") is False]
    assert untied  # the lrnnx table has the dt_tie=False row (inv_dt (8, 4))
    for kw, want in untied:
        got = [(k, tuple(v.shape)) for k, v in S4(8, d_state=8, seed=0, **kw).state_dict().items()]
        assert got == [(k, tuple(s)) for k, s in want]
    sd = S4(8, d_state=16, seed=0, dt_tie=False).state_dict()
    assert sd["inv_dt"].shape == sd["layer.kernel.inv_dt"].shape == (8, 8)
    # one dt per mode really varies over the modes (else the tests below could not tell)
    assert np.ptp(host(sd["inv_dt"]), axis=1).min() > 0


@pytest.mark.parametrize("kw", CONFIGS, ids=IDS)
def test_forward_equals_float64_recurrence(kw, xp):
    model = _model(kw, xp)
    x = _x(model, 2, 33)
    y, state = model(testing.from_numpy(xp, x))
    assert state is None
    testing.assert_close(y, testing.from_numpy(xp, block_oracle(model, x)), scale=10.0)


def test_kernel_differs_from_the_tied_kernel_of_any_one_mode():
    """The per-mode steps matter: replacing them by one per channel changes the kernel."""
    model = _model(dict(dt_tie=False))
    k, _ = model.compute_kernel(L=20)
    dt, A, B, C, P = ssm_params(model)
    for j in range(dt.shape[1]):
        tied = ops.dplr_kernel(A, B, C, P, dt[:, j], 20).k
        assert np.abs(k - tied).max() > 1e-3 * np.abs(k).max()


@pytest.mark.parametrize("kw", CONFIGS, ids=IDS)
@pytest.mark.parametrize("L", LENGTHS)
def test_step_loop_equals_forward(kw, L):
    model = _model(kw)
    x = _x(model, 2, L)
    y, _ = model(x)
    ys, cache = step_loop(model, x)
    testing.assert_close(ys, y, scale=10.0)
    assert cache["lrnn_state"].shape == (2, model.H, model.d_state)


@pytest.mark.parametrize("mode", ["dense", "linear", "diagonal"])
def test_step_modes(mode, xp):
    model = _model(dict(dt_tie=False, channels=2, rank=2, init="legt"), xp)
    x = _x(model, 2, 40)
    y, _ = model(testing.from_numpy(xp, x))
    ys, cache = step_loop(model, testing.from_numpy(xp, x), mode)
    n = model.d_state // 2 if mode == "linear" else model.d_state
    assert tuple(cache["lrnn_state"].shape) == (2, 8, n)
    testing.assert_close(ys, y, override="s4u_diagonal_step" if mode == "diagonal" else None,
                         scale=10.0)


def test_constant_per_mode_dt_is_the_tied_model():
    untied = _model(dict(dt_tie=False))
    sd = {k: host(v).copy() for k, v in untied.state_dict().items()}
    row = sd["inv_dt"][:, :1]
    sd["inv_dt"] = sd["layer.kernel.inv_dt"] = np.repeat(row, 4, axis=1)
    flat = S4.from_state_dict(sd, d_model=8, d_state=8, dtype="float64", dt_tie=False).eval()
    sd["inv_dt"] = sd["layer.kernel.inv_dt"] = row
    tied = S4.from_state_dict(sd, d_model=8, d_state=8, dtype="float64").eval()
    x = _x(tied, 2, 24)
    np.testing.assert_array_equal(flat(x)[0], tied(x)[0])


@pytest.mark.parametrize("rate", [0.5, 2.0])
def test_rate_scales_the_per_mode_steps(rate):
    model = _model(dict(dt_tie=False, rank=2, init="legt"))
    dt, A, B, C, P = ssm_params(model)
    k, _ = model.compute_kernel(L=16, rate=rate)
    want, _ = dplr_kernel_ref(A, B, C, P, dt, 16, rate=rate)
    testing.assert_close(k, want, scale=10.0)


def test_state_input_continues_the_sequence():
    model = _model(dict(dt_tie=False, rank=2, init="legt"))
    x = _x(model, 2, 30)
    y_full, _ = model(x)
    _, cache = step_loop(model, x[:, :, :12])
    y2, next_state = model(x[:, :, 12:], state=cache["lrnn_state"][..., :4])
    testing.assert_close(y2, y_full[:, :, 12:], scale=10.0)
    _, cache_full = step_loop(model, x)
    testing.assert_close(next_state, cache_full["lrnn_state"][..., :4], scale=10.0)


@pytest.mark.parametrize("l_max", [None, 24])
def test_lrnnx_checkpoint_after_forward_holds_c_tilde(l_max):
    """An lrnnx checkpoint saved after a forward holds C̃ (made with the per-mode Ā)."""
    raw = _model(dict(dt_tie=False, l_max=l_max))
    sd = {k: host(v).copy() for k, v in raw.state_dict().items()}
    dt, A, B, C, P = raw.layer.kernel.process_params()
    Ct = ops.c_tilde(A, C, P, dt, 32, dt_tie=False)
    sd["C"] = sd["layer.kernel.C"] = np.stack([Ct.real, Ct.imag], -1)
    sd["layer.kernel.l_kernel"] = np.asarray(32, np.int64)
    tilde = S4.from_state_dict(sd, d_model=8, d_state=8, dtype="float64", l_max=l_max,
                               dt_tie=False, dt_max=0.5).eval()
    for L in (7, 32, 48):  # 48 > l_kernel: doubled to 64 as lrnnx does
        x = _x(raw, 2, L)
        testing.assert_close(tilde(x)[0], raw(x)[0], scale=10.0, err_msg=f"L={L}")
    ys, _ = step_loop(tilde, _x(raw, 2, 20))  # the step recovers C from C̃
    testing.assert_close(ys, raw(_x(raw, 2, 20))[0], scale=10.0)
    tilde.layer.kernel.double_length()
    assert int(tilde.layer.kernel.l_kernel) == 64
    testing.assert_close(tilde(_x(raw, 2, 50))[0], raw(_x(raw, 2, 50))[0], scale=10.0)


@pytest.mark.parametrize("kw", CONFIGS[:3], ids=IDS[:3])
def test_round_trip_and_no_mutation(kw, xp):
    model = _model(kw, xp)
    before = {k: host(v).copy() for k, v in model.state_dict().items()}
    x = testing.from_numpy(xp, _x(model, 2, 16))
    y, _ = model(x)
    step_loop(model, x)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(host(v), before[k], err_msg=k)
    back = S4.from_state_dict(before, d_model=8, d_state=8, dtype="float64", xp=xp, **kw)
    for k, v in back.state_dict().items():
        np.testing.assert_array_equal(host(v), before[k], err_msg=k)
        assert host(v).dtype == before[k].dtype
    testing.assert_close(back.eval()(x)[0], y)


def test_float32_agrees_with_float64():
    kw = dict(dt_tie=False, rank=2, init="legt")
    m64 = _model(kw)
    m32 = S4.from_state_dict({k: host(v) for k, v in m64.state_dict().items()}, d_model=8,
                             d_state=8, dtype="float32", **kw).eval()
    x = _x(m64, 2, 64)
    y32, _ = m32(x.astype(np.float32))
    assert y32.dtype == np.float32
    testing.assert_close(y32, m64(x)[0].astype(np.float32), override="s4u_float32_block")


def test_finite_at_lrnnx_test_sizes():
    model = S4(32, d_state=16, seed=0, transposed=False, dt_tie=False)
    y, _ = model(np.random.default_rng(0).standard_normal((32, 64, 32)).astype(np.float32))
    assert y.dtype == np.float32 and np.all(np.isfinite(y))


def test_loading_a_tied_inv_dt_into_an_untied_model_is_refused():
    sd = S4(8, d_state=8, seed=0).state_dict()
    with pytest.raises(ValueError, match="inv_dt"):
        S4.from_state_dict(sd, d_model=8, d_state=8, dt_tie=False)
