"""lrnnx's names with lrnnx's argument order give our ops' results, with autograd."""

import doctest
import importlib
import inspect

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed: the bridge tests need it")

import lrnnx_array.ops as ops  # noqa: E402
import lrnnx_array.torch as bridge  # noqa: E402

f64, c128 = torch.float64, torch.complex128
rng = np.random.default_rng(0)


def t(x):
    return torch.from_numpy(np.asarray(x))


def test_every_mapped_name_is_exported_and_every_target_exists():
    for name, op in bridge.LRNNX_NAMES.items():
        assert callable(getattr(bridge, name)) and name in bridge.__all__
        assert hasattr(ops, op)


def test_selective_scan_fn_takes_deltaA_in_lrnnx_position():
    u, delta, deltaA = (rng.normal(size=(1, 2, 4)), rng.uniform(0.1, 0.5, (1, 2, 4)),
                        rng.uniform(0.1, 0.5, (1, 2, 4)))
    A, B, C = -rng.uniform(0.5, 1, (2, 3)), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    D, z, bias = rng.normal(size=2), rng.normal(size=(1, 2, 4)), rng.normal(size=2)
    # lrnnx: (u, delta, A, B, C, D, z, delta_bias, deltaA, delta_softplus, return_last_state, disc)
    got = bridge.selective_scan_fn(t(u), t(delta), t(A), t(B), t(C), t(D), t(z), t(bias),
                                   t(deltaA), True, True, "zoh")
    want = ops.selective_scan(u, delta, A, B, C, D, z, bias, True, True, "zoh", deltaA)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.numpy(), w)
    ref = bridge.selective_scan_ref(t(u), t(delta), t(A), t(B), t(C), t(D), t(z), t(bias),
                                    t(deltaA), True, True, "zoh")
    want_ref = ops.selective_scan(u, delta, A, B, C, D, z, bias, True, True, "zoh", deltaA,
                                  impl="reference")
    for g, w in zip(ref, want_ref, strict=True):
        np.testing.assert_array_equal(g.numpy(), w)


def test_scan_names_match_ops_in_lrnnx_order():
    u = rng.normal(size=(1, 2, 4)) + 1j * rng.normal(size=(1, 2, 4))
    delta = rng.uniform(0.1, 0.5, (1, 3, 4))
    A = -rng.uniform(0.3, 1, 3) + 1j * rng.normal(size=3)
    B, C = rng.normal(size=(3, 2)) + 0j, rng.normal(size=(2, 3)) + 0j
    got = bridge.simplified_scan_fn(t(u), t(delta), t(A), t(B), t(C), None, True, "zoh")
    want = ops.simplified_scan(u, delta, A, B, C, None, True, "zoh")
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.numpy(), w)
    D = rng.normal(size=2)
    np.testing.assert_array_equal(
        bridge.s5_inner_fn(t(u.real), t(delta), t(A), t(B), t(C), t(D), None, "zoh", False).numpy(),
        ops.s5_inner(u.real, delta, A, B, C, D, None, "zoh", False))
    ur, dr, Ar = rng.normal(size=(1, 2, 4)), rng.uniform(0.2, 1, (1, 2, 4)), np.full((2, 1), 0.9)
    np.testing.assert_array_equal(bridge.rglru_scan_fn(t(ur), t(dr), t(Ar)).numpy(),
                                  ops.rglru_scan(ur, dr, Ar))
    np.testing.assert_allclose(bridge.rglru_scan_ref(t(ur), t(dr), t(Ar)).numpy(),
                               ops.rglru_scan(ur, dr, Ar), rtol=1e-9, atol=1e-11)
    A7, B7, C7 = (rng.normal(size=(1, 3, 4)), rng.normal(size=(1, 3, 2, 4)),
                  rng.normal(size=(1, 2, 3, 4)))
    np.testing.assert_array_equal(bridge.s7_scan_fn(t(ur), t(A7), t(B7), t(C7)).numpy(),
                                  ops.s7_scan(ur, A7, B7, C7))


def test_s4_kernel_names():
    v = rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))
    w = -rng.uniform(0.3, 1, 3) + 1j * rng.normal(size=3)
    z = 1j * np.linspace(0, 2, 4)
    np.testing.assert_array_equal(bridge.cauchy_naive(t(v), t(z), t(w)).numpy(),
                                  ops.cauchy(v, z, w))
    x = 0.3 * (-rng.uniform(0.3, 1, (2, 3)) + 1j * rng.normal(size=(2, 3)))
    np.testing.assert_array_equal(bridge.log_vandermonde_naive(t(v), t(x), 5).numpy(),
                                  ops.log_vandermonde(v, x, 5))
    with pytest.raises(ValueError, match="only conj=True"):
        bridge.log_vandermonde_naive(t(v), t(x), 5, conj=False)
    u = rng.normal(size=(2, 5))
    np.testing.assert_array_equal(bridge.log_vandermonde_transpose_naive(t(u), t(v), t(x), 5)
                                  .numpy(), ops.log_vandermonde_transpose(u, v, x, 5))


def test_state_update_names_in_place():
    state = torch.zeros(1, 2, 3, dtype=f64)
    x, dt = torch.ones(1, 2, dtype=f64), torch.full((1, 2), 0.5, dtype=f64)
    A, B = -torch.ones(2, 3, dtype=f64), torch.ones(1, 3, dtype=f64)
    out = bridge.selective_state_update(state, x, dt, A, B, B, None, None, None, True)
    np_state = np.zeros((1, 2, 3))
    want = ops.selective_state_update(np_state, x.numpy(), dt.numpy(), A.numpy(), B.numpy(),
                                      B.numpy(), None, None, None, True)
    np.testing.assert_array_equal(out.numpy(), want)
    np.testing.assert_array_equal(state.numpy(), np_state)


def test_opt_ssm_forward_trains():
    x = torch.randn(1, 4, 2, dtype=f64)
    lam = torch.tensor([0.5 + 0.1j, 0.2 - 0.3j], dtype=c128)
    K = (lam[:, None] ** torch.arange(4)).requires_grad_(True)
    Bb = torch.randn(2, 2, dtype=c128, requires_grad=True)
    C = torch.randn(2, 2, dtype=c128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda K, Bb, C: bridge.opt_ssm_forward(x, K, Bb, C),
                                    (K, Bb, C))


def _examples(module):
    for test in doctest.DocTestFinder().find(module):
        for ex in test.examples:
            ex.options.pop(doctest.SKIP, None)  # the torch examples, skipped without torch
        if test.examples:
            yield test


@pytest.mark.parametrize("modname", ["lrnnx_array.torch", "lrnnx_array.torch._lrnnx_names",
                                     "lrnnx_array.torch._lrnnx_names_steps"])
def test_docstring_examples_run_with_torch(modname):
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    tests = list(_examples(importlib.import_module(modname)))
    assert tests
    for test in tests:
        runner.run(test)
    assert runner.failures == 0 and runner.tries > len(tests)


def test_signatures_are_lrnnx_s():
    params = list(inspect.signature(bridge.selective_scan_fn).parameters)
    assert params[:12] == ["u", "delta", "A", "B", "C", "D", "z", "delta_bias", "deltaA",
                           "delta_softplus", "return_last_state", "discretization"]
