"""S4 and S4D blocks: lrnnx's state_dict tables, forward = float64 recurrence oracle, step loop =
forward, float32 ~ float64, round trip (incl. C-tilde checkpoints), lengths, errors."""

from __future__ import annotations

import numpy as np
import pytest
from _s4_oracle import LENGTHS, S4_TABLE, S4D_TABLE, block_oracle, host, step_loop

from lrnnx_array import ops, testing
from lrnnx_array.models.lti import S4, S4D

testing.add_override("s4_float32_block", 10.0,
                     "three GELUs and two Linears after an N-mode SSM sum in float32")
testing.add_override("s4_diagonal_step", 1e3,
                     "diagonal step mode: eig of the non-normal dense bilinear matrix")

CONFIGS = [
    (S4, dict()),
    (S4, dict(channels=2, gate=2, transposed=False)),
    (S4, dict(rank=2, init="legt")),
    (S4, dict(bottleneck=2, init="hippo", n_ssm=2)),
    (S4, dict(is_real=True)),  # runs here, not in lrnnx
    (S4, dict(channels=3, gate=2, final_act="id")),  # lrnnx: shape error
    (S4D, dict()),
    (S4D, dict(disc="bilinear", init="diag-lin", dt_tie=False)),
    (S4D, dict(is_real=True, init="diag-real")),
    (S4D, dict(channels=2, gate=2)),  # lrnnx: AttributeError (no output_gate)
    (S4D, dict(gate=1, bottleneck=2, transposed=False)),
]
IDS = [f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}"
       for c, kw in CONFIGS]


def _model(cls, kw, xp=None, dtype="float64", H=8, N=8):
    return cls(H, d_state=N, seed=1, dtype=dtype, xp=xp, verbose=False, **kw).eval()


def _x(model, B, L, dtype="float64", seed=0):
    shape = (B, model.d_model, L) if model.transposed else (B, L, model.d_model)
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize(("cls", "table"), [(S4, S4_TABLE), (S4D, S4D_TABLE)])
def test_state_dict_matches_lrnnx_tables(cls, table):
    for kw, want in table:
        got = [(k, tuple(v.shape)) for k, v in cls(8, seed=0, **{"d_state": 8, **kw})
               .state_dict().items()]
        assert got == [(k, tuple(s)) for k, s in want], kw


@pytest.mark.parametrize(("cls", "kw"), CONFIGS, ids=IDS)
def test_forward_equals_float64_recurrence(cls, kw, xp):
    model = _model(cls, kw, xp)
    x = _x(model, 2, 33)
    y, state = model(testing.from_numpy(xp, x))
    assert state is None
    testing.assert_close(y, testing.from_numpy(xp, block_oracle(model, x)), scale=10.0)


@pytest.mark.parametrize(("cls", "kw"), CONFIGS, ids=IDS)
@pytest.mark.parametrize("L", LENGTHS)
def test_step_loop_equals_forward(cls, kw, L):
    model = _model(cls, kw)
    x = _x(model, 2, L)
    y, _ = model(x)
    ys, cache = step_loop(model, x)
    testing.assert_close(ys, y, scale=10.0)
    n = model.d_state if cls is S4 else model.d_state // 2
    assert cache["lrnn_state"].shape == (2, model.H, n)
    assert cache["lrnn_state"].dtype == np.complex128


@pytest.mark.slow
@pytest.mark.parametrize(("cls", "kw"), CONFIGS[:1] + CONFIGS[6:7], ids=IDS[:1] + IDS[6:7])
def test_step_loop_equals_forward_1024(cls, kw):
    model = _model(cls, kw)
    x = _x(model, 1, 1024)
    testing.assert_close(step_loop(model, x)[0], model(x)[0], scale=10.0)


@pytest.mark.parametrize("mode", ["dense", "linear", "diagonal"])
def test_s4_step_modes(mode, xp):
    model = _model(S4, dict(channels=2), xp)
    x = _x(model, 2, 40)
    y, _ = model(testing.from_numpy(xp, x))
    ys, cache = step_loop(model, testing.from_numpy(xp, x), mode)
    n = model.d_state // 2 if mode == "linear" else model.d_state
    assert tuple(cache["lrnn_state"].shape) == (2, 8, n)
    testing.assert_close(ys, y, override="s4_diagonal_step" if mode == "diagonal" else None,
                         scale=10.0)


@pytest.mark.parametrize(("cls", "kw"), CONFIGS, ids=IDS)
def test_float32_agrees_with_float64(cls, kw):
    m64 = _model(cls, kw)
    m32 = cls.from_state_dict({k: host(v) for k, v in m64.state_dict().items()},
                              d_model=8, d_state=8, dtype="float32", **kw).eval()
    x = _x(m64, 2, 64)
    y32, _ = m32(x.astype(np.float32))
    assert y32.dtype == np.float32
    testing.assert_close(y32, m64(x)[0].astype(np.float32), override="s4_float32_block")


