"""The numba decode steps (selective_state_update, simplified_state_update) against the float64
oracles: every discretization, real and complex, 3-d and headed/grouped states, D / z / dt_bias
with softplus / deltaA / state_batch_indices, a state of lower precision than the inputs, batch 0,
and the state left untouched by a rejected call."""

from __future__ import annotations

import numpy as np
import pytest
from _numba_common import cast, close_all, needs_numba

from lrnnx_array import testing
from lrnnx_array._ops.selective_state_update._ref import selective_state_update_ref
from lrnnx_array._ops.simplified_state_update._ref import simplified_state_update_ref
from lrnnx_array.ops import selective_state_update, simplified_state_update

pytestmark = needs_numba
testing.add_override("numba_float16_state", 10, "the state is stored in float16 (one rounding, "
                     "half an ulp = 4.9e-4 relative), computed in float32")
METHODS = ("zoh", "bilinear", "dirac", "mamba", "rglru", "s7")
COMPLEX_OK = ("zoh", "bilinear", "dirac", "mamba")


def _sel_case(method, dtype, headed, extras, Bsz=3, rows=None, nh=2, P=4, N=5, G=2, seed=0):
    rng = np.random.default_rng(seed)
    cplx = dtype.startswith("complex")
    real = "float32" if dtype in ("float32", "complex64") else "float64"

    def c(*shape):
        x = rng.standard_normal(shape)
        return x + 1j * rng.standard_normal(shape) if cplx else x

    lead = (nh,) if headed else ()
    rows = Bsz if rows is None else rows
    A = rng.uniform(0.5, 0.99, (*lead, P, N)) if method == "rglru" else -rng.uniform(
        0.5, 1, (*lead, P, N))
    if cplx:
        A = A + 1j * rng.uniform(-2, 2, A.shape)
    bc = (Bsz, G, N) if headed else (Bsz, N)
    kw = dict(state=c(rows, *lead, P, N), x=rng.standard_normal((Bsz, *lead, P)),
              dt=rng.uniform(0.05, 1, (Bsz, *lead, P)), A=A, B=c(*bc), C=c(*bc))
    if extras:
        kw.update(D=rng.standard_normal((*lead, P)), z=rng.standard_normal((Bsz, *lead, P)),
                  dt_bias=0.3 * rng.standard_normal((*lead, P)),
                  deltaA=rng.uniform(0.05, 1, (Bsz, *lead, P)))
    return {k: cast(v, dtype if k in ("state", "A", "B", "C") else real) for k, v in kw.items()}


def _run_sel(kw, method, softplus, idx=None):
    want_state, want_out = selective_state_update_ref(
        kw["state"], kw["x"], kw["dt"], kw["A"], kw["B"], kw["C"], kw.get("D"), kw.get("z"),
        kw.get("dt_bias"), softplus, kw.get("deltaA"), idx, method)
    st = kw["state"].copy()
    out = selective_state_update(st, *(kw[k] for k in ("x", "dt", "A", "B", "C")),
                                 kw.get("D"), kw.get("z"), kw.get("dt_bias"), softplus,
                                 deltaA=kw.get("deltaA"), state_batch_indices=idx,
                                 discretization=method, impl="numba")
    return st, out, want_state, want_out


CASES = [(m, dt, headed, ex) for m in METHODS
         for dt in (("float32", "float64", "complex64", "complex128") if m in COMPLEX_OK
                    else ("float32", "float64"))
         for headed, ex in ((False, True), (True, False), (True, True))]


@pytest.mark.parametrize("method,dtype,headed,extras", CASES)
def test_selective_step_matches_oracle(method, dtype, headed, extras):
    kw = _sel_case(method, dtype, headed, extras)
    st, out, ws, wo = _run_sel(kw, method, extras)
    close_all(["state", "out"], [st, out], [ws, wo], dtype)


