"""generate: the plain loop equals a hand-written step loop for every model kind; caches are
fresh each run; event-mode τ; errors. (The CUDA-graph replay needs a GPU: see the cuda test.)"""

import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array.generation import cuda_graph_available, generate
from lrnnx_array.layers import MHA
from lrnnx_array.models import LRU, S4, CentaurusNeck
from lrnnx_array.models.lti import S5
from lrnnx_array.models.ltv import RGLRU, S7, Mamba
from lrnnx_array.models.ltv import S5 as S5LTV

MODELS = {
    "S5": lambda: S5(8, 4, "zoh", seed=0),
    "LRU": lambda: LRU(8, 4, seed=0),
    "S4": lambda: S4(8, d_state=8, transposed=False, seed=0),
    "CentaurusNeck": lambda: CentaurusNeck(8, 4, 2, seed=0),
    "Mamba": lambda: Mamba(8, d_state=4, seed=0),
    "RGLRU": lambda: RGLRU(8, seed=0),
    "S7": lambda: S7(8, 4, seed=0),
    "S5LTV": lambda: S5LTV(8, 4, seed=0),
    "MHA": lambda: MHA(8, 2, causal=True, seed=0),
}


def _manual(model, x, n, tau=None):
    lti = not hasattr(model, "uses_timesteps") and not isinstance(model, MHA)
    cache = model.allocate_inference_cache(x.shape[0], n)
    out, cur = [], x
    for t in range(n):
        if lti:
            y = model.step(cur, cache)[0]
        elif isinstance(model, MHA):
            y = model.step(cur[:, None], cache)[0][:, 0]
        else:
            y = model.step(cur[:, None], cache, None if tau is None else tau[:, t])[0][:, 0]
        out.append(y)
        cur = y
    return np.stack(out, 1)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_generate_equals_step_loop_and_resets(name):
    model = MODELS[name]()
    x = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    y = generate(model, x, 12)
    assert y.shape == (3, 12, 8)
    testing.assert_close(y, _manual(model, x, 12))
    # a second run starts from a zero state again (lrnnx forgets S5-LTV's)
    np.testing.assert_array_equal(generate(model, x, 12), y)


@pytest.mark.parametrize("name", ["Mamba", "S5LTV"])
def test_event_mode_generation(name):
    model = MODELS[name]()
    x = np.random.default_rng(1).standard_normal((2, 8)).astype(np.float32)
    tau = np.random.default_rng(2).uniform(0.01, 1.0, (2, 6)).astype(np.float32)
    testing.assert_close(generate(model, x, 6, tau), _manual(model, x, 6, tau))
    const = tau[:, :1]
    testing.assert_close(generate(model, x, 6, const),
                         _manual(model, x, 6, np.repeat(const, 6, 1)))


def test_generate_errors_and_edges():
    model = LRU(8, 4, seed=0)
    x = np.zeros((2, 8), np.float32)
    assert generate(model, x, 0).shape == (2, 0, 8)
    with pytest.raises(TypeError, match="num_steps"):
        generate(model, x, 2.0)
    with pytest.raises(ValueError, match="num_steps"):
        generate(model, x, -1)
    with pytest.raises(ValueError, match=r"shape \(batch, 8\)"):
        generate(model, np.zeros((2, 1, 8), np.float32), 3)
    with pytest.raises(ValueError, match="does not use them"):
        generate(model, x, 3, np.ones(2, np.float32))
    with pytest.raises(ValueError, match="num_steps"):
        generate(Mamba(8, d_state=4, seed=0), x, 3, np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match="model"):
        generate(object(), x, 3)
    with pytest.raises(ValueError, match="CuPy"):
        generate(model, x, 3, use_cuda_graph=True)


@pytest.mark.cuda
@pytest.mark.skipif(not cuda_graph_available(), reason="needs a CUDA GPU and CuPy")
@pytest.mark.parametrize("name", ["S5", "LRU", "Mamba", "RGLRU", "S7", "S5LTV"])
def test_cuda_graph_replay_equals_loop(name):  # pragma: no cover - GPU only
    import cupy

    model = MODELS[name]().to(cupy)
    x = cupy.asarray(np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32))
    testing.assert_close(generate(model, x, 16, use_cuda_graph=True), generate(model, x, 16))
