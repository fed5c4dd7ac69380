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
