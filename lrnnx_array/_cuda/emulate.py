"""Run the CUDA kernels on the CPU through cuemu (a CUDA-semantics emulator with a fake ``cupy``).

cuemu (``../shared/tools/cuemu`` beside a source checkout, or the directory named by
``$LRNNX_CUEMU``) compiles ``raw_kernels/*.cu`` unchanged with g++ and runs every GPU thread as a
fiber, with a NumPy-backed ``cupy`` stand-in, so the real launchers in ``_ops/*/_cuda.py`` run as
they are. The stand-in replaces CuPy for a whole process, so everything here runs the emulated
code in a *child* process; the parent never imports cupy.

Used by ``tests/emulated`` (the CI tier) and ``python -m lrnnx_array check --emulate``. It checks
logic (indexing, barriers, races, bounds, launch arguments), not the GPU's rounding or speed.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

# The schedules every run of the tier uses: round-robin interleaves the lanes; greedy runs warp 0
# up to its next barrier before warp 1 moves (a missing barrier shows as a NaN read of poisoned
# shared memory); greedy-reverse runs lane 31 first.
SCHEDULES = ("round-robin", "greedy", "greedy-reverse")

# Environment variable the child sets so tests/conftest.py runs only the emulated CuPy rows.
ENV_FLAG = "LRNNX_EMULATED_CUPY"


def repo_root() -> Path | None:
    """The source checkout holding this package (``None`` for an installed wheel)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "raw_kernels" / "common.cuh").is_file() else None


def cuemu_dir() -> Path | None:
    """cuemu's directory: ``$LRNNX_CUEMU``, else ``<checkout>/../shared/tools/cuemu``."""
    env = os.environ.get("LRNNX_CUEMU")
    candidates = [Path(env)] if env else []
    root = repo_root()
    if root is not None:
        candidates.append(root.parent / "shared" / "tools" / "cuemu")
    for c in candidates:
        if (c / "fake_cupy" / "cupy" / "__init__.py").is_file() and (c / "cuemu").is_dir():
            return c.resolve()
    return None


def unavailable_reason() -> str | None:
    """Why the kernels cannot be emulated here (``None`` when they can)."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return f"cuemu runs on x86-64 Linux only (this is {sys.platform} {platform.machine()})"
    if cuemu_dir() is None:
        return ("cuemu not found: set LRNNX_CUEMU to its directory, or use a checkout with "
                "../shared/tools/cuemu beside it")
    cxx = os.environ.get("CUEMU_CXX") or "g++"
    if shutil.which(cxx) is None:
        return f"no C++ compiler {cxx!r} on PATH (cuemu builds the kernels with it; CUEMU_CXX)"
    return None


def child_env(sched: str = "round-robin", flavour: str = "plain", *, guard: str = "end",
              strict: bool = True, extra: dict | None = None) -> dict:
    """Environment of a child process whose ``import cupy`` is cuemu's stand-in."""
    tool = cuemu_dir()
    if tool is None:
        raise RuntimeError(unavailable_reason() or "cuemu not found")
    root = repo_root()
    path = [str(tool / "fake_cupy")]
    if root is not None:
        path.append(str(root))
    old = os.environ.get("PYTHONPATH")
    if old:
        path.append(old)
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join(path),
        PYTHONDONTWRITEBYTECODE="1",  # cuemu's directory is read-only
        CUEMU_SCHED=sched,
        CUEMU_FLAVOUR=flavour,
        CUEMU_GUARD=guard,
        LRNNX_TEST_BACKENDS="cupy",
    )
    env[ENV_FLAG] = "1"
    if strict:
        env["CUEMU_STRICT"] = "1"
    if root is not None:
        env["CUEMU_SOURCE_PATH"] = str(root / "raw_kernels")
    if flavour == "tsan":
        lib = subprocess.run([os.environ.get("CUEMU_CXX") or "g++", "-print-file-name=libtsan.so"],
                             capture_output=True, text=True).stdout.strip()
        env["LD_PRELOAD"] = lib
        env.setdefault("TSAN_OPTIONS", "halt_on_error=0 exitcode=0")
    env.update(extra or {})
    return env


def check_command(argv: list[str]) -> int:
    """``python -m lrnnx_array check --emulate``: the self-checks on emulated CuPy, one child per
    schedule. ``argv`` are the other ``check`` arguments (``--ops``, ...), passed through."""
    why = unavailable_reason()
    if why is not None:
        print(f"check --emulate: cannot emulate the kernels here: {why}")
        return 2
    failed = 0
    for sched in SCHEDULES:
        print(f"== emulated CuPy (cuemu), schedule {sched}", flush=True)
        cmd = [sys.executable, "-B", "-m", "lrnnx_array", "check", "--backend", "cupy", *argv]
        rc = subprocess.run(cmd, env=child_env(sched)).returncode
        failed += rc != 0
    print(f"check --emulate: {len(SCHEDULES) - failed} of {len(SCHEDULES)} schedules passed")
    return 1 if failed else 0
