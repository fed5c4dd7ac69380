"""Conformance of the public layer: docstrings, runnable examples, and input checks shared by
every op (unknown impl, impl='cuda' on NumPy, integer inputs)."""

import doctest
import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import lrnnx_array
import lrnnx_array.ops as ops

PUBLIC_FUNCTIONS = [n for n in ops.__all__ if inspect.isfunction(getattr(ops, n))]


def test_no_public_name_is_missing():
    assert [n for n in ops.__all__ if not hasattr(ops, n)] == []
    assert set(ops.__all__) <= set(lrnnx_array.__all__)


@pytest.mark.parametrize("name", PUBLIC_FUNCTIONS)
def test_numpydoc_sections(name):
    doc = inspect.getdoc(getattr(ops, name)) or ""
    missing = [s for s in ("Parameters", "Returns", "Examples") if s not in doc]
    assert not missing, f"{name} docstring lacks {missing}"


def _modules():
    for info in pkgutil.walk_packages(lrnnx_array.__path__, prefix="lrnnx_array."):
        if info.name.endswith(("._cuda", "__main__")):
            continue  # launchers need a GPU; __main__ runs the CLI
        yield info.name


@pytest.mark.parametrize("modname", sorted(_modules()))
def test_docstring_examples_run(modname):
    mod = importlib.import_module(modname)
    failures, _ = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert failures == 0, f"{failures} docstring example(s) failed in {modname}"


def _has_impl(f):
    return "impl" in inspect.signature(f).parameters


IMPL_FUNCTIONS = [n for n in PUBLIC_FUNCTIONS if _has_impl(getattr(ops, n))]


@pytest.mark.parametrize("name", IMPL_FUNCTIONS)
def test_impl_is_keyword_only_with_auto_default(name):
    p = inspect.signature(getattr(ops, name)).parameters["impl"]
    assert p.kind is inspect.Parameter.KEYWORD_ONLY and p.default == "auto"


def test_flagship_ops_reject_bad_impl_and_integer_inputs():
    """One representative call per op family (full per-op error tests live in tests/ops)."""
    rng = np.random.default_rng(0)
    u = rng.standard_normal((1, 2, 4))
    A = -np.ones((2, 3))
    Bc = np.ones((2, 3))
    calls = {
        "diag_scan": lambda **k: ops.diag_scan(np.ones((2, 4)) * 0.5, u[0], **k),
        "selective_scan": lambda **k: ops.selective_scan(u, np.abs(u), A, Bc, Bc, **k),
        "rglru_scan": lambda **k: ops.rglru_scan(u, np.abs(u), np.full((2, 1), 0.9), **k),
        "log_vandermonde": lambda **k: ops.log_vandermonde(
            np.ones((2, 3), complex), -np.ones((2, 3), complex), 5, **k),
    }
    for _name, call in calls.items():
        call()  # the valid call works
        with pytest.raises(ValueError, match="impl must be one of"):
            call(impl="fastest")
        with pytest.raises(ValueError, match="impl='cuda' needs CuPy"):
            call(impl="cuda")
    with pytest.raises(TypeError, match="u must"):
        ops.selective_scan(u.astype(np.int64), np.abs(u), A, Bc, Bc)
