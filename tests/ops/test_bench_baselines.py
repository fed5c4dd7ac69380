"""The bench's peer baselines compute what they claim: each JAX recurrence (lax.scan and
associative_scan forms, and the VJP of the lax.scan form) and each torch transcription of
lrnnx's reference algorithm equals our op at a small size (float64, the table's tolerance).
JAX tests skip without jax (it is the ``bench`` extra, not a test dependency); torch tests skip
without torch. Importing lrnnx_array or the bench registry imports neither."""

import functools
import subprocess
import sys

import numpy as np
import pytest

from lrnnx_array import _bench_jax, _bench_torch, testing
from lrnnx_array.ops import (
    diag_scan,
    diag_scan_vjp,
    rglru_scan,
    rglru_scan_vjp,
    s5_inner,
    s5_inner_vjp,
    s7_scan,
    s7_scan_vjp,
    selective_scan,
    selective_scan_vjp,
    selective_state_update,
)

F64 = "float64"


def _close(got, want, dtype=F64):
    testing.assert_close(np.asarray(got), np.asarray(want).astype(np.asarray(got).dtype,
                                                                  copy=False))


def _rng():
    return np.random.default_rng(7)


# ---- cases: (our forward, our vjp, jax scan, jax assoc, args, cotangent, torch fn) -------------


def _diag_case():
    r = _rng()
    a, b = r.uniform(0.5, 1.0, (5, 37)), r.standard_normal((5, 37))
    g = r.standard_normal((5, 37))
    return dict(ours=lambda: diag_scan(a, b), vjp=lambda: diag_scan_vjp(g, a, b)[:2],
                scan=_bench_jax.diag_scan_scan, assoc=_bench_jax.diag_scan_assoc,
                args=(a, b), g=g, torch=None)


def _selective_case(method, cplx, with_extras):
    r = _rng()
    Bsz, Dm, L, N = 2, 3, 19, 4
    u = r.standard_normal((Bsz, Dm, L))
    delta = r.uniform(-3, 0, (Bsz, Dm, L))
    A = -np.broadcast_to(np.arange(1.0, N + 1), (Dm, N)).copy()
    B, C = r.standard_normal((Bsz, N, L)), r.standard_normal((Bsz, N, L))
    if cplx:
        A = A * 0 - 0.5 + 1j * np.pi * np.arange(N)
        B, C = B + 1j * r.standard_normal(B.shape), C + 1j * r.standard_normal(C.shape)
    D = r.standard_normal(Dm) if with_extras else None
    z = r.standard_normal((Bsz, Dm, L)) if with_extras else None
    bias = r.uniform(-4, -2, Dm)
    deltaA = 0.5 * r.uniform(size=(Bsz, Dm, L)) if with_extras else None
    g = r.standard_normal((Bsz, Dm, L))
    extra = dict(D=D, z=z, delta_bias=bias, deltaA=deltaA)
    has = tuple(k for k, v in extra.items() if v is not None)
    scan, assoc = _bench_jax.selective_scan_fns(method, True, has)
    kw = dict(delta_softplus=True, discretization=method, deltaA=deltaA)
    args5 = (u, delta, A, B, C)
    return dict(
        ours=lambda: selective_scan(*args5, D, z, bias, **kw),
        vjp=lambda: selective_scan_vjp(g, *args5, D, z, bias, **kw)[:5],
        scan=scan, assoc=assoc, args=args5 + tuple(extra[k] for k in has), g=g,
        torch=(functools.partial(_bench_torch.selective_scan_ref_alg, softplus=True,
                                 method=method), args5 + (D, z, bias, deltaA)))


def _s5_case(method, var):
    r = _rng()
    Bsz, H, P, L = 2, 3, 4, 23
    A = -r.uniform(0.1, 1, P) + 1j * r.uniform(-3, 3, P)
    Bm = r.standard_normal((P, H)) + 1j * r.standard_normal((P, H))
    C = r.standard_normal((H, P)) + 1j * r.standard_normal((H, P))
    D = r.standard_normal(H)
    dt = r.uniform(0.01, 0.2, (Bsz, P, L) if var else (P,))
    u = r.standard_normal((Bsz, H, L))
    g = r.standard_normal((Bsz, H, L))
    scan, assoc = _bench_jax.s5_inner_fns(method, varying_dt=var)
    args = (u, dt, A, Bm, C, D)
    return dict(ours=lambda: s5_inner(*args, None, method),
                vjp=lambda: s5_inner_vjp(g, *args, None, method)[:5],
                scan=scan, assoc=assoc, args=args, g=g,
                torch=(functools.partial(_bench_torch.s5_inner_ref_alg, method=method), args))


