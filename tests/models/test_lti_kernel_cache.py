"""Eval-mode kernel reuse of the LTI models (``models._base.KernelCache``): the kept kernel gives
the training-mode output, is reused while the parameters are unchanged, and is recomputed after
every kind of parameter change (in-place edit, assignment, load_state_dict, .to, torch optimizer
step); S4's kept C̃ gives the op's plain-C kernel. Also: the bench baselines compute what the
models compute (a baseline that is not the model's work would make the ratio meaningless)."""

from __future__ import annotations

import numpy as np
import pytest

from lrnnx_array import ops, testing
from lrnnx_array.models._base import KernelCache
from lrnnx_array.models.lti import LRU, S4, S4D, S5, Centaurus

BUILDERS = {
    "S4": lambda **k: S4(8, d_state=8, transposed=False, l_max=None, **k),
    "S4D": lambda **k: S4D(8, d_state=8, transposed=False, **k),
    "S5": lambda **k: S5(8, 4, "zoh", **k),
    "LRU": lambda **k: LRU(8, 4, **k),
    "neck": lambda **k: Centaurus(8, 4, 3, mode="neck", **k),
    "pointwise": lambda **k: Centaurus(8, 4, 3, mode="pointwise", **k),
    "dws": lambda **k: Centaurus(8, 8, 3, mode="dws", **k),
    "full": lambda **k: Centaurus(3, 9, 2, mode="full", **k),
}


def _out(model, x):
    y = model(x)
    return y[0] if isinstance(y, tuple) else y


def _x(model, B=2, L=24, seed=0):
    H = model.d_model
    return np.random.default_rng(seed).standard_normal((B, L, H))


def _count_kernels(model, monkeypatch):
    """Count calls of the parameter-derived computation (what the cache should skip)."""
    calls = []
    target = model.layer.kernel if hasattr(model, "layer") else model
    orig = target._compute if hasattr(target, "_compute") else None
    if orig is not None:
        def counted(*a, **k):
            calls.append(1)
            return orig(*a, **k)
        monkeypatch.setattr(target, "_compute", counted)
    else:
        orig_parts = type(model)._kernel_parts

        def counted_parts(self, L, rdt, compute):
            def c():
                calls.append(1)
                return compute()
            return orig_parts(self, L, rdt, c)
        monkeypatch.setattr(type(model), "_kernel_parts", counted_parts)
    return calls


@pytest.mark.parametrize("name", list(BUILDERS))
def test_eval_reuses_the_kernel_and_equals_training_mode(name, monkeypatch):
    model = BUILDERS[name](seed=1, dtype="float64")
    x = _x(model)
    want = _out(model, x)  # training mode: computed fresh
    model.eval()
    calls = _count_kernels(model, monkeypatch)
    first, again = _out(model, x), _out(model, x)
    testing.assert_close(first, want)
    np.testing.assert_array_equal(again, first)
    assert len(calls) == 1, "the second eval forward must reuse the kernel"
    _out(model, _x(model, L=31))  # another length: computed for it
    assert len(calls) == 2
    model.train()
    _out(model, x)
    _out(model, x)
    assert len(calls) == 4, "training mode must never reuse a kernel"


def _first_float_param(model):
    for key, v in model.state_dict().items():
        if v.dtype.kind == "f" and v.ndim >= 1 and "l_kernel" not in key:
            return key, v
    raise AssertionError("no float parameter")


