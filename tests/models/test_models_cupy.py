"""CuPy rows of every model (issues 10 and 11), on a GPU or on cuemu's CPU stand-in for CuPy.

Skipped unless ``cupy`` imports and has a device (the ``cuda`` marker): the real CuPy on a GPU
machine, or cuemu's fake in the emulated tier's child process
(``tests/emulated/test_emulated_tier.py`` runs this file under the round-robin schedule). The
emulated kernels are slow, so the sizes are tiny (B=2, H=8, N=4, L=8).

Every model and mode, float32 and float64:

* built with ``xp=cupy`` and loaded with the NumPy model's ``state_dict``, and moved there with
  ``.to(cupy)``, its forward equals the NumPy model's (tolerance table), on CuPy arrays;
* its step loop equals its forward; for the LTV models prefill + steps equals it too;
* ``impl="auto"`` took ``cuda`` for every op with a kernel: the kernels launched (counted at the
  launchers, on a GPU and on cuemu; cuemu's own counts, those of ``$LRNNX_EMULATED_REPORT``,
  must agree) are exactly the expected ones, and none has an empty grid;
* float16 input computes and returns float32; empty batch or sequence gives an empty output.

cuemu's fake has no ``cupyx``, whose ``cupyx.scipy.special.erfc`` the exact GELU uses on CuPy
(S4, S4D, RG-LRU, S7): on the fake only, a stand-in computes it with SciPy on the host copy.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import importlib
import pkgutil
import sys
import types

import numpy as np
import pytest
from ltv_cases import CASES as LTV_CASES
from ltv_cases import MODE_IDS as LTV_IDS
from ltv_cases import MODES as LTV_MODES

from lrnnx_array import _dispatch, testing
from lrnnx_array.models.lti import LRU, S4, S4D, S5, Centaurus

pytestmark = pytest.mark.cuda

B, H, N, L = 2, 8, 4, 8
DTYPES = ["float32", "float64"]

# (constructor, ops run on cuda by the forward, by a step): the op names are the OpSpec names,
# the kernels the CUDA function names without their template arguments and lrnnx_ prefix.
LTI_CASES = {
    "S4": (lambda **k: S4(H, d_state=N, transposed=False, verbose=False, **k),
           {"dplr_kernel", "cauchy"}, {"dplr_kernel"}),
    "S4-linear": (lambda **k: S4(H, d_state=N, transposed=False, verbose=False, **k),
                  {"dplr_kernel", "cauchy"}, {"dplr_kernel"}),
    "S4-diagonal": (lambda **k: S4(H, d_state=N, transposed=False, verbose=False, **k),
                    {"dplr_kernel", "cauchy"}, {"dplr_kernel"}),
    "S4D-zoh": (lambda **k: S4D(H, d_state=N, transposed=False, verbose=False, **k),
                {"s4d_kernel", "log_vandermonde"}, {"s4d_kernel"}),
    "S4D-bilinear": (lambda **k: S4D(H, d_state=N, transposed=False, verbose=False,
                                     disc="bilinear", **k),
                     {"s4d_kernel", "log_vandermonde"}, {"s4d_kernel"}),
    **{f"S5-{d}": (lambda d=d, **k: S5(H, N, d, **k), set(), set())
       for d in ("zoh", "bilinear", "dirac", "no_discretization")},
    "LRU": (lambda **k: LRU(H, N, **k), set(), set()),
    "Centaurus-neck": (lambda **k: Centaurus(H, N, 2, mode="neck", **k), set(), set()),
    "Centaurus-pointwise": (lambda **k: Centaurus(H, N, 2, mode="pointwise", **k), set(), set()),
    "Centaurus-dws": (lambda **k: Centaurus(H, H, 2, mode="dws", **k), set(), set()),
    "Centaurus-full": (lambda **k: Centaurus(4, 16, 2, mode="full", **k), set(), set()),
}
STEP_MODE = {"S4-linear": "linear", "S4-diagonal": "diagonal"}
# raw A: |A|^l grows like (pi n)^l, so the small entries are cancellations of large terms and
# only a bound relative to the output's scale means anything (as tests/models/test_s5_lti.py)
NORMWISE = {"S5-no_discretization"}
KERNELS = {  # op -> the kernels its cuda impl launches (a composite's are its children's)
    "dplr_kernel": set(), "cauchy": {"cauchy_fwd"}, "s4d_kernel": set(),
    "log_vandermonde": {"vand_fwd"}, "s5_inner": {"simplified_scan_fwd"},
    "simplified_scan": {"simplified_scan_fwd"},
    "selective_scan": {"selective_scan_fwd"}, "rglru_scan": {"rglru_scan_fwd"},
    "s7_scan": {"s7_scan_fwd", "s7_scan_contract"},
    "selective_state_update": {"selective_state_update_step"},
    "simplified_state_update": {"simplified_state_update_step", "simplified_state_update_out"},
}
LTV_OPS = {  # family of an LTV case -> (forward ops, prefill ops, step ops)
    "mamba": ({"selective_scan"}, {"selective_scan"}, {"selective_state_update"}),
    "rglru": ({"rglru_scan"}, {"rglru_scan"}, {"selective_state_update"}),
    # S5's forward needs no final state: the fused s5_inner; a prefill keeps it: simplified_scan
    "s5": ({"s5_inner"}, {"simplified_scan"}, {"simplified_state_update"}),
    "s7": ({"s7_scan"}, {"s7_scan"}, {"selective_state_update"}),
}


@pytest.fixture(scope="module")
def cupy():
    cp = pytest.importorskip("cupy")
    with _erfc_stand_in(cp):
        yield cp


@contextlib.contextmanager
def _erfc_stand_in(cp):
    """On cuemu's fake only: ``cupyx.scipy.special.erfc`` from SciPy on the host copy."""
    try:
        import cupyx.scipy.special  # noqa: F401
        have = True
    except ImportError:
        have = False
    if have or not getattr(cp, "_FAKE", False):
        yield
        return
    import scipy.special

    mods = {n: types.ModuleType(n) for n in ("cupyx", "cupyx.scipy", "cupyx.scipy.special")}
    mods["cupyx.scipy.special"].erfc = lambda x: cp.asarray(scipy.special.erfc(x.get()))
    mods["cupyx"].scipy = mods["cupyx.scipy"]
    mods["cupyx.scipy"].special = mods["cupyx.scipy.special"]
    with pytest.MonkeyPatch.context() as mp:
        for name, mod in mods.items():
            mp.setitem(sys.modules, name, mod)
        yield


