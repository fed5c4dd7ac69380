"""The test kit itself: each check must be able to fail (a kit that passes vacuously is a
defect)."""

import numpy as np
import pytest

from lrnnx_array import _backend, testing


def _f(a, b):
    return a * b


def _f_vjp(g, a, b):
    return g * b, g * a


def test_check_vjp_passes_a_right_vjp():
    rng = np.random.default_rng(0)
    testing.check_vjp(_f, _f_vjp, (rng.standard_normal(3), rng.standard_normal(3)))


def test_check_vjp_fails_a_none_gradient_and_names_the_primal():
    a, b = np.ones(3), np.ones(3)
    with pytest.raises(AssertionError, match=r"VJP of _f w\.r\.t\. b \(primal 1\).*None"):
        testing.check_vjp(_f, lambda g, a, b: (g * b, None), (a, b))


def test_check_vjp_accepts_a_declared_nondifferentiable_primal():
    a, b = np.ones(3), np.ones(3)
    testing.check_vjp(_f, lambda g, a, b: (g * b, None), (a, b), nondiff=("b",))
    testing.check_vjp(_f, lambda g, a, b: (g * b, None), (a, b), nondiff=(1,))
    with pytest.raises(AssertionError, match="listed in nondiff"):
        testing.check_vjp(_f, _f_vjp, (a, b), nondiff=("b",))
    with pytest.raises(ValueError, match="not a primal name"):
        testing.check_vjp(_f, _f_vjp, (a, b), nondiff=("c",))


def test_check_vjp_skips_none_and_integer_primals():
    def f(a, idx, c):
        return a[idx]

    def f_vjp(g, a, idx, c):
        out = np.zeros_like(a)
        np.add.at(out, idx, g)
        return out, None, None

    testing.check_vjp(f, f_vjp, (np.arange(4.0), np.array([0, 2]), None))


def test_check_vjp_fails_a_wrong_gradient_by_name():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    with pytest.raises(AssertionError, match=r"w\.r\.t\. a .*finite differences"):
        testing.check_vjp(_f, lambda g, a, b: (2 * g * b, g * a), (a, b))
    with pytest.raises(AssertionError, match="shape"):
        testing.check_vjp(_f, lambda g, a, b: (g[:2], g * a), (a, b))
    with pytest.raises(AssertionError, match="complex for a real primal"):
        testing.check_vjp(_f, lambda g, a, b: (g * b + 0j, g * a), (a, b))


def test_check_vjp_names_primals_explicitly():
    with pytest.raises(AssertionError, match=r"w\.r\.t\. gate"):
        testing.check_vjp(lambda *p: p[0] * p[1], lambda g, *p: (None, g * p[0]),
                          (np.ones(2), np.ones(2)), names=("gate", "x"))


def test_assert_close_checks_dtype_shape_namespace_and_values():
    x = np.ones(3)
    testing.assert_close(x, x.copy())
    with pytest.raises(AssertionError, match="dtype mismatch"):
        testing.assert_close(x.astype(np.float32), x)
    with pytest.raises(AssertionError, match="shape mismatch"):
        testing.assert_close(x, np.ones(4))
    with pytest.raises(AssertionError, match="1 of 3 elements differ"):
        testing.assert_close(x + np.array([0, 0, 1e-6]), x)
    with pytest.raises(AssertionError, match="one side is None"):
        testing.assert_close(None, x)
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(AssertionError, match="namespace mismatch"):
        testing.assert_close(strict.asarray(x), x)


def test_assert_close_uses_the_table_and_named_overrides():
    x = np.ones(3, np.float32)
    rtol, atol = testing.TOLERANCES["float32"]
    testing.assert_close(x * (1 + 0.5 * rtol), x)
    with pytest.raises(AssertionError):
        testing.assert_close(x * (1 + 3 * rtol), x)
    testing.add_override("test_kit_demo", 4.0, "exercised by tests/test_testing.py only")
    testing.assert_close(x * (1 + 3 * rtol), x, override="test_kit_demo")
    with pytest.raises(KeyError, match="unknown tolerance override"):
        testing.tolerance("float32", "no_such_override")
    with pytest.raises(ValueError, match="needs a reason"):
        testing.add_override("no_reason", 2.0, "")


def test_backend_registry():
    assert _backend.available_backends(["numpy"]) == ["numpy"]
    assert _backend.backend_unavailable_reason("numpy") is None
    with pytest.raises(ValueError, match="unknown backend 'nosuch'"):
        _backend.available_backends(["nosuch"])
    with pytest.raises(ValueError, match="unknown backend"):
        _backend.backend_namespace("nosuch")
    assert _backend.impls_for("cupy") == ["cuda", "generic"]
    # torch is a bridge backend: known, listed only when asked for (the CLI keeps to the native
    # ones), one impl (the public op on tensors -> lrnnx_array.torch -> the NumPy op)
    assert "torch" not in _backend.available_backends()
    assert _backend.impls_for("torch") == ["generic"]
    if _backend.backend_unavailable_reason("torch") is None:
        assert _backend.available_backends(["torch"]) == ["torch"]
        assert _backend.backend_namespace("torch").__name__ == "array_api_compat.torch"
    # testing re-exports the registry (conftest and tests use these names)
    assert testing.backend_namespace is _backend.backend_namespace
    assert testing.impls_for is _backend.impls_for


def test_registry_reads_no_environment(monkeypatch):
    monkeypatch.setenv("LRNNX_TEST_BACKENDS", "numpy")
    assert testing.available_backends() == ["numpy"]
    assert "numpy" in _backend.available_backends()
    if _backend.backend_unavailable_reason("array_api_strict") is None:
        assert "array_api_strict" in _backend.available_backends()


def test_tolerance_accepts_every_dtype_spelling():
    import numpy as np

    from lrnnx_array import testing

    want = testing.TOLERANCES["float64"]
    for spelling in ("float64", np.float64, np.dtype("float64")):
        assert testing.tolerance(spelling) == want


def test_auto_skip_passes_over_an_impl_only_under_auto():
    """OpSpec.auto_skip: auto falls through to generic; an explicit request still runs it."""
    import array_api_compat.numpy as xp
    import numpy as np

    from lrnnx_array._dispatch import Arg, OpSpec

    spec = OpSpec("probe", "lrnnx_array._ops.diag_scan", (Arg("a"),),
                  impls={"generic": "_generic", "numba": "_numba"},
                  auto_skip={"numba": lambda xp, dtype, *, big: "slower" if big else None})
    import pytest

    pytest.importorskip("numba", reason="without numba, auto never picks the numba tier")
    assert spec.resolve("auto", xp, np.float32, big=False) == "numba"
    assert spec.resolve("auto", xp, np.float32, big=True) == "generic"
    assert spec.resolve("numba", xp, np.float32, big=True) == "numba"