def _rglru_case():
    r = _rng()
    u, delta = r.standard_normal((2, 3, 29)), r.uniform(0.1, 8, (2, 3, 29))
    A = r.uniform(0.9, 0.999, (3, 2))
    g = r.standard_normal((2, 3, 29))
    return dict(ours=lambda: rglru_scan(u, delta, A), vjp=lambda: rglru_scan_vjp(g, u, delta, A),
                scan=_bench_jax.rglru_scan_scan, assoc=_bench_jax.rglru_scan_assoc,
                args=(u, delta, A), g=g, torch=(_bench_torch.rglru_ref_alg, (u, delta, A)))


def _s7_case():
    r = _rng()
    Bsz, H, N, L = 2, 3, 4, 17
    u, A = r.standard_normal((Bsz, H, L)), -0.5 + 0.3 * r.standard_normal((Bsz, N, L))
    Bm, C = 0.3 * r.standard_normal((Bsz, N, H, L)), 0.3 * r.standard_normal((Bsz, H, N, L))
    bias, g = r.standard_normal((Bsz, N, L)), r.standard_normal((Bsz, H, L))
    args = (u, A, Bm, C, bias)
    return dict(ours=lambda: s7_scan(*args), vjp=lambda: s7_scan_vjp(g, *args),
                scan=_bench_jax.s7_scan_scan, assoc=_bench_jax.s7_scan_assoc, args=args, g=g,
                torch=(_bench_torch.s7_ref_alg, args))


CASES = {
    "diag_scan": _diag_case,
    "selective mamba real": functools.partial(_selective_case, "mamba", False, False),
    "selective mamba real D z deltaA": functools.partial(_selective_case, "mamba", False, True),
    "selective zoh real D z deltaA": functools.partial(_selective_case, "zoh", False, True),
    "selective bilinear real": functools.partial(_selective_case, "bilinear", False, False),
    "selective mamba complex": functools.partial(_selective_case, "mamba", True, False),
    "selective zoh complex D z": functools.partial(_selective_case, "zoh", True, True),
    "s5 zoh varying dt": functools.partial(_s5_case, "zoh", True),
    "s5 zoh const dt": functools.partial(_s5_case, "zoh", False),
    "s5 bilinear varying dt": functools.partial(_s5_case, "bilinear", True),
    "rglru": _rglru_case,
    "s7": _s7_case,
}


@pytest.mark.parametrize("name", list(CASES))
def test_jax_baselines_equal_our_op(name):
    pytest.importorskip("jax")
    c = CASES[name]()
    want = c["ours"]()
    _close(_bench_jax.evaluate(c["scan"], *c["args"]), want)
    _close(_bench_jax.evaluate(c["assoc"], *c["args"]), want)
    # The VJP baseline differentiates the lax.scan form: its cotangents are ours (JAX's for a
    # complex input are the conjugate of the torch convention ours follows).
    got = _bench_jax.vjp(c["scan"], c["args"], c["g"])
    for x, w in zip(got, c["vjp"]()):
        testing.assert_close(np.conj(x), np.asarray(w).astype(x.dtype), normwise=True)


@pytest.mark.parametrize("name", [n for n in CASES if n != "diag_scan"])
def test_torch_ref_algorithm_equals_our_op(name):
    pytest.importorskip("torch")
    c = CASES[name]()
    fn, args = c["torch"]
    _close(_bench_torch.evaluate(fn, *args), c["ours"]())


@pytest.mark.parametrize("method", ["mamba", "zoh"])
def test_torch_state_update_ref_algorithm_equals_our_step(method):
    pytest.importorskip("torch")
    r = _rng()
    B, D, N = 2, 5, 4
    state = r.standard_normal((B, D, N))
    x, dt, z = r.standard_normal((B, D)), r.uniform(0, 0.1, (B, D)), r.standard_normal((B, D))
    A = r.uniform(-2, -1, (D, N))
    Bm, Cm, Dp, bias = (r.standard_normal((B, N)), r.standard_normal((B, N)),
                        r.standard_normal(D), r.uniform(-4, -3, D))
    fn = functools.partial(_bench_torch.selective_state_update_ref_alg, method=method)
    got = _bench_torch.evaluate(fn, state, x, dt, A, Bm, Cm, Dp, z, bias)
    ours_state = state.copy()
    want = selective_state_update(ours_state, x, dt, A, Bm, Cm, Dp, z, bias, True,
                                  discretization=method)
    _close(got, want)


