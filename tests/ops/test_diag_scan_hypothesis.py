"""diag_scan on random shapes (hypothesis): generic vs the float64 reference.

Kept apart so machines without hypothesis (the lent GPU machine) still collect test_diag_scan.
"""

import numpy as np
import pytest

from lrnnx_array._ops.diag_scan._ref import diag_scan_ref, diag_scan_vjp_ref
from lrnnx_array.ops import diag_scan, diag_scan_vjp

hypothesis = pytest.importorskip("hypothesis")
given, settings, st = hypothesis.given, hypothesis.settings, hypothesis.strategies


@settings(max_examples=40, deadline=None)
@given(
    lead=st.lists(st.integers(1, 4), min_size=0, max_size=3),
    L=st.integers(1, 40),
    a_const=st.booleans(),
    with_h0=st.booleans(),
    reverse=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_generic_matches_ref_random_shapes(lead, L, a_const, with_h0, reverse, seed):
    r = np.random.default_rng(seed)
    lead = tuple(lead)
    a = r.uniform(-1, 1, lead + ((1,) if a_const else (L,)))
    b = r.standard_normal(lead + (L,))
    h0 = r.standard_normal(lead) if with_h0 else None
    got = diag_scan(a, b, h0, reverse=reverse, impl="generic")
    np.testing.assert_allclose(
        got, diag_scan_ref(a, b, h0, reverse=reverse), rtol=1e-12, atol=1e-12
    )
    dh = r.standard_normal(got.shape)
    for g, w in zip(
        diag_scan_vjp(dh, a, b, h0, reverse=reverse, impl="generic"),
        diag_scan_vjp_ref(dh, a, b, h0, reverse=reverse),
    ):
        if w is None:
            assert g is None
        else:
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-11)