@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_parameter_change_recomputes(name):
    model = BUILDERS[name](seed=2, dtype="float64").eval()
    fresh = BUILDERS[name](seed=2, dtype="float64")  # training mode: never caches
    x = _x(model)
    _out(model, x)
    # in-place edit of every parameter in turn (NumPy arrays are mutable; ids stay the same)
    seen = set()
    for key, v in model.state_dict().items():
        if v.dtype.kind not in "fc" or id(v) in seen:  # S4's layer.kernel.* are aliases
            continue
        seen.add(id(v))
        v[...] = v * 0.97
        fv = fresh.state_dict()[key]
        fv[...] = fv * 0.97
        testing.assert_close(_out(model, x), _out(fresh, x), err_msg=f"in-place {key}")
    # assignment of a new array
    key, v = _first_float_param(model)
    new = np.asarray(v) * 1.05
    aliases = [k for k in (key, "layer.kernel." + key) if k in model.state_dict()]
    model.load_state_dict({**model.state_dict(), **{k: new for k in aliases}})
    fresh.load_state_dict({**fresh.state_dict(), **{k: new.copy() for k in aliases}})
    testing.assert_close(_out(model, x), _out(fresh, x), err_msg="load_state_dict")
    # .to: a new dtype (and new arrays)
    model.to(dtype="float32")
    fresh.to(dtype="float32")
    x32 = x.astype(np.float32)
    y = _out(model, x32)
    assert y.dtype == np.float32
    testing.assert_close(y, _out(fresh, x32))


def test_cache_holds_the_arrays_it_was_computed_from():
    """An entry is tied to the array objects (kept alive, so a new array cannot take a freed
    one's id) and to their contents."""
    class Owner:
        training = False

    cache, owner = KernelCache(), Owner()
    a = np.ones(3)
    n = []
    f = (lambda: n.append(1) or len(n))
    assert cache.get(owner, "k", 1, [a], f) == 1
    assert cache.get(owner, "k", 1, [a], f) == 1
    assert cache.get(owner, "k", 2, [a], f) == 2  # another key
    assert cache.get(owner, "k", 2, [a.copy()], f) == 3  # equal contents, another array
    b = np.ones(3)
    assert cache.get(owner, "k", 2, [b], f) == 4
    b[1] = 2.0
    assert cache.get(owner, "k", 2, [b], f) == 5  # same array, new contents
    owner.training = True
    assert cache.get(owner, "k", 2, [b], f) == 6
    assert cache.get(owner, "k", 2, [b], f) == 7
    cache.clear()
    owner.training = False
    assert cache.get(owner, "k", 2, [b], f) == 8

    class DeviceArray:  # contents not readable without a device copy (CuPy): never kept
        pass

    d = DeviceArray()
    assert cache.get(owner, "k", 2, [b, d], f) == 9
    assert cache.get(owner, "k", 2, [b, d], f) == 10


@pytest.mark.parametrize("l_max", [None, 40])
@pytest.mark.parametrize("rate", [1.0, 0.5])
def test_s4_kept_c_tilde_equals_the_ops_plain_c_kernel(l_max, rate):
    model = S4(8, d_state=8, seed=3, dtype="float64", l_max=l_max).eval()
    kern = model.layer.kernel
    dt, A, B, C, P = kern.process_params()
    for L in (16, 33, 64):
        want = ops.dplr_kernel(A, B, C, P, dt, L, rate=rate, l_kernel=l_max).k
        testing.assert_close(kern(L=L, rate=rate)[0], want, err_msg=f"L={L}")
        state = np.random.default_rng(L).standard_normal((2, 8, 4)) * (1 + 0.5j)
        k, ks = kern(L=L, rate=rate, state=state)  # C̃ reused, k_state not cached
        want = ops.dplr_kernel(A, B, C, P, dt, L, rate=rate, state=state, l_kernel=l_max)
        testing.assert_close(k, want.k)
        testing.assert_close(ks, want.k_state)


def test_s4_c_tilde_is_kept_across_lengths(monkeypatch):
    """Lengths that share a C̃ length reuse C̃; the op is then given C̃ (no matrix power)."""
    import lrnnx_array.models.s4_kernel_interface as ski

    model = S4(8, d_state=8, seed=4, dtype="float64", l_max=64).eval()
    calls = []
    orig = ski._c_tilde
    monkeypatch.setattr(ski, "_c_tilde", lambda *a, **k: calls.append(1) or orig(*a, **k))
    for L in (64, 50, 64, 40):
        model(_x(model, L=L).transpose(0, 2, 1))
    assert len(calls) == 1
    model(_x(model, L=100).transpose(0, 2, 1))  # C̃ for 128
    assert len(calls) == 2


