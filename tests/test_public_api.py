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
    for n in ops.__all__:
        obj = getattr(ops, n)
        assert inspect.isfunction(obj) or hasattr(obj, "_fields"), f"ops.{n} is {type(obj)}"


def test_root_exports_namespaces_only():
    assert set(lrnnx_array.__all__) == {"ops", "discretization", "models", "layers",
                                        "architectures", "generation", "__version__"}
    leaked = [n for n in dir(lrnnx_array) if n.startswith("_") and not n.startswith("__")]
    assert leaked == [], f"private names in dir(lrnnx_array): {leaked}"


def _public_modules():
    yield lrnnx_array
    for info in pkgutil.walk_packages(lrnnx_array.__path__, prefix="lrnnx_array."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            yield importlib.import_module(info.name)


@pytest.mark.parametrize("mod", list(_public_modules()), ids=lambda m: m.__name__)
def test_no_attribute_shadows_a_submodule(mod):
    """``pkg.name`` is the submodule ``pkg/name`` whenever that submodule exists."""
    if not hasattr(mod, "__path__"):
        return
    for info in pkgutil.iter_modules(mod.__path__):
        if info.name.startswith("_"):
            continue
        sub = importlib.import_module(f"{mod.__name__}.{info.name}")
        assert getattr(mod, info.name) is sub, f"{mod.__name__}.{info.name} is shadowed"


@pytest.mark.parametrize(
    "name",
    ["zoh", "bilinear", "dirac", "mamba", "async_", "no_discretization", "s7", "rglru",
     "discretize"],
)
def test_discretization_module_has_every_method(name):
    import lrnnx_array.discretization as disc

    assert inspect.isfunction(getattr(disc, name))
    assert inspect.isfunction(getattr(disc, name.rstrip("_") + "_vjp"))


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


def _modules_with_examples():
    finder = doctest.DocTestFinder()
    for name in sorted(_modules()):
        if any(t.examples for t in finder.find(importlib.import_module(name))):
            yield name


def test_every_public_function_has_a_collected_example():
    """The doctest run below must cover each public function (no vacuous parametrisation)."""
    covered = set()
    for name in _modules_with_examples():
        for t in doctest.DocTestFinder().find(importlib.import_module(name)):
            if t.examples:
                covered.add(t.name.rsplit(".", 1)[-1])
    assert {getattr(ops, n).__name__ for n in PUBLIC_FUNCTIONS} - covered == set()


@pytest.mark.parametrize("modname", list(_modules_with_examples()))
def test_docstring_examples_run(modname):
    mod = importlib.import_module(modname)
    failures, attempted = doctest.testmod(
        mod, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    )
    assert attempted > 0, f"no docstring example ran in {modname}"
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
