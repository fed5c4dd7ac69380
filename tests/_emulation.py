"""Test-row selection shared by conftest: kernel-less families, and the emulated-CuPy tier.

* The ``backend_impl`` fixture adds ``impl="numba"`` on NumPy (when numba imports) for the
  families with a ``_numba.py``: every op test written against ``backend_impl`` runs the CPU tier.
* The ``backend_impl`` fixture lists ``impl="cuda"`` only for the families that launch a kernel
  (their own ``_cuda.py``, or a composite over one): power, the convolutions, causal_conv1d and
  the discretizations have none, and a cuda row of theirs tested nothing but the refusal.
* Under ``$LRNNX_EMULATED_CUPY=1`` (set by ``lrnnx_array._cuda.emulate.child_env`` for a child
  whose ``import cupy`` is cuemu's CPU stand-in) only the CuPy rows run, the kernel rows
  (``impl="cuda"``) and the rows that pass CuPy arrays to ``impl="auto"``, of the families with
  a kernel (and the tests marked ``cuda``); the rest of the suite ran in the parent. The child
  records what it launched and how many comparisons it made in ``$LRNNX_EMULATED_REPORT``
  (JSON) for ``tests/emulated/test_emulated_tier.py`` to check.
"""

from __future__ import annotations

import collections
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from lrnnx_array import testing

EMULATED = os.environ.get("LRNNX_EMULATED_CUPY") == "1"
OPS_DIR = Path(testing.__file__).resolve().parent / "_ops"
HAS_NUMBA = importlib.util.find_spec("numba") is not None

# Composites without a _cuda.py of their own that run their children's kernels under impl="cuda".
COMPOSITES = {"s4d_kernel": ("log_vandermonde",), "dplr_kernel": ("cauchy",)}


def impls_for(backend: str) -> list[str]:
    """The impls of the ``backend_impl`` fixture (emulated CuPy: only the kernels)."""
    impls = testing.impls_for(backend)
    if EMULATED and backend == "cupy":
        return [i for i in impls if i == "cuda"]
    if backend == "numpy" and not EMULATED and HAS_NUMBA:
        return impls + ["numba"]  # the CPU tier; deselected below for families without one
    return impls


def _families() -> list[str]:
    return sorted((p.name for p in OPS_DIR.iterdir()
                   if p.is_dir() and not p.name.startswith("_")), key=len, reverse=True)


def family_of(module_name: str) -> str | None:
    """``test_diag_scan_hypothesis`` -> ``diag_scan`` (the longest family name it starts with)."""
    stem = module_name.rsplit(".", 1)[-1].removeprefix("test_")
    for fam in _families():
        if stem == fam or stem.startswith(fam + "_"):
            return fam
    return None


def has_numba(family: str) -> bool:
    return (OPS_DIR / family / "_numba.py").is_file()


def has_kernel(family: str) -> bool:
    own = (OPS_DIR / family / "_cuda.py").is_file()
    return own or any((OPS_DIR / c / "_cuda.py").is_file() for c in COMPOSITES.get(family, ()))


def _params(item) -> dict:
    cs = getattr(item, "callspec", None)
    return cs.params if cs is not None else {}


def select_items(config, items) -> None:
    """Deselect cuda rows of kernel-less families; under emulation, every non-CuPy row."""
    keep, drop = [], []
    for item in items:
        p = _params(item)
        bi = p.get("backend_impl")
        fam = family_of(getattr(item.module, "__name__", "")) if item.module else None
        if bi is not None and bi[1] == "cuda" and fam is not None and not has_kernel(fam):
            drop.append(item)
        elif bi is not None and bi[1] == "numba" and not (fam is not None and has_numba(fam)):
            drop.append(item)  # only the families with a numba tier have numba rows
        elif EMULATED and fam is not None and not has_kernel(fam):
            drop.append(item)  # the tier runs kernels; a kernel-less family's CuPy rows ran above
        elif EMULATED and not (bi == ("cupy", "cuda") or p.get("backend") == "cupy"
                               or item.get_closest_marker("cuda") is not None):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# -- the emulated child's record -----------------------------------------------------------------


class _Recorder:
    """Counts ``testing.assert_close`` calls and records every kernel launch (expression, block,
    int32 flag/mode arguments) of this process."""

    def __init__(self):
        import cupy

        if not getattr(cupy, "_FAKE", False):
            raise pytest.UsageError("LRNNX_EMULATED_CUPY=1 but `import cupy` is the real CuPy: "
                                    "put cuemu's fake_cupy first on PYTHONPATH")
        import cuemu

        self.cuemu = cuemu
        self.comparisons = 0
        self.configs = collections.Counter()
        self.tests = collections.Counter()
        rec = self
        orig_close = testing.assert_close

        def assert_close(*a, **k):
            rec.comparisons += 1
            return orig_close(*a, **k)

        testing.assert_close = assert_close
        orig_call = cuemu.Kernel.__call__

        def call(kernel, grid, block, args, *a, **k):
            flags = tuple(int(x) for x in args if isinstance(x, np.int32))
            rec.configs[(kernel.expr, tuple(block), flags)] += 1
            return orig_call(kernel, grid, block, args, *a, **k)

        cuemu.Kernel.__call__ = call

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        before = sum(self.configs.values())
        yield
        if sum(self.configs.values()) > before:
            self.tests[item.nodeid.split("[")[0]] += 1

    def pytest_sessionfinish(self, session, exitstatus):
        path = os.environ.get("LRNNX_EMULATED_REPORT")
        if not path:
            return
        launches = collections.Counter()
        for mod in self.cuemu.MODULES:
            for expr, k in mod._kernels.items():
                launches[expr] += k.launches
        report = {
            "comparisons": self.comparisons,
            "launches": dict(launches),
            "configs": [[e, list(b), list(f), n] for (e, b, f), n in sorted(self.configs.items())],
            "tests_launching": dict(self.tests),
            "notes": sorted(set(self.cuemu.NOTES)),
            "warnings": sorted(set(self.cuemu.WARNINGS)),
            "exitstatus": int(exitstatus),
        }
        Path(path).write_text(json.dumps(report, indent=1))


def configure(config) -> None:
    if EMULATED:
        config.pluginmanager.register(_Recorder(), "lrnnx-emulated-recorder")