@pytest.mark.parametrize("cls", [S4, S4D])
def test_finite_at_lrnnx_test_sizes(cls):
    model = cls(32, d_state=16, seed=0, transposed=False)
    x = np.random.default_rng(0).standard_normal((32, 64, 32)).astype(np.float32)
    y, _ = model(x)
    assert y.dtype == np.float32 and np.all(np.isfinite(y))


@pytest.mark.parametrize(("cls", "kw"), CONFIGS, ids=IDS)
def test_round_trip_and_no_mutation(cls, kw, xp):
    model = _model(cls, kw, xp)
    before = {k: host(v).copy() for k, v in model.state_dict().items()}
    x = testing.from_numpy(xp, _x(model, 2, 16))
    y, _ = model(x)
    step_loop(model, x)
    for k, v in model.state_dict().items():  # never mutated by forward / step set-up
        np.testing.assert_array_equal(host(v), before[k], err_msg=k)
    back = cls.from_state_dict(before, d_model=8, d_state=8, dtype="float64", xp=xp, **kw)
    for k, v in back.state_dict().items():
        np.testing.assert_array_equal(host(v), before[k], err_msg=k)
        assert host(v).dtype == before[k].dtype
    testing.assert_close(back.eval()(x)[0], y)


@pytest.mark.parametrize("l_max", [None, 24])
def test_lrnnx_checkpoint_after_forward_holds_c_tilde(l_max):
    """lrnnx replaces C by C̃ = C (I - Ā^Lk) on its first forward and sets l_kernel = Lk; a
    longer input then doubles l_kernel. Loading such a checkpoint gives the raw model's output."""
    raw = _model(S4, dict(l_max=l_max))
    sd = {k: host(v).copy() for k, v in raw.state_dict().items()}
    kern = raw.layer.kernel
    dt, A, B, C, P = kern.process_params()
    Lk = 32
    Ct = ops.c_tilde(A, C, P, dt, Lk)
    view = np.stack([Ct.real, Ct.imag], -1)
    sd["C"] = sd["layer.kernel.C"] = view
    sd["layer.kernel.l_kernel"] = np.asarray(Lk, np.int64)
    tilde = S4.from_state_dict(sd, d_model=8, d_state=8, dtype="float64", l_max=l_max).eval()
    for L in (7, 32, 48, 100):  # 48, 100 > l_kernel: doubled to 64 / 128 as lrnnx does
        x = _x(raw, 2, L)
        testing.assert_close(tilde(x)[0], raw(x)[0], err_msg=f"L={L}")
    ys, _ = step_loop(tilde, _x(raw, 2, 20))  # step recovers C from C̃
    testing.assert_close(ys, raw(_x(raw, 2, 20))[0])
    assert int(tilde.layer.kernel.l_kernel) == Lk  # nothing was rewritten
    tilde.layer.kernel.double_length()
    assert int(tilde.layer.kernel.l_kernel) == 2 * Lk
    testing.assert_close(tilde(_x(raw, 2, 50))[0], raw(_x(raw, 2, 50))[0])


@pytest.mark.parametrize("cls", [S4, S4D])
def test_lengths_masking_equals_shorter_sequence(cls, xp):
    model = _model(cls, dict(transposed=False), xp)
    x = _x(model, 3, 20)
    lengths = np.array([20, 13, 5])
    y, _ = model(testing.from_numpy(xp, x), lengths=xp.asarray(lengths))
    for b, n in enumerate(lengths):
        y_b, _ = model(testing.from_numpy(xp, x[b:b + 1, :n]))
        testing.assert_close(y[b:b + 1, :n, ...], y_b)
        xz = x[b:b + 1].copy()
        xz[:, n:] = 0  # the padded outputs are those of a zeroed input
        testing.assert_close(y[b:b + 1, ...], model(testing.from_numpy(xp, xz))[0])
    y_int, _ = model(testing.from_numpy(xp, x), lengths=20)
    testing.assert_close(y_int, model(testing.from_numpy(xp, x))[0])


