"""LTV models: state_dict keys, order and shapes from lrnnx_models_state_dict.md §6-9 (encoded here
as data), exact round trips, cache keys and shapes, and float64 end to end."""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array.models.ltv import RGLRU, S5, S7, Mamba

# (constructor, [(key, shape)] in lrnnx's state_dict order), H = 8 throughout.
# Mamba(8, d_state=4): Di = 16, r = ceil(8/16) = 1, K = 4.
MAMBA = [("A_log", (16, 4)), ("D", (16,)), ("in_proj.weight", (32, 8)),
         ("conv1d.weight", (16, 1, 4)), ("conv1d.bias", (16,)), ("x_proj.weight", (9, 16)),
         ("dt_proj.weight", (16, 1)), ("dt_proj.bias", (16,)), ("dtA_proj.weight", (16, 1)),
         ("dtA_proj.bias", (16,)), ("out_proj.weight", (8, 16))]
# Mamba(8, d_state=4, bias=True, conv_bias=False, d_conv=3, expand=1): Di = 8.
MAMBA_OPTS = [("A_log", (8, 4)), ("D", (8,)), ("in_proj.weight", (16, 8)), ("in_proj.bias", (16,)),
              ("conv1d.weight", (8, 1, 3)), ("x_proj.weight", (9, 8)), ("dt_proj.weight", (8, 1)),
              ("dt_proj.bias", (8,)), ("dtA_proj.weight", (8, 1)), ("dtA_proj.bias", (8,)),
              ("out_proj.weight", (8, 8)), ("out_proj.bias", (8,))]
RGLRU_DEF = [("a_log", (8, 1)), ("gate_proj.weight", (8, 8)), ("in_proj.weight", (8, 8)),
             ("conv1d.weight", (8, 1, 4)), ("conv1d.bias", (8,)),
             ("recurrent_gate_proj.weight", (8, 8)), ("recurrent_gate_proj.bias", (8,)),
             ("input_gate_proj.weight", (8, 8)), ("input_gate_proj.bias", (8,)),
             ("out_proj.weight", (8, 8))]
# RGLRU(8, expand=2, c=4.0, bias=True, conv_bias=False, d_conv=3): Di = 16.
RGLRU_OPTS = [("a_log", (16, 1)), ("gate_proj.weight", (16, 8)), ("gate_proj.bias", (16,)),
              ("in_proj.weight", (16, 8)), ("in_proj.bias", (16,)), ("conv1d.weight", (16, 1, 3)),
              ("recurrent_gate_proj.weight", (16, 16)), ("recurrent_gate_proj.bias", (16,)),
              ("input_gate_proj.weight", (16, 16)), ("input_gate_proj.bias", (16,)),
              ("out_proj.weight", (8, 16)), ("out_proj.bias", (8,))]
S5_DEF = [("A", (4, 2)), ("B", (4, 8, 2)), ("C", (8, 4, 2)), ("D", (8,)), ("log_dt", (4,))]
# S7(8, d_state): x_proj rows N + 2HN + H + N.
S7_4 = [("base_params", (4,)), ("in_proj.weight", (8, 8)), ("x_proj.weight", (80, 8)),
        ("gate_proj.weight", (8, 8))]
S7_8 = [("base_params", (8,)), ("in_proj.weight", (8, 8)), ("x_proj.weight", (152, 8)),
        ("gate_proj.weight", (8, 8))]

TABLES = {
    "mamba": (lambda **k: Mamba(8, d_state=4, **k), MAMBA),
    "mamba-int-rank": (lambda **k: Mamba(8, d_state=4, dt_rank=3, **k),
                       [(n, (9 + 2 * 0, 16) if n == "x_proj.weight" else
                         (16, 3) if n in ("dt_proj.weight", "dtA_proj.weight") else s)
                        for n, s in MAMBA]),
    "mamba-options": (lambda **k: Mamba(8, d_state=4, bias=True, conv_bias=False, d_conv=3,
                                        expand=1, **k), MAMBA_OPTS),
    "rglru": (lambda **k: RGLRU(8, **k), RGLRU_DEF),
    "rglru-options": (lambda **k: RGLRU(8, expand=2, c=4.0, bias=True, conv_bias=False, d_conv=3,
                                        **k), RGLRU_OPTS),
    "s5": (lambda **k: S5(8, 4, **k), S5_DEF),
    "s5-conj-sym": (lambda **k: S5(8, 4, conj_sym=True, **k), S5_DEF),
    "s7": (lambda **k: S7(8, 4, **k), S7_4),
    "s7-J4": (lambda **k: S7(8, 8, J=4, **k), S7_8),
}
# Mamba with dt_rank=3: x_proj is (3 + 2*4, 16).
TABLES["mamba-int-rank"] = (TABLES["mamba-int-rank"][0],
                            [(n, (11, 16) if n == "x_proj.weight" else s)
                             for n, s in TABLES["mamba-int-rank"][1]])

