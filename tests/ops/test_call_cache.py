"""_dispatch.CallCache on simplified_state_update: a repeat of a good call's signature skips the
checks, and no bad input ever rides on a cached good call."""

import numpy as np
import pytest

from lrnnx_array import _dispatch
from lrnnx_array._ops.simplified_state_update import _api
from lrnnx_array.ops import simplified_state_update


def _args(rng, B=2, H=3, P=4):
    state = np.zeros((B, P), np.complex64)
    x = rng.standard_normal((B, H)).astype(np.float32)
    dt = rng.uniform(0.1, 0.5, P).astype(np.float32)
    A = (-rng.uniform(0.1, 1, P) + 1j * rng.standard_normal(P)).astype(np.complex64)
    Bm = (rng.standard_normal((P, H)) + 1j * rng.standard_normal((P, H))).astype(np.complex64)
    C = (rng.standard_normal((H, P)) + 1j * rng.standard_normal((H, P))).astype(np.complex64)
    return state, x, dt, A, Bm, C


@pytest.fixture
def counted(monkeypatch):
    """Counts SPEC.validate calls (the full checks)."""
    calls = []
    real = _api.SPEC.validate

    def validate(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(_api.SPEC, "validate", validate)
    _api._CALLS.clear()
    yield calls
    _api._CALLS.clear()


def test_repeat_signature_skips_the_checks_and_gives_the_same_result(rng, counted):
    state, x, dt, A, Bm, C = _args(rng)
    s2 = state.copy()
    y1 = simplified_state_update(state, x, dt, A, Bm, C, check_finite=False)
    y2 = simplified_state_update(state, x, dt, A, Bm, C, check_finite=False)
    assert len(counted) == 1
    # the same two steps with the full checks each time (a fresh cache per call)
    _api._CALLS.clear()
    z1 = simplified_state_update(s2, x, dt, A, Bm, C, check_finite=False)
    _api._CALLS.clear()
    z2 = simplified_state_update(s2, x, dt, A, Bm, C, check_finite=False)
    np.testing.assert_array_equal(y1, z1)
    np.testing.assert_array_equal(y2, z2)
    np.testing.assert_array_equal(state, s2)
    # another shape, dtype or flag value is another signature
    simplified_state_update(state, x, dt, A, Bm, C, conj_sym=False, check_finite=False)
    simplified_state_update(state, x.astype(np.float64), dt, A, Bm, C, check_finite=False)
    assert len(counted) == 5


def test_bad_inputs_after_a_cached_good_call_still_raise(rng, counted):
    state, x, dt, A, Bm, C = _args(rng)
    simplified_state_update(state, x, dt, A, Bm, C)  # cached, check_finite=True
    before = state.copy()
    # a flag of the wrong type but an equal hash (1 == True) is another signature
    with pytest.raises(TypeError, match="conj_sym"):
        simplified_state_update(state, x, dt, A, Bm, C, conj_sym=1)
    # values are checked on every call under check_finite
    bad = A.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="A must be finite"):
        simplified_state_update(state, x, dt, bad, Bm, C)
    bad_dt = dt.copy()
    bad_dt[1] = np.inf
    with pytest.raises(ValueError, match="dt must be finite"):
        simplified_state_update(state, x, bad_dt, A, Bm, C)
    # writeability is per array, not per signature
    ro = state.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        simplified_state_update(ro, x, dt, A, Bm, C)
    # not arrays: no signature, the full checks word the error
    with pytest.raises(TypeError, match="x"):
        simplified_state_update(state, x.tolist(), dt, A, Bm, C)
    with pytest.raises(ValueError, match="discretization"):
        simplified_state_update(state, x, dt, A, Bm, C, discretization=["zoh"])
    np.testing.assert_array_equal(state, before)  # nothing half-written


def test_key_is_typed_and_none_for_non_arrays():
    a = np.zeros((2, 3), np.float32)
    k = _dispatch.CallCache.key((a, None), (True, "zoh"))
    assert k == _dispatch.CallCache.key((np.ones((2, 3), np.float32), None), (True, "zoh"))
    assert k != _dispatch.CallCache.key((a, None), (1, "zoh"))
    assert k != _dispatch.CallCache.key((a.astype(np.float64), None), (True, "zoh"))
    assert _dispatch.CallCache.key(([1.0], None), (True,)) is None
    cache = _dispatch.CallCache(maxsize=2)
    for n in range(3):
        cache.put(_dispatch.CallCache.key((np.zeros(n),)), n)
    assert len(cache._memo) <= 2
    assert cache.get(None) is None
    assert cache.get(_dispatch.CallCache.key((a,), ([1],))) is None  # unhashable: no entry


# -- the same memo (SPEC.calls) at the other decode-step call sites -----------------------------


def _ssu_args(rng, method="mamba", B=2, D=3, N=4):
    A = rng.uniform(0.5, 0.9, (D, N)) if method == "rglru" else -rng.uniform(0.5, 1, (D, N))
    return dict(state=np.zeros((B, D, N)), x=rng.standard_normal((B, D)),
                dt=rng.uniform(0.1, 0.5, (B, D)), A=A, B=rng.standard_normal((B, N)),
                C=rng.standard_normal((B, N)), D=rng.standard_normal(D))


