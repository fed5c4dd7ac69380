"""Launcher and kernel edge cases on CuPy: dispatch that reaches the kernel, paths the public
layer never sends to a kernel today, arguments passed for unused pointers.

These run wherever CuPy does: on a GPU, and in the emulated tier's child processes (cuemu's
CPU stand-in, see tests/emulated/test_emulated_tier.py). Without either they are skipped.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from lrnnx_array import testing

pytestmark = pytest.mark.cuda


@pytest.fixture
def cp():
    import cupy

    return cupy


def count_launches(monkeypatch, family):
    """Count ``get_function`` look-ups (one per launch) in ``_ops/<family>/_cuda.py``."""
    mod = importlib.import_module(f"lrnnx_array._ops.{family}._cuda")
    calls = []
    real = mod.get_function

    def counted(source, expr, exprs):
        calls.append(expr)
        return real(source, expr, exprs)

    monkeypatch.setattr(mod, "get_function", counted)
    return calls


def test_auto_launches_the_kernel_for_complex_a_selective_scan(cp, monkeypatch):
    # The real result dtype of a complex-A scan is float32; a dispatch that compared
    # str(dtype) ("<class 'numpy.float32'>") with "float32" silently ran the generic path.
    from lrnnx_array.ops import selective_scan

    rng = np.random.default_rng(0)
    Bsz, Dm, N, L = 1, 3, 2, 5
    u = cp.asarray(rng.standard_normal((Bsz, Dm, L)).astype(np.float32))
    delta = cp.asarray(rng.uniform(0.1, 0.5, (Bsz, Dm, L)).astype(np.float32))
    A = cp.asarray((-rng.uniform(0.5, 1, (Dm, N)) + 1j * rng.uniform(0, 3, (Dm, N)))
                   .astype(np.complex64))
    B = cp.asarray((rng.standard_normal((Dm, N)) + 1j * rng.standard_normal((Dm, N)))
                   .astype(np.complex64))
    C = cp.asarray((rng.standard_normal((Dm, N)) + 1j * rng.standard_normal((Dm, N)))
                   .astype(np.complex64))
    calls = count_launches(monkeypatch, "selective_scan")
    out = selective_scan(u, delta, A, B, C, impl="auto")
    assert out.dtype == cp.float32
    assert calls and all(", 1" in c for c in calls), f"complex kernel not launched: {calls}"


def test_auto_launches_the_kernel_for_float16_diag_scan(cp, monkeypatch):
    # float16 computes in float32: the float32 kernel serves it (impl="auto" and impl="cuda").
    from lrnnx_array.ops import diag_scan

    rng = np.random.default_rng(1)
    a = cp.asarray(rng.uniform(-0.9, 0.9, (2, 9)).astype(np.float16))
    b = cp.asarray(rng.standard_normal((2, 9)).astype(np.float16))
    for impl in ("auto", "cuda"):
        calls = count_launches(monkeypatch, "diag_scan")
        h = diag_scan(a, b, impl=impl)
        assert h.dtype == cp.float32
        assert calls == ["lrnnx_diag_scan_fwd<float>"], (impl, calls)
        want = testing.from_numpy(cp, np.asarray(
            __import__("lrnnx_array._ops.diag_scan._ref", fromlist=["x"]).diag_scan_ref(
                a.get().astype(np.float64), b.get().astype(np.float64))), "float32")
        testing.assert_close(h, want, scale=10)  # float16 inputs, float32 sums


@pytest.mark.parametrize("with_dlast", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rglru_backward_with_no_steps_passes_dlast_to_dh0(cp, dtype, with_dlast):
    # L = 0: the final state is h0, so dh0 = dlast (0 without it). The kernel's chunk loop,
    # which writes dh0 at t = 0, never runs: dh0 was left as uninitialised memory.
    from lrnnx_array._ops.rglru_scan._cuda import rglru_scan_bwd_cuda

    rng = np.random.default_rng(2)
    Bsz, D, N = 2, 3, 4
    dt = np.dtype(dtype)
    u = cp.zeros((Bsz, D, 0), dtype=dt)
    A = cp.asarray(rng.uniform(0.5, 0.9, (D, N)).astype(dt))
    h0 = cp.asarray(rng.standard_normal((Bsz, D, N)).astype(dt))
    dlast = cp.asarray(rng.standard_normal((Bsz, D, N)).astype(dt)) if with_dlast else None
    du, ddelta, dA, dh0 = rglru_scan_bwd_cuda(u, u, u, A, h0, dlast)
    assert du.shape == ddelta.shape == (Bsz, D, 0)
    testing.assert_close(dA, cp.zeros((D, N), dtype=dt))
    testing.assert_close(dh0, dlast if with_dlast else cp.zeros((Bsz, D, N), dtype=dt))


def _emulated(cp):
    return bool(getattr(cp, "_FAKE", False))


def test_unused_pointers_get_no_mistyped_placeholder(cp):
    # An unused pointer argument must be null or of the kernel's element type: cuemu notes
    # every pointer that receives an array of another dtype (a dummy of the wrong type).
    if not _emulated(cp):
        pytest.skip("checks cuemu's argument notes (emulated CuPy only)")
    import cuemu

    from lrnnx_array._ops.log_vandermonde._cuda import vand_cuda
    from lrnnx_array._ops.selective_state_update._cuda import selective_state_update_cuda

    before = len(cuemu.NOTES)
    rng = np.random.default_rng(3)
    c = cp.asarray((rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3)))
                   .astype(np.complex64))
    x = cp.asarray((-rng.uniform(0.1, 1, (2, 3)) + 1j * rng.standard_normal((2, 3)))
                   .astype(np.complex64))
    for real2 in (True, False):
        vand_cuda(c, x, 5, real2=real2)
    Bsz, P, N = 2, 3, 4
    f32 = np.float32
    state = cp.asarray(rng.standard_normal((Bsz, 1, P, N)).astype(f32))
    xs = cp.asarray(rng.standard_normal((Bsz, 1, P)).astype(f32))
    dts = cp.asarray(rng.uniform(0.1, 0.5, (Bsz, 1, P)).astype(f32))
    As = cp.asarray(-rng.uniform(0.5, 1, (1, P, N)).astype(f32))
    Bs = cp.asarray(rng.standard_normal((Bsz, 1, N)).astype(f32))
    selective_state_update_cuda(state, None, xs, dts, As, Bs, Bs, None, None, None, None,
                                False, 0, True, np.float32, np.float32)
    mistyped = [n for n in cuemu.NOTES[before:] if "a dummy?" in n]
    assert not mistyped, mistyped
