"""The generation benches build and run at their "small" sizes (smoke test, nothing timed)."""

import array_api_compat.numpy as np_xp
import numpy as np

from lrnnx_array.architectures._bench_generate import BENCHES, tokens_per_second


def test_generation_benches_run_small():
    assert {b.name for b in BENCHES} == {"s5 generate", "lru generate", "mamba generate"}
    for bench in BENCHES:
        assert all(s["B"] == 32 and s["H"] == 128 for s in bench.sizes["cpu"])
        for size in bench.sizes["small"]:
            out = bench.make(np_xp, bench.dtype, **size).fwd()
            assert out.shape == (size["B"], size["steps"], size["H"])
            assert np.all(np.isfinite(out))
    assert tokens_per_second({"B": 32, "steps": 8}, 0.5) == 512