def _count_validate(monkeypatch, spec):
    calls = []
    real = spec.validate

    def validate(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(spec, "validate", validate)
    spec.calls.clear()
    return calls


def test_selective_state_update_memo(rng, monkeypatch):
    from lrnnx_array._ops.selective_state_update._api import SPEC
    from lrnnx_array.ops import selective_state_update

    counted = _count_validate(monkeypatch, SPEC)
    kw = _ssu_args(rng)
    s1, s2 = kw.pop("state"), np.zeros((2, 3, 4))
    outs = [selective_state_update(s1, **kw) for _ in range(3)]
    assert len(counted) == 1
    for y in outs:  # the same steps with the full checks each time
        SPEC.calls.clear()
        np.testing.assert_array_equal(y, selective_state_update(s2, **kw))
    np.testing.assert_array_equal(s1, s2)
    bad = kw["A"].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="A must be finite"):
        selective_state_update(s1, **{**kw, "A": bad})
    ro = s1.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        selective_state_update(ro, **kw)
    with pytest.raises(TypeError, match="dt_softplus"):
        selective_state_update(s1, **kw, dt_softplus=1)
    idx = np.array([0, 1])
    selective_state_update(s1, **kw, state_batch_indices=idx)  # cached with indices
    with pytest.raises(ValueError, match="must not repeat"):
        selective_state_update(s1, **kw, state_batch_indices=np.array([1, 1]))
    with pytest.raises(ValueError, match="must lie in"):
        selective_state_update(s1, **kw, state_batch_indices=np.array([0, 5]))
    rk = _ssu_args(rng, "rglru")
    rs = rk.pop("state")
    selective_state_update(rs, **rk, discretization="rglru")
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        selective_state_update(rs, **{**rk, "A": rk["A"] + 1}, discretization="rglru")


def test_state_left_untouched_by_a_bad_call_after_a_cached_one(rng):
    from lrnnx_array.ops import selective_state_update

    kw = _ssu_args(rng)
    state = kw.pop("state")
    selective_state_update(state, **kw)
    before = state.copy()
    for bad in ({"A": np.full_like(kw["A"], np.inf)}, {"x": kw["x"][:1]}, {"B": kw["B"].tolist()}):
        with pytest.raises((ValueError, TypeError)):
            selective_state_update(state, **{**kw, **bad})
        np.testing.assert_array_equal(state, before)


def test_ltv_conv_step_validates_once_then_calls_the_implementation(rng, monkeypatch):
    import array_api_compat.numpy as xp

    from lrnnx_array._ops.causal_conv1d._api import UPDATE_SPEC
    from lrnnx_array.models.ltv._direct import conv_update
    from lrnnx_array.ops import causal_conv1d_update

    counted = _count_validate(monkeypatch, UPDATE_SPEC)
    w, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
    s1, s2 = np.zeros((2, 3, 4)), np.zeros((2, 3, 4))
    for _ in range(3):
        x = rng.standard_normal((2, 3))
        np.testing.assert_array_equal(conv_update(xp, x, s1, w, b, "silu"),
                                      causal_conv1d_update(x, s2, w, b, "silu"))
    assert len(counted) == 4  # the first conv_update and the three public calls
    np.testing.assert_array_equal(s1, s2)
    before = s1.copy()
    with pytest.raises(ValueError, match="conv_state"):  # another shape: the full checks
        conv_update(xp, x, s1[:, :, :2], w, b, "silu")
    ro = s1.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        conv_update(xp, x, ro, w, b, "silu")
    np.testing.assert_array_equal(ro, before)
    # another dtype: the public op (which promotes), every time
    y32 = conv_update(xp, x.astype(np.float32), s1, w, b, "silu")
    assert y32.dtype == np.float64


@pytest.mark.parametrize("kind", ["S4", "S4D"])
def test_s4_steps_validate_once_per_signature(kind, monkeypatch):
    from lrnnx_array.models import s4_kernel_interface as ki
    from lrnnx_array.models.lti import S4, S4D

    name = "_dplr_step" if kind == "S4" else "_s4d_step"
    public = getattr(ki, name)
    calls = []

    def counted(*a, **k):
        calls.append(1)
        return public(*a, **k)

    monkeypatch.setattr(ki, name, counted)
    model = (S4 if kind == "S4" else S4D)(4, d_state=4, seed=0)
    kernel = model.layer.kernel
    spec = ki._DPLR_SPEC if kind == "S4" else ki._S4D_SPEC
    spec.calls.clear()
    u = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    state = kernel.default_state(2)
    ys = []
    for _ in range(3):
        y, state = kernel.step(u, state)
        ys.append(y)
    assert len(calls) == 1
    want_state = kernel.default_state(2)
    for y in ys:
        want, want_state = public(u, want_state, *(
            (kernel._step_setup,) if kind == "S4" else
            (kernel._step_setup.dA, kernel._step_setup.dB, kernel._step_setup.dC)))
        np.testing.assert_array_equal(y, want)
    np.testing.assert_array_equal(state, want_state)
    with pytest.raises(ValueError, match="state"):  # another shape: the full checks again
        kernel.step(u, state[:, :, :1])
    with pytest.raises(ValueError, match="u"):
        kernel.step(u[:, :2], state)
    kernel.step(u.astype(np.float64), state)  # another dtype: the public op (it promotes)
    assert len(calls) == 4  # the first step, the two bad ones, the float64 one
