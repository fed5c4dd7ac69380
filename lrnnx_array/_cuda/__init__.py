"""CUDA kernel loading: the only code in the package that imports cupy, and only lazily.

Kernel sources live in ``raw_kernels/<name>.cu`` (installed as ``lrnnx_array._raw_kernels``).
``#include "common.cuh"`` lines are inlined here, so CuPy's on-disk cache key (the source text)
changes whenever a header changes. Modules are compiled at first use, once per process and device,
through ``cupy.RawModule(name_expressions=...)``.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from importlib import resources
from pathlib import Path

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([A-Za-z0-9_./-]+)"\s*$', re.M)
_lock = threading.Lock()
_modules: dict = {}

# C++ scalar type per dtype name (cupy/complex.cuh provides complex<T>).
CTYPES = {
    "float32": "float",
    "float64": "double",
    "complex64": "complex<float>",
    "complex128": "complex<double>",
}

COMPILE_OPTIONS = ("--std=c++17",)


def kernel_dir() -> Path:
    """Directory holding the ``.cu`` sources.

    A source checkout's ``raw_kernels/`` (beside the ``lrnnx_array`` package) wins, so a checkout
    never runs kernels of some other installed copy; an installed wheel has no such sibling and
    uses its package data ``lrnnx_array._raw_kernels``.
    """
    here = Path(__file__).resolve().parents[2] / "raw_kernels"
    if (here / "common.cuh").is_file():
        return here
    try:
        path = Path(str(resources.files("lrnnx_array._raw_kernels")))
        if (path / "common.cuh").is_file():
            return path
    except ModuleNotFoundError:
        pass
    raise FileNotFoundError(
        "CUDA kernel sources not found: neither ./raw_kernels nor lrnnx_array._raw_kernels exists"
    )


def kernel_names() -> list[str]:
    return sorted(p.stem for p in kernel_dir().glob("*.cu"))


@functools.lru_cache(maxsize=None)
def kernel_source(name: str) -> str:
    """Source of ``raw_kernels/<name>.cu`` with local ``#include "..."`` lines inlined once."""
    base = kernel_dir()
    seen: set[str] = set()

    def expand(text: str) -> str:
        def repl(m):
            inc = m.group(1)
            if inc in seen:
                return f"// (already included: {inc})"
            seen.add(inc)
            p = base / inc
            if not p.is_file():
                raise FileNotFoundError(f"{name}.cu includes {inc!r}, not found in {base}")
            return f"// ---- begin {inc}\n{expand(p.read_text())}\n// ---- end {inc}"

        return _INCLUDE.sub(repl, text)

    path = base / f"{name}.cu"
    if not path.is_file():
        raise FileNotFoundError(f"no kernel source {name}.cu in {base}; have {kernel_names()}")
    return expand(path.read_text())


def ctype(dtype) -> str:
    """C++ scalar name for a dtype, a scalar type (``numpy.float32``) or a dtype name."""
    import numpy as np

    try:
        key = dtype.split(".")[-1] if isinstance(dtype, str) else np.dtype(dtype).name
    except TypeError:
        key = str(dtype)
    try:
        return CTYPES[key]
    except KeyError:
        raise TypeError(f"no CUDA kernel instantiation for dtype {dtype}") from None


def cuda_available() -> bool:
    """True when cupy imports and a CUDA device is usable (never raises)."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def get_module(name: str, name_expressions: tuple[str, ...]):
    """The compiled ``RawModule`` for ``name.cu`` on the current device (cached per process)."""
    import cupy

    dev = cupy.cuda.Device().id
    key = (name, tuple(name_expressions), dev)
    mod = _modules.get(key)
    if mod is None:
        with _lock:
            mod = _modules.get(key)
            if mod is None:
                mod = cupy.RawModule(
                    code=kernel_source(name),
                    options=COMPILE_OPTIONS,
                    name_expressions=list(name_expressions),
                )
                _modules[key] = mod
    return mod


def get_function(name: str, expression: str, all_expressions: tuple[str, ...]):
    """Kernel ``expression`` (e.g. ``"lrnnx_diag_scan_fwd<float>"``) from ``name.cu``."""
    return get_module(name, all_expressions).get_function(expression)


def cache_status() -> dict:
    """Where CuPy caches compiled kernels and how many entries exist (for ``info``)."""
    path = os.environ.get("CUPY_CACHE_DIR", os.path.expanduser("~/.cupy/kernel_cache"))
    n = len(os.listdir(path)) if os.path.isdir(path) else 0
    return {"cache_dir": path, "entries": n, "loaded_in_process": len(_modules)}


# ---------------------------------------------------------------------------------------------
# NVRTC compile check without a GPU (used by tests and `python -m lrnnx_array check`).


# What CuPy adds to a RawModule's options before NVRTC sees them (cupy/cuda/compiler.py:
# `-ftz=true` for every CUDA compile, `--device-as-default-execution-space` for NVRTC without
# jitify). The compile check uses the same, so it compiles the code the GPU will run.
CUPY_ADDED_OPTIONS = ("-ftz=true", "--device-as-default-execution-space")


def nvrtc_include_options() -> list[str]:
    """The include flags CuPy passes to NVRTC: its headers and its bundled CCCL.

    Found as package data of the installed ``cupy`` (no private CuPy function is called, so a
    CuPy upgrade that renames its helpers does not break the check).
    """
    import importlib.util

    spec = importlib.util.find_spec("cupy")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("cupy is not installed (its headers are needed for NVRTC)")
    inc = Path(spec.origin).resolve().parent / "_core" / "include"
    if not (inc / "cupy" / "complex.cuh").is_file():
        raise FileNotFoundError(f"CuPy's headers not found: no cupy/complex.cuh in {inc}")
    cccl = inc / "cupy" / "_cccl"
    return [*(f"-I{cccl / d}" for d in ("cub", "thrust", "libcudacxx") if (cccl / d).is_dir()),
            f"-I{inc}"]


def nvrtc_options(arch: str = "compute_90") -> list[str]:
    """NVRTC options of the compile check: the launchers' own, CuPy's additions, its includes."""
    return [f"-arch={arch}", *COMPILE_OPTIONS, *CUPY_ADDED_OPTIONS, *nvrtc_include_options()]


def compile_ptx(name: str, name_expressions, arch: str = "compute_90") -> str:
    """Compile ``name.cu`` with the given template instantiations to PTX; no GPU needed.

    Raises ``RuntimeError`` with NVRTC's log on a compile error.
    """
    from cupy.cuda import nvrtc

    src = kernel_source(name)
    prog = nvrtc.createProgram(src, f"{name}.cu", [], [])
    try:
        for expr in name_expressions:
            nvrtc.addNameExpression(prog, expr)
        opts = nvrtc_options(arch)
        try:
            nvrtc.compileProgram(prog, opts)
        except nvrtc.NVRTCError as exc:
            log = nvrtc.getProgramLog(prog)
            raise RuntimeError(f"NVRTC failed on {name}.cu ({arch}):\n{log}") from exc
        for expr in name_expressions:
            nvrtc.getLoweredName(prog, expr)
        ptx = nvrtc.getPTX(prog)
        return ptx.decode() if isinstance(ptx, bytes) else ptx
    finally:
        nvrtc.destroyProgram(prog)
