"""CuPy rows of every model (issues 10 and 11), on a GPU or on cuemu's CPU stand-in for CuPy.

Skipped unless ``cupy`` imports and has a device (the ``cuda`` marker): the real CuPy on a GPU
machine, or cuemu's fake in the emulated tier's child process
(``tests/emulated/test_emulated_tier.py`` runs this file under the round-robin schedule). The
emulated kernels are slow, so the sizes are tiny (B=2, H=8, N=4, L=8).

Every model and mode, float32 and float64:

* built with ``xp=cupy`` and loaded with the NumPy model's ``state_dict``, and moved there with
  ``.to(cupy)``, its forward equals the NumPy model's (tolerance table), on CuPy arrays;
* its step loop equals its forward; for the LTV models prefill + steps equals it too;
* ``impl="auto"`` resolved to ``cuda`` for every op that has a kernel, and the ops that ran a
  kernel are the expected ones; on the emulator the kernels launched are exactly those expected
  (counted through cuemu, as ``$LRNNX_EMULATED_REPORT`` does).

cuemu's fake has no ``cupyx``, whose ``cupyx.scipy.special.erfc`` the exact GELU uses on CuPy
(S4, S4D, RG-LRU, S7): on the fake only, a stand-in computes it with SciPy on the host copy.
"""

from __future__ import annotations

import collections
import contextlib
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

# (constructor, ops resolved to cuda by the forward, by a step): the op names are the public
# ones (the OpSpec names), the kernels the CUDA function names without their template arguments.
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
       for d in ("zoh", "bilinear", "dirac")},
    "LRU": (lambda **k: LRU(H, N, **k), set(), set()),
    "Centaurus-neck": (lambda **k: Centaurus(H, N, 2, mode="neck", **k), set(), set()),
    "Centaurus-pointwise": (lambda **k: Centaurus(H, N, 2, mode="pointwise", **k), set(), set()),
    "Centaurus-dws": (lambda **k: Centaurus(H, H, 2, mode="dws", **k), set(), set()),
    "Centaurus-full": (lambda **k: Centaurus(4, 16, 2, mode="full", **k), set(), set()),
}
STEP_MODE = {"S4-linear": "linear", "S4-diagonal": "diagonal"}
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


class Trace:
    """What ran inside ``with``: op resolutions ``(op, impl)`` and, on cuemu, kernel launches."""

    def __init__(self, cp):
        self.fake = getattr(cp, "_FAKE", False)
        self.resolved = collections.Counter()
        self.kernels = collections.Counter()

    @staticmethod
    def _launches():
        import cuemu

        out = collections.Counter()
        for mod in cuemu.MODULES:
            for expr, k in mod._kernels.items():
                out[expr.split("<")[0].removeprefix("lrnnx_")] += k.launches
        return out

    def __enter__(self):
        # OpSpec.get runs on every call (resolutions are cached per dtype in some families)
        self._orig = orig = _dispatch.OpSpec.get
        seen = self.resolved

        def get(spec, impl, fn="forward"):
            seen[(spec.name, impl, "cuda" in spec.impls)] += 1
            return orig(spec, impl, fn)

        _dispatch.OpSpec.get = get
        self._before = self._launches() if self.fake else None
        return self

    def __exit__(self, *exc):
        _dispatch.OpSpec.get = self._orig
        if self.fake:
            after = self._launches()
            self.kernels = collections.Counter(
                {k: n - self._before[k] for k, n in after.items() if n > self._before[k]})

    def check(self, ops: set, what: str):
        """Every op with a kernel took it, those that did are ``ops``, and (emulated) the
        kernels launched are exactly theirs."""
        not_cuda = sorted({(op, impl) for op, impl, has in self.resolved if has and impl != "cuda"})
        assert not not_cuda, f"{what}: ops with a kernel that did not take it on CuPy: {not_cuda}"
        took = {op for op, impl, _ in self.resolved if impl == "cuda"}
        assert took == ops, f"{what}: ops resolved to cuda {sorted(took)}, expected {sorted(ops)}"
        if self.fake:
            want = set().union(*(KERNELS[o] for o in ops))
            assert set(self.kernels) == want, (
                f"{what}: kernels launched {dict(self.kernels)}, expected {sorted(want)}")


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
    testing.assert_close(y, testing.from_numpy(xp, want), err_msg="xp=cupy vs numpy")
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
    testing.assert_close(xp.stack(ys, axis=1), y, err_msg="step loop vs forward")


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