def test_torch_optimizer_steps_invalidate():
    torch = pytest.importorskip("torch")
    model = LRU(8, 4, seed=5, dtype="float64").to(torch).eval()
    fresh = LRU(8, 4, seed=5, dtype="float64").to(torch)
    x = torch.as_tensor(_x(model))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt_f = torch.optim.SGD(fresh.parameters(), lr=0.1)
    with torch.no_grad():
        model(x)
    for o, m in ((opt, model), (opt_f, fresh)):
        o.zero_grad()
        m(x).square().mean().backward()  # grad enabled: no kernel kept, graph built each call
        o.step()
    with torch.no_grad():
        got, want = model(x), fresh(x)
    testing.assert_close(got.numpy(), want.numpy())
    # grad enabled in eval mode: two backward passes through two forwards both work
    for _ in range(2):
        model(x).sum().backward()


@pytest.mark.parametrize("kind", ["S5", "LRU", "Centaurus.neck", "Centaurus.pointwise",
                                  "Centaurus.dws"])
def test_lti_bench_baselines_compute_the_forward(kind):
    import array_api_compat.numpy as xp

    from lrnnx_array.models.lti import _bench_lti

    m = _bench_lti._build(kind, xp, "float64", 8, 8 if "dws" in kind else 4)
    x = np.random.default_rng(0).standard_normal((2, 40, 8))
    kernel, conv = _bench_lti._sequences(m, x, 40)
    testing.assert_close(conv(kernel()), m(x))


@pytest.mark.parametrize("kind", ["S4", "S4D"])
def test_s4_bench_baselines_compute_the_forward(kind):
    import array_api_compat.numpy as xp

    from lrnnx_array.models.lti import _bench_s4

    m = _bench_s4._build(kind, xp, "float64", 8, 8)
    x = np.random.default_rng(0).standard_normal((2, 40, 8))
    full, given = _bench_s4._sequences(m, x, 40)
    testing.assert_close(full(), m(x)[0])
    testing.assert_close(given(), m(x)[0])


@pytest.mark.parametrize("name", ["S4", "S5", "neck"])
def test_eval_reuse_on_every_namespace(name, xp):
    model = BUILDERS[name](seed=6, dtype="float64", xp=xp)
    x = testing.from_numpy(xp, _x(model))
    want = _out(model, x)
    model.eval()
    testing.assert_close(_out(model, x), want)
    testing.assert_close(_out(model, x), want)


def test_lti_benches_build_and_run_at_small_sizes():
    import array_api_compat.numpy as xp

    from lrnnx_array.models.lti._bench_lti import BENCHES

    names = {b.name for b in BENCHES}
    for kind in ("S5", "LRU", "Centaurus.neck", "Centaurus.pointwise", "Centaurus.dws"):
        assert {f"{kind}.forward", f"{kind}.forward_eval", f"{kind}.step"} <= names
    for bench in BENCHES:
        case = bench.make(xp, "float32", **bench.sizes["small"][0])
        out = case.fwd()
        for name, thunk in case.baselines.items():
            testing.assert_close(thunk(), out, err_msg=f"{bench.name} {name}")


def test_kept_kernels_are_read_only():
    """A kept kernel is handed out again: writing into it must fail, not poison later calls."""
    model = S4D(8, d_state=8, seed=7, transposed=False).eval()
    k, _ = model.compute_kernel(16)
    with pytest.raises(ValueError, match="read-only"):
        k[...] = 0.0
    model.train()
    k2, _ = model.compute_kernel(16)
    k2[...] = 0.0  # training mode: a fresh array, the caller's own