@pytest.mark.parametrize("cls", [S4, S4D])
def test_state_input_continues_the_sequence(cls):
    model = _model(cls, dict())
    x = _x(model, 2, 30)
    y_full, _ = model(x)
    _, cache = step_loop(model, x[:, :, :12])
    if cls is S4:
        state = cache["lrnn_state"][..., : model.d_state // 2]  # half state of the dense one
    else:
        state = cache["lrnn_state"]
    y2, next_state = model(x[:, :, 12:], state=state)
    testing.assert_close(y2, y_full[:, :, 12:], scale=10.0)
    _, cache_full = step_loop(model, x)
    want = cache_full["lrnn_state"]
    want = want[..., : model.d_state // 2] if cls is S4 else want
    testing.assert_close(next_state, want, scale=10.0)


def test_dropout_only_in_training():
    model = S4D(8, d_state=8, dropout=0.5, seed=0)
    x = _x(model, 2, 10, "float32")
    y_train, _ = model(x)
    y_eval, _ = model.eval()(x)
    assert not np.allclose(y_train, y_eval)
    np.testing.assert_array_equal(model(x)[0], y_eval)


def test_zero_length_and_zero_batch():
    model = S4(8, d_state=8, seed=0)
    y, _ = model(np.zeros((2, 8, 0), np.float32))
    assert y.shape == (2, 8, 0)
    y, _ = model(np.zeros((0, 8, 5), np.float32))
    assert y.shape == (0, 8, 5)


def test_bad_constructor_arguments():
    cases = [
        (dict(d_state=7), ValueError, "d_state must be even"),
        (dict(n_ssm=3), ValueError, "n_ssm=3 must divide"),
        (dict(init="legt"), ValueError, "legt"),
        (dict(init="nope"), ValueError, "init"),
        (dict(dt_transform="tanh"), ValueError, "dt_transform"),
        (dict(transposed=1), TypeError, "transposed must be a bool"),
        (dict(dropout=1.5), ValueError, "dropout"),
        (dict(dt_min=0.0), ValueError, "dt_min"),
        (dict(final_act="nope"), ValueError, "final_act"),
        (dict(channels=0), ValueError, "channels"),
        (dict(gate=1.5), TypeError, "gate"),
        (dict(swap_channels=True), TypeError, "unexpected keyword"),
        (dict(dtype="int32"), ValueError, "dtype"),
    ]
    for kw, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            S4(8, **{"d_state": 8, **kw})
    with pytest.raises(ValueError, match="disc"):
        S4D(8, disc="euler")


def test_bad_inputs(xp):
    model = S4D(8, d_state=8, seed=0, xp=xp)
    with pytest.raises(ValueError, match="d_model=8"):
        model(xp.zeros((2, 7, 4)))
    with pytest.raises(ValueError, match="dimensions"):
        model(xp.zeros((8, 4)))
    with pytest.raises(TypeError, match="floating"):
        model(xp.zeros((2, 8, 4), dtype=xp.int32))
    with pytest.raises(TypeError, match="None"):
        model(None)
    with pytest.raises(ValueError, match="lengths must be in"):
        model(xp.zeros((2, 8, 4)), lengths=5)
    with pytest.raises(ValueError, match="lengths must have shape"):
        model(xp.zeros((2, 8, 4)), lengths=np.array([1, 2, 3]))
    with pytest.raises(TypeError, match="integer dtype"):
        model(xp.zeros((2, 8, 4)), lengths=np.array([1.0, 2.0]))
    cache = model.allocate_inference_cache(2)
    with pytest.raises(ValueError, match="batch"):
        model.step(xp.zeros((3, 8)), cache)
    # the messages name the argument (they once said "2 must have shape ...")
    with pytest.raises(ValueError, match=r"^x must have shape \(batch, d_model=8\)"):
        model.step(xp.zeros((2, 7)), cache)
    with pytest.raises(TypeError, match="^x must be an array"):
        model.step(None, cache)
    with pytest.raises(TypeError, match="^inference_cache must be the dict"):
        model.step(xp.zeros((2, 8)), [])
    with pytest.raises(KeyError, match="lrnn_state"):
        model.step(xp.zeros((2, 8)), {})
    with pytest.raises(ValueError, match="shape"):
        model.load_state_dict({**model.state_dict(), "D": np.zeros((2, 8))})
    with pytest.raises(ValueError, match="differ"):
        model.load_state_dict({**{k: host(v) for k, v in model.state_dict().items()},
                               "layer.kernel.D": None, "layer.kernel.A_real": np.zeros((8, 4))})


def test_benches_build_and_run_at_small_sizes():
    import array_api_compat.numpy as xnp

    from lrnnx_array.models.lti._bench_s4 import BENCHES

    assert {b.name for b in BENCHES} == {"S4.forward", "S4D.forward", "S4.forward_eval",
                                         "S4D.forward_eval", "S4Kernel.forward", "S4.step",
                                         "S4D.step"}
    for bench in BENCHES:
        case = bench.make(xnp, "float32", **bench.sizes["small"][0])
        out = case.fwd()
        refs = {name: thunk() for name, thunk in case.baselines.items()}
        if ".forward" in bench.name:
            # each baseline is the forward's (or the kernel module's) work: same output
            for name, ref in refs.items():
                testing.assert_close(ref, out[0], err_msg=f"{bench.name} {name}")


@pytest.mark.parametrize("cls", [S4, S4D])
def test_to_dtype_and_half_input(cls):
    model = cls(8, d_state=8, seed=0).eval()
    x = _x(model, 2, 12)
    y32, _ = model(x.astype(np.float32))
    model.to(dtype="float64")
    assert model.layer.kernel.C is model.C and model.C.dtype == np.float64
    y64, _ = model(x)
    assert y64.dtype == np.float64
    testing.assert_close(y32, y64.astype(np.float32), override="s4_float32_block")
    y16, _ = model.to(dtype="float32")(x.astype(np.float16))
    assert y16.dtype == np.float32