@pytest.mark.parametrize("method", ["mamba", "zoh", "bilinear", "dirac"])
@pytest.mark.parametrize("dtype", ["float32", "complex128"])
@pytest.mark.parametrize("headed", [False, True])
def test_selective_step_dim_blocks(method, dtype, headed):
    """More dim entries than one task's block (_PB), with a remainder block (and in mamba / dirac
    sub-blocks of _QR rows), and an odd N: every row of every block is stepped once (the
    oracle), with deltaA / dt_bias / softplus / D / z."""
    from lrnnx_array._ops.selective_state_update import _numba as nb

    P = 2 * nb._PB + 5
    kw = _sel_case(method, dtype, headed, True, Bsz=2, nh=2, P=P, N=3, G=1)
    st, out, ws, wo = _run_sel(kw, method, True)
    close_all(["state", "out"], [st, out], [ws, wo], dtype)


@pytest.mark.parametrize("method", ["mamba", "dirac", "zoh"])
@pytest.mark.parametrize("headed", [False, True])
@pytest.mark.parametrize("extras", [False, True])
def test_selective_step_flat_and_per_row_forms_agree(method, headed, extras):
    """Real mamba / dirac (and zoh without deltaA: extras=False) on a C-contiguous state take
    the flat form (a block's rows as one loop over their states, in sub-blocks of _QR rows); a
    strided state takes the loop per row. The same operations in the same order: equal
    results, and the oracle's. Batch rows step state rows 4 and 1 of 5 (state_batch_indices)."""
    from lrnnx_array._ops.selective_state_update import _numba as nb

    P, N = 2 * nb._QR + 7, 5
    kw = _sel_case(method, "float32", headed, extras, Bsz=2, rows=5, nh=2, P=P, N=N, G=1)
    idx = np.array([4, 1])
    st, out, ws, wo = _run_sel(kw, method, extras, idx)
    close_all(["state", "out"], [st, out], [ws, wo], "float32")
    wide = np.zeros((*kw["state"].shape[:-1], 2 * N), np.float32)
    strided = wide[..., ::2]
    strided[...] = kw["state"]
    assert not strided.flags.c_contiguous
    out2 = selective_state_update(strided, *(kw[k] for k in ("x", "dt", "A", "B", "C")),
                                  kw.get("D"), kw.get("z"), kw.get("dt_bias"), extras,
                                  deltaA=kw.get("deltaA"), state_batch_indices=idx,
                                  discretization=method, impl="numba")
    np.testing.assert_array_equal(strided, st)
    np.testing.assert_array_equal(out2, out)
    assert not wide[..., 1::2].any()  # the gaps between the strided state's entries untouched


@pytest.mark.parametrize("headed", [False, True])
def test_selective_step_batch_indices_and_broadcasts(headed):
    kw = _sel_case("zoh", "float64", headed, True, Bsz=2, rows=5)
    # tie_hdim-style broadcasts: one dt / A / dt_bias per head (or scalar-like) over the dim
    kw["dt"] = kw["dt"][..., :1]
    kw["dt_bias"] = kw["dt_bias"][..., :1]
    kw["A"] = kw["A"][..., :1, :]
    idx = np.array([4, 1])
    st, out, ws, wo = _run_sel(kw, "zoh", True, idx)
    close_all(["state", "out"], [st, out], [ws, wo], "float64")


def test_selective_step_lower_precision_state():
    kw = _sel_case("mamba", "float64", True, True)
    kw["state"] = kw["state"].astype(np.float32)
    st, out, ws, wo = _run_sel(kw, "mamba", True)
    assert st.dtype == np.float32 and out.dtype == np.float64
    close_all(["state"], [st], [ws], "float32")
    close_all(["out"], [out], [wo], "float32")  # computed from a float32 state