@functools.cache
def _launcher_modules():
    """Every kernel launcher module (``lrnnx_array._ops.<family>._cuda``); none imports cupy."""
    import lrnnx_array._ops as ops_pkg

    return [importlib.import_module(i.name)
            for i in pkgutil.walk_packages(ops_pkg.__path__, prefix="lrnnx_array._ops.")
            if i.name.endswith("._cuda")]


def _kernel_name(expression: str) -> str:
    return expression.split("<")[0].removeprefix("lrnnx_")


class Trace:
    """What ran inside ``with``: the kernels launched (through the launchers' ``get_function``,
    on a GPU and on cuemu alike; cross-checked against cuemu's own launch counts there), their
    grids, and the implementations the dispatch handed out (``OpSpec.get``; the models' decode
    steps resolve once per dtype and then call the implementation directly, so not every call
    shows there)."""

    def __init__(self, cp):
        self.fake = getattr(cp, "_FAKE", False)
        self.resolved = collections.Counter()
        self.kernels = collections.Counter()
        self.grids = []

    @staticmethod
    def _cuemu_launches():
        import cuemu

        out = collections.Counter()
        for mod in cuemu.MODULES:
            for expr, k in mod._kernels.items():
                out[_kernel_name(expr)] += k.launches
        return out

    def _counting(self, get_function):
        def get(name, expression, all_expressions):
            fn = get_function(name, expression, all_expressions)

            def launch(grid, block, args, *a, **k):
                self.kernels[_kernel_name(expression)] += 1
                self.grids.append((expression, tuple(grid), tuple(block)))
                return fn(grid, block, args, *a, **k)

            return launch

        return get

    def __enter__(self):
        self._get = orig = _dispatch.OpSpec.get
        seen = self.resolved

        def get(spec, impl, fn="forward"):
            seen[(spec.name, impl, "cuda" in spec.impls)] += 1
            return orig(spec, impl, fn)

        _dispatch.OpSpec.get = get
        self._launchers = [(m, m.get_function) for m in _launcher_modules()]
        for mod, orig_get in self._launchers:
            mod.get_function = self._counting(orig_get)
        self._before = self._cuemu_launches() if self.fake else None
        return self

    def __exit__(self, *exc):
        _dispatch.OpSpec.get = self._get
        for mod, orig_get in self._launchers:
            mod.get_function = orig_get
        if self.fake and exc[0] is None:  # an error in the block is the one to report
            after = self._cuemu_launches()
            emulated = {k: n - self._before[k] for k, n in after.items() if n > self._before[k]}
            assert emulated == dict(self.kernels), (
                f"cuemu counted launches {emulated}, the launchers {dict(self.kernels)}")

    def check(self, ops: set, what: str):
        """The kernels launched are exactly those of ``ops`` (``impl="auto"`` took cuda for
        each op with a kernel), no op with a kernel was handed another implementation, and no
        launch had an empty grid."""
        want = set().union(*(KERNELS[o] for o in ops))
        assert set(self.kernels) == want, (
            f"{what}: kernels launched {dict(self.kernels)}, expected {sorted(want)}")
        not_cuda = sorted({(op, impl) for op, impl, has in self.resolved if has and impl != "cuda"})
        assert not not_cuda, f"{what}: ops with a kernel that did not take it on CuPy: {not_cuda}"
        took = {op for op, impl, _ in self.resolved if impl == "cuda"}
        assert took <= ops, f"{what}: ops resolved to cuda {sorted(took)}, expected {sorted(ops)}"
        self.no_empty_launch(what)

    def no_empty_launch(self, what: str):
        """CUDA rejects an empty grid or block (invalid configuration): empty inputs must skip
        the launch."""
        empty = [g for g in self.grids if 0 in g[1] or 0 in g[2]]
        assert not empty, f"{what}: launches with an empty grid or block: {empty}"


