"""A block's total transition prod_t Ā_t: the closed form exp(A Σ_t Δᴬ_t) (mamba, zoh, dirac)
equals the one read off the op (its final state from h0 = 1 with zero input), and the ops
without one (bilinear, s7, rglru) keep the read-off."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dask", reason="the Dask tests need dask[array] (the dask extra)")

from _dask_cases import BATCH, L, selective, simplified  # noqa: E402

from lrnnx_array import ops, testing  # noqa: E402
from lrnnx_array.dask import _adapters  # noqa: E402


def _st(adapter, arrays, kw):
    """The static part of a block task: keywords and the state dtype the op gives."""
    if isinstance(adapter, _adapters.S5Inner):
        last = ops.simplified_scan(**{k: v for k, v in arrays.items() if k != "D"},
                                   **kw, return_last_state=True)[1]
    else:
        last = adapter.fn(**arrays, **kw, return_last_state=True)[1]
    return {"kw": {**kw, "check_finite": True}, "state_dtype": last.dtype}


def _selective_cases():
    for disc in _adapters.CLOSED_FORM:
        for complex_a in (False, True):
            arrays, _, kw, _ = selective(discretization=disc, complex_a=complex_a)
            yield f"{disc}-complex{complex_a}", arrays, kw
        arrays, _, kw, _ = selective(discretization=disc, full=False)
        arrays["deltaA"] = np.random.default_rng(5).uniform(0.0, 0.7, (BATCH, 3, L))
        yield f"{disc}-deltaA", arrays, kw
        arrays, _, kw, _ = selective(discretization=disc)
        yield f"{disc}-nosoftplus", arrays, {**kw, "delta_softplus": False}


def _simplified_cases():
    r = np.random.default_rng(7)
    for disc in ("zoh", "dirac"):
        for event in (False, True):
            arrays, _, kw, _ = simplified(event=event, discretization=disc)
            yield f"{disc}-event{event}", arrays, kw
        arrays, _, kw, _ = simplified(discretization=disc)
        arrays["delta"] = r.uniform(0.05, 0.5, (BATCH, 4, L))
        arrays["deltaA"] = r.uniform(0.05, 0.5, (BATCH, L))
        yield f"{disc}-3d-deltaA", arrays, kw
        arrays, _, kw, _ = simplified(discretization=disc)
        arrays["A"] = arrays["A"][:, None]
        arrays["delta"] = np.asarray(0.3)
        yield f"{disc}-scalar-step-A2d", arrays, kw


CASES = ([("selective", *c) for c in _selective_cases()]
         + [("simplified", *c) for c in _simplified_cases()])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind, name, arrays, kw", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_closed_form_equals_read_off(kind, name, arrays, kw, dtype):
    cdt = np.result_type(dtype, np.complex64) if dtype == np.float32 else np.complex128
    arrays = {n: (None if x is None else x.astype(cdt if np.iscomplexobj(x) else dtype))
              for n, x in arrays.items()}
    adapter = _adapters.SelectiveScan() if kind == "selective" else _adapters.SimplifiedScan()
    st = _st(adapter, arrays, kw)
    closed = adapter.transition(arrays, st)
    read_off = adapter.read_off_transition(arrays, st)
    assert closed.dtype == read_off.dtype == st["state_dtype"]
    assert closed.shape == read_off.shape
    testing.assert_close(closed, read_off, err_msg=name)
    # and the closed form is used: the transition is not the read-off by another name
    assert adapter.transition.__func__ is _adapters.Adapter.transition


def test_closed_form_at_block_length_0_and_1():
    arrays, _, kw, _ = selective(discretization="zoh")
    adapter = _adapters.SelectiveScan()
    st = _st(adapter, arrays, kw)
    for n in (0, 1):
        cut = {k: (v[..., :n] if v is not None and v.ndim == 3 else v) for k, v in arrays.items()}
        testing.assert_close(adapter.closed_transition(cut, st),
                             adapter.read_off_transition(cut, st))


@pytest.mark.parametrize("disc", ["bilinear", "s7", "rglru"])
def test_other_discretizations_keep_the_read_off(disc, monkeypatch):
    arrays, _, kw, _ = selective(discretization=disc, full=False)
    adapter = _adapters.SelectiveScan()
    st = _st(adapter, arrays, kw)

    def forbidden(*args, **kwargs):
        raise AssertionError(f"{disc} has no closed form here")

    monkeypatch.setattr(adapter, "closed_transition", forbidden)
    testing.assert_close(adapter.transition(arrays, st), adapter.read_off_transition(arrays, st))