def test_selective_step_batch_zero_and_untouched_on_error():
    kw = _sel_case("zoh", "float32", False, False, Bsz=0)
    out = selective_state_update(kw["state"], kw["x"], kw["dt"], kw["A"], kw["B"], kw["C"],
                                 impl="numba")
    assert out.shape == (0, 4)
    kw = _sel_case("zoh", "float32", False, False)
    before = kw["state"].copy()
    with pytest.raises(ValueError):
        selective_state_update(kw["state"], kw["x"], kw["dt"], kw["A"][:, :2], kw["B"], kw["C"],
                               impl="numba")
    np.testing.assert_array_equal(kw["state"], before)


def _s5_case(dtype, Bsz=3, H=4, P=5, per_batch=False, deltaA=False, D=True, seed=0):
    rng = np.random.default_rng(seed)
    real = "float32" if dtype == "complex64" else "float64"

    def c(*shape):
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    steps = (Bsz, P) if per_batch else (P,)
    kw = dict(state=cast(c(Bsz, P), dtype), x=cast(rng.standard_normal((Bsz, H)), real),
              dt=cast(rng.uniform(0.05, 1, steps), real),
              A=cast(-rng.uniform(0.1, 1, P) + 1j * rng.uniform(-2, 2, P), dtype),
              B=cast(c(P, H), dtype), C=cast(c(H, P), dtype),
              D=cast(rng.standard_normal((H, H)), real) if D else None,
              deltaA=cast(rng.uniform(0.05, 1, steps), real) if deltaA else None)
    return kw


@pytest.mark.parametrize("disc", ["bilinear", "zoh", "dirac"])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("per_batch,deltaA,conj_sym", [(False, False, True), (True, True, False),
                                                       (True, False, True), (False, True, False)])
def test_simplified_step_matches_oracle(disc, dtype, per_batch, deltaA, conj_sym):
    kw = _s5_case(dtype, per_batch=per_batch, deltaA=deltaA, D=conj_sym)
    work = kw["state"].astype(np.complex128)
    want = simplified_state_update_ref(work, *(kw[k] for k in ("x", "dt", "A", "B", "C", "D",
                                                                "deltaA")), disc, conj_sym)
    st = kw.pop("state").copy()
    y = simplified_state_update(st, **kw, discretization=disc, conj_sym=conj_sym, impl="numba")
    close_all(["state", "y"], [st, y], [work, want], dtype)


@pytest.mark.parametrize("per_batch", [False, True])
def test_simplified_step_lower_precision_state_and_strided_inputs(per_batch):
    """A complex64 state stepped at complex128 (the once-per-state and per-element Ā/γ̄ paths),
    B and C given as transposed (non-contiguous) views: the real-view GEMMs copy them first."""
    kw = _s5_case("complex128", Bsz=3, H=4, P=6, per_batch=per_batch, deltaA=True)
    kw["state"] = kw["state"].astype(np.complex64)
    kw["B"] = np.ascontiguousarray(kw["B"].T).T
    kw["C"] = np.ascontiguousarray(kw["C"].T).T
    assert not kw["B"].flags.c_contiguous and not kw["C"].flags.c_contiguous
    work = kw["state"].astype(np.complex128)
    want = simplified_state_update_ref(work, *(kw[k] for k in ("x", "dt", "A", "B", "C", "D",
                                                                "deltaA")), "zoh", True)
    st = kw.pop("state").copy()
    y = simplified_state_update(st, **kw, discretization="zoh", impl="numba")
    assert st.dtype == np.complex64 and y.dtype == np.float64
    close_all(["state"], [st], [work], "complex64")
    close_all(["y"], [y], [want], "complex64")  # computed at complex128 from a complex64 state


def test_simplified_step_batch_zero_and_untouched_on_error():
    kw = _s5_case("complex64", Bsz=0)
    st = kw.pop("state")
    assert simplified_state_update(st, **kw, impl="numba").shape == (0, 4)
    kw = _s5_case("complex64")
    st = kw.pop("state")
    before = st.copy()
    with pytest.raises(ValueError):
        simplified_state_update(st, **{**kw, "B": kw["B"][:, :2]}, impl="numba")
    np.testing.assert_array_equal(st, before)