def _on_cupy(a, cp):
    assert isinstance(a, cp.ndarray), f"expected a cupy array, got {type(a).__module__}"


def _host_sd(model):
    return {k: testing.to_numpy(v) for k, v in model.state_dict().items()}


def _pair(make, dtype, cp):
    """(NumPy model, the same parameters on CuPy by xp=cupy + load, and by .to(cupy))."""
    m_np = make(seed=0, dtype=dtype).eval()
    sd = _host_sd(m_np)
    m_cp = make(seed=1, dtype=dtype, xp=cp)
    m_cp.load_state_dict(sd)
    moved = make(seed=2, dtype=dtype)
    moved.load_state_dict(sd)
    moved = moved.to(cp).eval()
    for v in [*m_cp.state_dict().values(), *moved.state_dict().values()]:
        _on_cupy(v, cp)
    return m_np, m_cp.eval(), moved


def _data(dtype, H_=H, event=False, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, L, H_)).astype(dtype)
    ts = rng.uniform(0.3, 2.0, (B, L)).astype(dtype) if event else None
    return x, ts


def _first(out):
    return out[0] if isinstance(out, tuple) else out


# -- LTI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(LTI_CASES))
def test_lti_model_on_cupy(cupy, case, dtype):
    make, fwd_ops, step_ops = LTI_CASES[case]
    xp = testing.backend_namespace("cupy")
    m_np, m_cp, moved = _pair(make, dtype, cupy)
    x, _ = _data(dtype, m_np.d_model)
    xc = testing.from_numpy(xp, x)
    want = _first(m_np(x))
    with Trace(cupy) as tr:
        y = _first(m_cp(xc))
    _on_cupy(y, cupy)
    tr.check(fwd_ops, f"{case} forward")
    nw = case in NORMWISE
    testing.assert_close(y, testing.from_numpy(xp, want), normwise=nw, err_msg="xp=cupy vs numpy")
    testing.assert_close(_first(moved(xc)), y, err_msg=".to(cupy) vs xp=cupy")

    mode = STEP_MODE.get(case)
    if mode is not None:
        m_cp.setup_step(mode)
    cache = m_cp.allocate_inference_cache(B)
    for v in cache.values():
        if hasattr(v, "shape"):
            _on_cupy(v, cupy)
    ys = []
    for t in range(L):
        with Trace(cupy) as tr:
            yt, cache = m_cp.step(xc[:, t, :], cache)
        tr.check(step_ops, f"{case} step")
        _on_cupy(yt, cupy)
        ys.append(yt)
    testing.assert_close(xp.stack(ys, axis=1), y, normwise=nw, err_msg="step loop vs forward")


S4_OPTIONS = [  # the block's wiring options, lrnnx's default layout (transposed) included
    (S4, dict(transposed=True)), (S4, dict(channels=2, gate=2, transposed=False)),
    (S4, dict(bottleneck=2, n_ssm=2, transposed=False)), (S4, dict(is_real=True)),
    (S4D, dict(transposed=True)), (S4D, dict(channels=2, gate=2, transposed=False)),
    (S4D, dict(is_real=True, init="diag-real")),
]
S4_OPTION_IDS = [f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"
                 for c, kw in S4_OPTIONS]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls,kw", S4_OPTIONS, ids=S4_OPTION_IDS)
