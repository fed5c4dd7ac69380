"""The dplr_kernel bench compares like with like: every contender computes the same kernel."""

from __future__ import annotations

import array_api_compat.numpy as xp

from lrnnx_array import testing
from lrnnx_array._ops.dplr_kernel._bench import BENCHES


def test_every_contender_computes_the_same_kernel():
    (bench,) = BENCHES
    case = bench.make(xp, "complex64", **bench.sizes["small"][0])
    k = case.fwd().k
    for name, thunk in case.baselines.items():
        got = thunk()
        got = getattr(got, "k", got)
        if type(got).__module__.startswith("torch"):  # the torch peer (lrnnx's S4Kernel)
            got = got.numpy()
        testing.assert_close(got, k, err_msg=name)