def test_auto_routing_of_the_steps():
    import array_api_compat.numpy as xp

    from lrnnx_array._ops.selective_state_update._api import _resolve
    from lrnnx_array._ops.simplified_state_update._api import SPEC as S5_STEP

    # real states take numba except under the rglru and s7 gates (measured slower there);
    # complex ones take numba under every method; an explicit request runs it anyway
    real, cplx = np.zeros(1, np.float32), np.zeros(1, np.complex64)
    for m in ("mamba", "zoh", "bilinear", "dirac"):
        assert _resolve("auto", xp, real, np.float32, m) == "numba"
    for m in ("rglru", "s7"):
        assert _resolve("auto", xp, real, np.float32, m) == "generic"
        assert _resolve("numba", xp, real, np.float32, m) == "numba"
        assert _resolve("auto", xp, cplx, np.complex64, m) == "numba"
    assert S5_STEP.resolve("auto", xp, np.complex64) == "numba"


def test_selective_step_float16_state():
    kw = _sel_case("mamba", "float32", False, True)
    kw["state"] = kw["state"].astype(np.float16)
    st, out, ws, wo = _run_sel(kw, "mamba", True)
    assert st.dtype == np.float16 and out.dtype == np.float32
    testing.assert_close(st.astype(np.float32), ws.astype(np.float16).astype(np.float32),
                         override="numba_float16_state")


def test_float16_step_on_an_unsafe_threading_layer(monkeypatch):
    """On numba's workqueue layer every launch holds a lock; the float16 state's step launches
    its float32 copy's step from inside its own launch, which a non-reentrant lock deadlocked."""
    import threading

    from lrnnx_array._ops._shared import numba_support as nbs

    kw = _sel_case("mamba", "float32", False, True)
    kw["state"] = kw["state"].astype(np.float16)
    _run_sel(dict(kw, state=kw["state"].copy()), "mamba", True)  # the layer is picked first
    monkeypatch.setattr(nbs, "_LAYER_IS_SAFE", False)
    done = []
    worker = threading.Thread(target=lambda: done.append(_run_sel(kw, "mamba", True)),
                              daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert done, "the nested launch under the workqueue lock did not return (deadlock)"
    st, out, ws, wo = done[0]
    testing.assert_close(st.astype(np.float32), ws.astype(np.float16).astype(np.float32),
                         override="numba_float16_state")


@pytest.mark.parametrize("method", ["mamba", "zoh"])
def test_selective_step_parallel_kernel_matches_oracle(method):
    """A state of PARALLEL_MIN elements or more takes the prange kernel (the smaller cases
    above all run the serial one): every block of every thread stepped once."""
    from lrnnx_array._ops.selective_state_update import _numba as nb

    P = nb.PARALLEL_MIN // (2 * 2 * 16) + 3
    kw = _sel_case(method, "float32", True, True, Bsz=2, nh=2, P=P, N=16, G=1)
    assert kw["state"].size >= nb.PARALLEL_MIN
    st, out, ws, wo = _run_sel(kw, method, True)
    close_all(["state", "out"], [st, out], [ws, wo], "float32")


def test_serial_and_parallel_step_builds_have_separate_cache_entries():
    """numba's on-disk cache keys a function's builds by signature, not by ``parallel=``: the
    serial decode step must be its own function (another qualname), or a process would load
    whichever build was cached last for both."""
    from lrnnx_array._ops.selective_state_update import _numba as sel

    par, ser = sel._step, sel._step_serial
    assert par.targetoptions.get("parallel") and not ser.targetoptions.get("parallel")
    assert par.py_func.__qualname__ != ser.py_func.__qualname__
    assert par.py_func.__code__ is ser.py_func.__code__  # the same kernel body