def test_s4_options_on_cupy(cupy, cls, kw, dtype):
    """S4/S4D options and ``lengths`` masking (a CuPy integer array) on CuPy = on NumPy."""
    xp = testing.backend_namespace("cupy")
    ops = {"dplr_kernel", "cauchy"} if cls is S4 else {"s4d_kernel", "log_vandermonde"}
    m_np, m_cp, _ = _pair(lambda **k: cls(H, d_state=N, verbose=False, **kw, **k), dtype, cupy)
    x, _ = _data(dtype)
    if m_np.transposed:
        x = np.ascontiguousarray(np.swapaxes(x, 1, 2))  # (B, H, L)
    xc = testing.from_numpy(xp, x)
    lengths = np.array([L, 5])
    with Trace(cupy) as tr:
        y = _first(m_cp(xc))
        y_len = _first(m_cp(xc, lengths=xp.asarray(lengths)))
    tr.check(ops, f"{cls.__name__} {kw} forward")
    _on_cupy(y, cupy)
    _on_cupy(y_len, cupy)
    testing.assert_close(y, testing.from_numpy(xp, _first(m_np(x))), err_msg="xp=cupy vs numpy")
    testing.assert_close(y_len, testing.from_numpy(xp, _first(m_np(x, lengths=lengths))),
                         err_msg="lengths: xp=cupy vs numpy")
    assert not np.allclose(testing.to_numpy(y_len), testing.to_numpy(y))  # the mask acted
    cache = m_cp.allocate_inference_cache(B)
    ys = []
    for t in range(L):
        yt, cache = m_cp.step(xc[:, :, t] if m_cp.transposed else xc[:, t, :], cache)
        ys.append(yt)
    testing.assert_close(xp.stack(ys, axis=2 if m_cp.transposed else 1), y,
                         err_msg="step loop vs forward")


EDGE_CASES = ["S4", "S4D-zoh", "S5-zoh", "LRU", "Centaurus-neck", "mamba-zoh", "s5-zoh-nocs",
              "rglru", "s7"]


@pytest.mark.parametrize("case", EDGE_CASES)
def test_half_and_empty_inputs_on_cupy(cupy, case):
    """float16 input computes and returns float32 (= the float32 forward of the same values);
    an empty batch or sequence gives an empty CuPy output, launching no empty grid."""
    xp = testing.backend_namespace("cupy")
    make = LTI_CASES[case][0] if case in LTI_CASES else LTV_CASES[case][0]
    m = make(seed=0, dtype="float32", xp=cupy).eval()
    x16, _ = _data("float16")
    y = _first(m(testing.from_numpy(xp, x16)))
    _on_cupy(y, cupy)
    assert y.dtype == xp.float32
    testing.assert_close(y, _first(m(testing.from_numpy(xp, x16, "float32"))),
                         err_msg="float16 input vs its float32 values")
    for shape in [(0, L, H), (B, 0, H)]:
        with Trace(cupy) as tr:
            y = _first(m(testing.from_numpy(xp, np.zeros(shape, np.float32))))
        _on_cupy(y, cupy)
        assert tuple(y.shape) == shape and y.dtype == xp.float32, (shape, y.shape, y.dtype)
        tr.no_empty_launch(f"{case} {shape}")


# -- LTV ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case,ev", LTV_MODES, ids=LTV_IDS)
def test_ltv_model_on_cupy(cupy, case, ev, dtype):
    make, _, _ = LTV_CASES[case]
    fwd_ops, prefill_ops, step_ops = LTV_OPS[case.split("-")[0]]
    xp = testing.backend_namespace("cupy")
    m_np, m_cp, moved = _pair(make, dtype, cupy)
    x, ts = _data(dtype, event=ev)
    xc, tc = testing.from_numpy(xp, x), testing.from_numpy(xp, ts)
    want = m_np(x, ts)
    with Trace(cupy) as tr:
        y = m_cp(xc, tc)
    _on_cupy(y, cupy)
    tr.check(fwd_ops, f"{case} forward")
    testing.assert_close(y, testing.from_numpy(xp, want), err_msg="xp=cupy vs numpy")
    testing.assert_close(moved(xc, tc), y, err_msg=".to(cupy) vs xp=cupy")

    def tau(t):
        return None if tc is None else tc[:, t]

    cache = m_cp.allocate_inference_cache(B, L)
    ys = []
    for t in range(L):
        with Trace(cupy) as tr:
            ys.append(m_cp.step(xc[:, t:t + 1, :], cache, tau(t))[0])
        tr.check(step_ops, f"{case} step")
        _on_cupy(ys[-1], cupy)
    for v in cache.values():
        if hasattr(v, "shape"):
            _on_cupy(v, cupy)
    testing.assert_close(xp.concat(ys, axis=1), y, err_msg="step loop vs forward")

    # prefill 5 tokens (the forward stores the final states), then steps
    P = 5
    cache = m_cp.allocate_inference_cache(B, L)
    with Trace(cupy) as tr:
        outs = [m_cp(xc[:, :P, :], None if tc is None else tc[:, :P], inference_cache=cache)]
    tr.check(prefill_ops, f"{case} prefill")
    for t in range(P, L):
        outs.append(m_cp.step(xc[:, t:t + 1, :], cache, tau(t))[0])
    testing.assert_close(xp.concat(outs, axis=1), y, err_msg="prefill + steps vs forward")
