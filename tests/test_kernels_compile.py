"""Every CUDA kernel source compiles to PTX with NVRTC (no GPU needed), for sm_80 and sm_90.

Each op's ``_cuda.py`` declares ``SOURCE`` (the .cu name) and ``NAME_EXPRESSIONS`` (every template
instantiation it launches); both are compiled here so CI catches syntax and template errors.
"""

import importlib
import pkgutil

import pytest

import lrnnx_array._ops as ops_pkg
from lrnnx_array import _cuda

pytest.importorskip("cupy", reason="cupy (for NVRTC bindings) not installed")
from cupy.cuda import nvrtc  # noqa: E402


def _launcher_modules():
    mods = []
    for info in pkgutil.walk_packages(ops_pkg.__path__, prefix="lrnnx_array._ops."):
        if info.name.endswith("._cuda"):
            mods.append(importlib.import_module(info.name))
    return mods


LAUNCHERS = _launcher_modules()


def _nvrtc_usable():
    try:
        nvrtc.getVersion()
        return True
    except Exception:
        return False


pytestmark = pytest.mark.skipif(not _nvrtc_usable(), reason="libnvrtc not found")


def test_every_kernel_source_has_a_launcher():
    covered = {m.SOURCE for m in LAUNCHERS}
    assert set(_cuda.kernel_names()) <= covered, (
        f"kernel sources without a launcher: {set(_cuda.kernel_names()) - covered}"
    )
    assert covered, "no CUDA launchers found"


@pytest.mark.parametrize("arch", ["compute_80", "compute_90"])
@pytest.mark.parametrize("mod", LAUNCHERS, ids=lambda m: m.SOURCE)
def test_kernel_compiles_to_ptx(mod, arch):
    ptx = _cuda.compile_ptx(mod.SOURCE, mod.NAME_EXPRESSIONS, arch)
    assert ".entry" in ptx
    for expr in mod.NAME_EXPRESSIONS:
        base = expr.split("<")[0]
        assert base in ptx, f"{expr} missing from the PTX of {mod.SOURCE}.cu"


def test_header_inlined_once():
    src = _cuda.kernel_source("diag_scan")
    assert '#include "common.cuh"' not in src
    assert src.count("begin common.cuh") == 1


def test_compile_error_is_reported(tmp_path, monkeypatch):
    (tmp_path / "broken.cu").write_text("__global__ void lrnnx_broken_fwd() { this is not C++; }\n")
    monkeypatch.setattr(_cuda, "kernel_dir", lambda: tmp_path)
    _cuda.kernel_source.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="NVRTC failed on broken.cu"):
            _cuda.compile_ptx("broken", [], "compute_90")
    finally:
        _cuda.kernel_source.cache_clear()


def test_ctype_accepts_dtypes_scalar_types_and_names():
    import numpy as np

    for spec in (np.float32, np.dtype("float32"), "float32", "numpy.float32"):
        assert _cuda.ctype(spec) == "float"
    assert _cuda.ctype(np.complex128) == "complex<double>"
    with pytest.raises(TypeError, match="no CUDA kernel instantiation"):
        _cuda.ctype(np.int32)


def test_compile_check_uses_cupys_options():
    # CuPy compiles every RawModule with -ftz=true (flush denormals) and
    # --device-as-default-execution-space; PTX compiled without them is not what the GPU runs.
    opts = _cuda.nvrtc_options("compute_80")
    assert opts[0] == "-arch=compute_80"
    for flag in (*_cuda.COMPILE_OPTIONS, "-ftz=true", "--device-as-default-execution-space"):
        assert flag in opts
    assert any(o.startswith("-I") and o.endswith("include") for o in opts)


def test_compile_check_needs_no_private_cupy_helper(monkeypatch):
    # A CuPy upgrade may rename its private helpers; the compile check must not depend on them.
    from cupy._core import core

    def gone(*a, **k):
        raise AttributeError("private CuPy helper removed")

    monkeypatch.setattr(core, "_get_cccl_include_options", gone, raising=False)
    ptx = _cuda.compile_ptx("diag_scan", ("lrnnx_diag_scan_fwd<float>",), "compute_80")
    assert "lrnnx_diag_scan_fwd" in ptx