CACHES = {
    "mamba": {"conv_state": (3, 16, 4), "lrnn_state": (3, 16, 4)},
    "rglru": {"conv_state": (3, 8, 4), "lrnn_state": (3, 8, 1)},
    "s5": {"ssm_state": (3, 4), "A": (4,), "B_tilde": (4, 8), "C_tilde": (8, 4), "dt": (4,)},
    "s7": {"lrnn_state": (3, 4)},
}


@pytest.mark.parametrize("name", list(TABLES))
def test_keys_order_shapes(name):
    make, table = TABLES[name]
    m = make(seed=0)
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == table
    assert all(v.dtype == np.float32 for v in m.state_dict().values())
    assert all(v.dtype == np.float64 for v in make(seed=0, dtype="float64").state_dict().values())


@pytest.mark.parametrize("name", list(TABLES))
def test_round_trip_exact(xp, name):
    make, _ = TABLES[name]
    src = make(seed=1, dtype="float64")
    sd = {k: testing.to_numpy(v) for k, v in src.state_dict().items()}
    dst = type(src).from_state_dict(sd, **_ctor_args(src), dtype="float64", xp=xp)
    for k, v in dst.state_dict().items():
        np.testing.assert_array_equal(testing.to_numpy(v), sd[k])
    again = {k: testing.to_numpy(v) for k, v in dst.state_dict().items()}
    assert list(again) == list(sd)
    # And the outputs agree (same parameters; other backends may round differently).
    x = np.random.default_rng(0).standard_normal((2, 5, 8))
    testing.assert_close(dst(xp.asarray(x)), xp.asarray(src(x)))


def _ctor_args(m):
    name = type(m).__name__
    if name == "Mamba":
        return dict(d_model=m.d_model, d_state=m.d_state, d_conv=m.d_conv, expand=m.expand,
                    dt_rank=m.dt_rank, bias="in_proj.bias" in m.state_dict(),
                    conv_bias=m.conv1d.has_bias)
    if name == "RGLRU":
        return dict(d_model=m.d_model, d_conv=m.d_conv, expand=m.expand, c=m.c,
                    bias="in_proj.bias" in m.state_dict(), conv_bias=m.conv1d.has_bias)
    if name == "S5":
        return dict(d_model=m.d_model, d_state=m.d_state, conj_sym=m.conj_sym)
    return dict(d_model=m.d_model, d_state=m.d_state, J=m.J)


def test_seed_reproducible_and_different():
    a, b, c = (Mamba(8, d_state=4, seed=s).state_dict() for s in (3, 3, 4))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["in_proj.weight"], c["in_proj.weight"])


@pytest.mark.parametrize("name", list(CACHES))
def test_cache_keys_shapes_dtypes(name):
    make = TABLES[name][0]
    m = make(seed=0)
    cache = m.allocate_inference_cache(3, 10)
    assert {k: tuple(v.shape) for k, v in cache.items() if k != "seqlen_offset"} == CACHES[name]
    assert cache["seqlen_offset"] == 0
    c64 = make(seed=0).allocate_inference_cache(3, 10, dtype="float64")
    state = "ssm_state" if name == "s5" else "lrnn_state"
    assert c64[state].dtype == (np.complex128 if name == "s5" else np.float64)
    if name == "s5":
        assert cache["ssm_state"].dtype == np.complex64 and cache["dt"].dtype == np.float32
        A = m.state_dict()["A"]
        np.testing.assert_array_equal(cache["A"], A[:, 0] + 1j * A[:, 1])


def test_float64_end_to_end():
    # A float64 model keeps float64 everywhere (lrnnx's S5-LTV and S7 fail under .double()).
    for make, _ in TABLES.values():
        m = make(seed=0, dtype="float64")
        x = np.random.default_rng(0).standard_normal((2, 4, 8))
        cache = m.allocate_inference_cache(2, 4)
        assert m(x, inference_cache=cache).dtype == np.float64
        assert m.step(x[:, :1], cache)[0].dtype == np.float64


def test_to_float64_from_float32():
    m = S5(8, 4, seed=0)
    m.to(dtype="float64")
    assert m.state_dict()["A"].dtype == np.float64
    assert m(np.ones((1, 3, 8))).dtype == np.float64