def _kernel_cases():
    """(torch algorithm, its NumPy args, our forward) for the ops whose lrnnx CPU path is a
    naive torch function (spec §3.7-3.9, §3.11), float64 at small sizes."""
    from lrnnx_array.ops import (
        cauchy,
        dplr_kernel,
        log_vandermonde,
        s4d_kernel,
        simplified_state_update,
    )

    r = _rng()
    cn = lambda *s: r.standard_normal(s) + 1j * r.standard_normal(s)  # noqa: E731
    v, w, z = cn(3, 4), cn(3, 4) - 0.5, np.exp(1j * r.uniform(0, 2 * np.pi, 9))
    x = -r.uniform(0.001, 0.1, (3, 4)) + 1j * r.uniform(0, 3, (3, 4))
    H, N2, L = 3, 4, 16
    A = -0.5 + 1j * np.pi * np.arange(N2) * np.ones((H, 1))
    Bk, Ck, P = cn(H, N2), cn(1, H, N2), 0.3 * cn(1, H, N2)
    dt = np.exp(r.uniform(np.log(1e-3), np.log(1e-1), H))
    st, xs = cn(2, 5), r.standard_normal((2, 6))
    s5 = (st, xs, 0.1 * r.uniform(size=5), -r.uniform(size=5) + 0.1j, cn(5, 6), cn(6, 5))
    out = {
        "cauchy_naive": (_bench_torch.cauchy_naive_alg, (v, z, w), lambda: cauchy(v, z, w)),
        "log_vandermonde_naive": (functools.partial(_bench_torch.log_vandermonde_naive_alg,
                                                    L=11), (v, x),
                                  lambda: log_vandermonde(v, x, 11)),
        "S4Kernel (C~ given)": (functools.partial(_bench_torch.dplr_kernel_ref_alg, L=L),
                                (A, Bk, Ck, P, dt),
                                lambda: dplr_kernel(A, Bk, Ck, P, dt, L, C_is_tilde=True,
                                                    l_kernel=L)[0]),
    }
    for disc in ("zoh", "bilinear"):
        out[f"S4DKernel {disc}"] = (
            functools.partial(_bench_torch.s4d_kernel_ref_alg, L=L, disc=disc), (A, Bk, Ck, dt),
            functools.partial(lambda d: s4d_kernel(A, Bk, Ck, dt, L, disc=d)[0], disc))
        out[f"simplified_state_update {disc}"] = (
            functools.partial(_bench_torch.simplified_state_update_ref_alg, method=disc), s5,
            functools.partial(lambda d: simplified_state_update(s5[0].copy(), *s5[1:], None,
                                                                None, d), disc))
    return out


@pytest.mark.parametrize("name", list(_kernel_cases()))
def test_torch_kernel_algorithms_equal_our_ops(name):
    pytest.importorskip("torch")
    fn, args, ours = _kernel_cases()[name]
    _close(_bench_torch.evaluate(fn, *args), ours())


def test_bench_cases_carry_the_peers():
    """A scan bench built on NumPy has the JAX and torch columns the table reads."""
    pytest.importorskip("jax")
    pytest.importorskip("torch")
    from lrnnx_array import _harness
    from lrnnx_array._ops.rglru_scan._bench import _make

    case = _make(testing.backend_namespace("numpy"), "float32", B=1, D=2, L=16)
    for k in ("jax_lax.scan", "jax_associative_scan", "jax_lax.scan_vjp", _bench_torch.NAME,
              "generic", "floor_state_a*b+b"):
        assert k in case.baselines
    rec = _harness.measure_case(case, testing.backend_namespace("numpy"), repeat=1)
    assert rec["ratio_vs_jax_lax.scan"] > 0


def test_no_peers_flag_builds_none(monkeypatch):
    from lrnnx_array import _harness
    from lrnnx_array._ops.diag_scan._bench import _make

    monkeypatch.setattr(_harness, "PEERS", False)
    case = _make(testing.backend_namespace("numpy"), "float32", rows=2, L=8)
    assert not any(k.startswith(("jax", "torch")) for k in case.baselines)


def test_importing_the_package_and_benches_loads_neither_torch_nor_jax():
    code = ("import sys, lrnnx_array; from lrnnx_array import _harness; _harness.all_benches(); "
            "bad = [m for m in ('torch', 'jax') if m in sys.modules]; "
            "assert not bad, bad")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
