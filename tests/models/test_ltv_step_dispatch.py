"""How an LTV step reaches its ops (models/ltv/_direct.py): NumPy steps of one dtype call the
implementations without re-validating per token (each op's checks run once per call signature,
_dispatch_memo); anything else takes the public ops, and both give the forward's result."""

import numpy as np
import pytest
from ltv_cases import CASES, data

from lrnnx_array import testing
from lrnnx_array._ops.causal_conv1d._api import UPDATE_SPEC
from lrnnx_array._ops.selective_state_update._api import SPEC as SSU_SPEC
from lrnnx_array._ops.simplified_state_update._api import SPEC as S5U_SPEC

STEP_CASES = ["mamba-mamba", "mamba-options", "rglru", "s5-zoh-cs", "s7"]


@pytest.fixture
def validations(monkeypatch):
    """Counts the public ops' full validations."""
    calls = []
    for spec in (UPDATE_SPEC, SSU_SPEC, S5U_SPEC):
        real = spec.validate

        def counted(*a, _real=real, _name=spec.name, **k):
            calls.append(_name)
            return _real(*a, **k)

        monkeypatch.setattr(spec, "validate", counted)
    return calls


def _step_loop(m, x, cache):
    return np.concatenate([m.step(x[:, t:t + 1, :], cache)[0] for t in range(x.shape[1])], axis=1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", STEP_CASES)
def test_numpy_step_calls_the_implementations_directly(case, dtype, validations):
    make = CASES[case][0]
    m = make(seed=0, dtype=dtype)
    x = data()[0].astype(dtype)
    y = m(x)
    validations.clear()
    got = _step_loop(m, x, m.allocate_inference_cache(2, x.shape[1]))
    assert len(validations) == len(set(validations))  # at most the first token's, once per op
    testing.assert_close(got, y)


@pytest.mark.parametrize("case", STEP_CASES)
def test_cache_of_another_dtype_takes_the_public_ops(case, validations):
    """A float64 cache on a float32 model: the ops promote (as they always did), so the step
    goes through the public ops, and still equals the forward."""
    make = CASES[case][0]
    m = make(seed=0, dtype="float32")
    x = data()[0].astype(np.float32)
    y = m(x)
    validations.clear()
    got = _step_loop(m, x, m.allocate_inference_cache(2, x.shape[1], dtype="float64"))
    if case != "s7":  # S7 steps a float32 copy of its state (written back in the cache's dtype)
        assert validations
    testing.assert_close(got.astype(np.float32), y)
