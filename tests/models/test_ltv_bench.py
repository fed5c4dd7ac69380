"""The LTV benches' baselines compute what they stand for (bench --models reads their ratios)."""

import array_api_compat.numpy as xnp
import numpy as np
import pytest

from lrnnx_array import testing
from lrnnx_array.models.ltv._bench_ltv import BENCHES


@pytest.mark.parametrize("bench", [b for b in BENCHES if b.name.endswith("forward")],
                         ids=lambda b: b.name)
def test_sum_of_ops_computes_the_forward(bench):
    size = bench.sizes["small"][0]
    case = bench.make(xnp, "float64", **size)
    out = case.fwd()
    ops = case.baselines["sum of ops"]()
    # the last op's result is the model's output (as (B*L, H) where the ops run on 2-D arrays)
    testing.assert_close(np.reshape(ops, out.shape), out, err_msg=bench.name)
    assert set(case.baselines) >= {"sum of ops", "scan op"}
    for thunk in case.baselines.values():
        thunk()


@pytest.mark.parametrize("bench", [b for b in BENCHES if b.name.endswith("step")],
                         ids=lambda b: b.name)
def test_step_baselines_run(bench):
    case = bench.make(xnp, "float32", **bench.sizes["small"][0])
    y, cache = case.fwd()
    assert y.shape == (bench.sizes["small"][0]["B"], 1, bench.sizes["small"][0]["H"])
    assert set(case.baselines) == {"sum of ops", "sum of impls", "state update op",
                                   "state update impl"}
    op, impl = case.baselines["state update op"], case.baselines["state update impl"]
    assert op().shape == impl().shape  # the impl is the op's own function, on the same arrays
    for thunk in case.baselines.values():
        thunk()


def test_cpu_time_runner_measures_every_case():
    from lrnnx_array.models.ltv._cpu_time import main, measure

    recs = measure("step", rounds=1, size="small")
    assert [r["bench"] for r in recs] == [b.name for b in BENCHES if b.name.endswith("step")]
    for r in recs:
        assert r["model"] > 0 and r["model / sum of ops"] == r["model"] / r["sum of ops"]
    assert main(["nosuch"]) == 2
