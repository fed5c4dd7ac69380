"""Backend / impl / dtype fixtures shared by every test.

* ``backend``: numpy, array_api_strict, and cupy when a GPU is usable; narrowed by
  $LRNNX_TEST_BACKENDS (e.g. ``numpy,cupy`` on the GPU machine). ``torch`` too when torch is
  importable, in the op grids (tests/ops) only: there the public op gets torch tensors and the
  bridge (lrnnx_array.torch) runs the NumPy op with ``impl`` passed through, so each row checks
  the bridge's forward (and, in the VJP tests, its plain VJP call) against the same oracle. The
  models' grids keep to the native backends: models on torch (autograd leaves, steps under
  no_grad) are tested in tests/torch.
* ``xp``: that backend's namespace. ``impl``: each implementation the backend runs.
* ``real_dtype`` / ``complex_dtype`` / ``dtype``: dtype names (tests cast NumPy data with them).
* markers: ``cuda`` (skipped without a usable GPU), ``slow`` (skipped unless --run-slow or
  LRNNX_RUN_SLOW=1), ``torch`` (skipped without torch).
"""

from __future__ import annotations

import importlib.util
import os

import _emulation  # noqa: E402  (tests/_emulation.py: kernel-less families, the emulated tier)
import pytest

from lrnnx_array import testing

BACKENDS = testing.available_backends()


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="run tests marked slow")


def pytest_configure(config):
    _emulation.configure(config)


def _is_torch_row(item) -> bool:
    cs = getattr(item, "callspec", None)
    if cs is None:
        return False
    p = cs.params
    return p.get("backend") == "torch" or (p.get("backend_impl") or ("",))[0] == "torch"


def _select_torch_rows(config, items) -> None:
    """torch rows run in the op grids only (see the module docstring)."""
    ops_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops") + os.sep
    drop = [i for i in items if _is_torch_row(i) and not str(i.path).startswith(ops_dir)]
    if drop:
        config.hook.pytest_deselected(items=drop)
        gone = set(map(id, drop))
        items[:] = [i for i in items if id(i) not in gone]


def pytest_collection_modifyitems(config, items):
    _emulation.select_items(config, items)
    _select_torch_rows(config, items)
    run_slow = config.getoption("--run-slow") or os.environ.get("LRNNX_RUN_SLOW") == "1"
    has_cuda = "cupy" in BACKENDS
    has_torch = importlib.util.find_spec("torch") is not None
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(pytest.mark.skip(reason="slow: use --run-slow or LRNNX_RUN_SLOW=1"))
        if "cuda" in item.keywords and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="no usable CUDA GPU / CuPy"))
        if "torch" in item.keywords and not has_torch:
            item.add_marker(pytest.mark.skip(reason="torch not installed"))


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def xp(backend):
    return testing.backend_namespace(backend)


def _backend_impl_pairs():
    return [(b, i) for b in BACKENDS for i in _emulation.impls_for(b)]


@pytest.fixture(params=_backend_impl_pairs(), ids=lambda p: f"{p[0]}-{p[1]}")
def backend_impl(request):
    """(xp, impl) for every implementation on every backend."""
    name, impl = request.param
    return testing.backend_namespace(name), impl


@pytest.fixture(params=["float32", "float64"])
def real_dtype(request):
    return request.param


@pytest.fixture(params=["complex64", "complex128"])
def complex_dtype(request):
    return request.param


@pytest.fixture(params=["float32", "float64", "complex64", "complex128"])
def dtype(request):
    return request.param


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(1234)
