"""The fused numba S5 forward (``_numba_fused``: projection, discretisation, recurrence and
output per time tile) and its two-pass VJP (``_numba_fused_vjp``) against the float64 oracle,
at sizes where the numba tier picks them (P >= 64): every discretization, step layout,
deltaA, h0 and the last state's cotangent, complex and real inputs, s5_inner with and
without conj_sym, tiny zoh steps (phi1's series), and the state blocks split between threads
(their partial outputs summed)."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import S5_LAYOUTS, cast, close_all, needs_numba, s5_case

from lrnnx_array._ops.simplified_scan import _numba_fused, _numba_fused_vjp
from lrnnx_array._ops.simplified_scan._ref import (
    s5_inner_ref,
    s5_inner_vjp_ref,
    simplified_scan_ref,
    simplified_scan_vjp_ref,
)
from lrnnx_array.ops import s5_inner, s5_inner_vjp, simplified_scan, simplified_scan_vjp

pytestmark = needs_numba
DISCS = ("bilinear", "zoh", "dirac")
SCAN_NAMES = ("du", "ddelta", "dA", "dB", "dC", "ddeltaA", "dh0")
INNER_NAMES = ("du", "ddelta", "dA", "dB", "dC", "dD", "ddeltaA", "dh0")
LAYOUTS = S5_LAYOUTS
_case = s5_case  # P=70, L=41 by default: the fused sizes


def test_sizes_pick_the_fused_pass():
    # The tests below are only about the fused pass if the tier takes it at their sizes (their
    # arrays are small: numba_support.launch runs them on one thread).
    for threads in (1, 2):
        for which in ("forward", "vjp"):
            assert _numba_fused.suits(2, 3, 70, threads, which)
            assert _numba_fused.suits(1, 4, 130, threads, which)
    assert not _numba_fused.suits(1, 16, 16, 2)  # the row kernel's sizes
    assert not _numba_fused.suits(2, 0, 70, 2)
    assert not _numba_fused.suits(2, 128, 256, 2)  # many channels: BLAS's GEMMs win
    assert not _numba_fused.suits(2, 48, 256, 2, "vjp")


@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("extras", [False, True])
def test_simplified_scan_fused_matches_oracle(disc, dtype, layout, extras):
    kw = _case(dtype, layout, deltaA=extras, h0=extras, real_u=layout == "P")
    y, last = simplified_scan(**kw, return_last_state=True, discretization=disc, impl="numba")
    ry, rlast = simplified_scan_ref(**kw, return_last_state=True, discretization=disc)
    close_all(["y", "last"], [y, last], [ry, rlast], dtype, override="s5_fused_out")
    rng = np.random.default_rng(2)
    shape = kw["u"].shape
    dout = cast(rng.standard_normal(shape) + 1j * rng.standard_normal(shape), dtype)
    dlast = cast(rng.standard_normal(last.shape) + 1j * rng.standard_normal(last.shape),
                 dtype) if extras else None
    g = simplified_scan_vjp(dout, **kw, discretization=disc, dlast_state=dlast, impl="numba")
    r = simplified_scan_vjp_ref(dout, **kw, discretization=disc, dlast_state=dlast)
    close_all(SCAN_NAMES, g, r, dtype, override="s5_fused_grads", normwise=True)


@pytest.mark.parametrize("disc", DISCS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
@pytest.mark.parametrize("conj_sym", [True, False])
@pytest.mark.parametrize("layout", ["1P1", "BPL"])
def test_s5_inner_fused_matches_oracle(disc, dtype, conj_sym, layout):
    kw = _case(dtype, layout, deltaA=layout == "BPL", h0=layout == "1P1", L=300)
    D = cast(np.random.default_rng(1).standard_normal(kw["B"].shape[1]), dtype)
    out = s5_inner(**kw, D=D, discretization=disc, conj_sym=conj_sym, impl="numba")
    ref = s5_inner_ref(**kw, D=D, discretization=disc, conj_sym=conj_sym)
    close_all(["out"], [out], [ref], dtype, override="s5_fused_out")
    dout = cast(np.random.default_rng(3).standard_normal(kw["u"].shape), dtype)
    g = s5_inner_vjp(dout, **kw, D=D, discretization=disc, conj_sym=conj_sym, impl="numba")
    r = s5_inner_vjp_ref(dout, **kw, D=D, discretization=disc, conj_sym=conj_sym)
    close_all(INNER_NAMES, g, r, dtype, override="s5_fused_grads", normwise=True)


@pytest.mark.parametrize("scale", [1e-9, 1e-3, 0.3, 3.0])
def test_zoh_steps_across_the_series_radius(scale):
    """phi1'(x) by its series below |x| = SERIES_RADIUS and (E - phi1)/x above: both sides,
    and steps so small that the closed forms would lose every digit."""
    kw = _case("complex128", "BPL", deltaA=False, h0=False)
    kw["delta"] = kw["delta"] * scale
    rng = np.random.default_rng(4)
    dout = rng.standard_normal(kw["u"].shape) + 1j * rng.standard_normal(kw["u"].shape)
    g = simplified_scan_vjp(dout, **kw, discretization="zoh", impl="numba")
    r = simplified_scan_vjp_ref(dout, **kw, discretization="zoh")
    close_all(SCAN_NAMES, g, r, "complex128", override="s5_fused_grads", normwise=True)


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
@pytest.mark.parametrize("want_imag", [True, False])
def test_state_blocks_split_between_threads(threads, want_imag):
    """B = 1: the states are cut into blocks (one per thread), partial outputs summed."""
    kw = _case("complex128", "BPL", deltaA=True, h0=True, Bsz=1, H=4, P=130, L=77)
    PB, nblk = _numba_fused.blocks(1, 130, threads)
    assert nblk == min(threads, 5) if threads > 1 else nblk == 1
    canon = [kw["u"], kw["delta"], kw["A"], kw["B"], kw["C"], kw["deltaA"], kw["h0"]]
    D = np.linspace(-1, 1, 4)
    out, last = _numba_fused.run(*canon, "zoh", threads, want_imag=want_imag, scale=2.0,
                                 D=None if want_imag else D)
    ry, rlast = simplified_scan_ref(**kw, return_last_state=True, discretization="zoh")
    want = 2 * ry if want_imag else 2 * ry.real + D[:, None] * kw["u"].real
    close_all(["out", "last"], [out, last], [want, rlast], "complex128" if want_imag
              else "float64", override="s5_fused_out")
    rng = np.random.default_rng(5)
    dout = rng.standard_normal(ry.shape) + 1j * rng.standard_normal(ry.shape)
    dlast = rng.standard_normal(rlast.shape) + 1j * rng.standard_normal(rlast.shape)
    grads = _numba_fused_vjp.run(dout, *canon, dlast, "zoh", threads)
    r = simplified_scan_vjp_ref(dout, **kw, discretization="zoh", dlast_state=dlast)
    close_all(SCAN_NAMES, grads, r, "complex128", override="s5_fused_grads", normwise=True)


def test_nan_in_u_stays_forward_in_time():
    kw = _case("complex64", "BPL", deltaA=False, h0=False, L=64)
    kw["u"] = kw["u"].copy()
    kw["u"][0, 1, 40] = np.nan
    y = simplified_scan(**kw, discretization="zoh", impl="numba")
    assert np.isfinite(y[0, :, :40]).all() and np.isnan(y[0, :, 40:]).all()
    assert np.isfinite(y[1]).all()
