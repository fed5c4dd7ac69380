"""Packaging guards: explicit package list, kernels in the wheel, lazy imports."""

import os
import pathlib
import subprocess
import sys
import sysconfig
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _declared_packages():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(cfg["tool"]["setuptools"]["packages"])


def test_every_subpackage_is_listed():
    found = {"lrnnx_array._raw_kernels"}
    for init in (ROOT / "lrnnx_array").rglob("__init__.py"):
        rel = init.parent.relative_to(ROOT)
        found.add(".".join(rel.parts))
    missing = found - _declared_packages()
    assert not missing, (
        f"subpackages missing from pyproject's explicit package list: {sorted(missing)}"
    )
    stale = _declared_packages() - found
    assert not stale, f"pyproject lists packages that do not exist: {sorted(stale)}"


def test_import_is_lazy():
    code = (
        "import sys, lrnnx_array; print(','.join(m for m in ('cupy', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import lrnnx_array imported {out.stdout.strip()}"


def test_wheel_ships_every_kernel(tmp_path):
    """Build a wheel from the tree, install it into a fresh venv, load every .cu from it."""
    # The build runs without isolation (no network on some machines); the test extra pins
    # setuptools>=68 and wheel, so this runs (never skips) under the README's test command.
    import setuptools

    major = int(setuptools.__version__.split(".")[0])
    assert major >= 68, f"setuptools>=68 is in the test extra, found {setuptools.__version__}"
    wheel_dir = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(wheel_dir.glob("lrnnx_array-*.whl"))
    venv = tmp_path / "venv"
    # A bare venv that sees *this* environment's packages (numpy, array-api-compat, ...) through a
    # .pth line. ``--system-site-packages`` would expose the base interpreter's instead, which on a
    # fresh machine holds only the standard library.
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site_code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    venv_site = subprocess.run(
        [str(py), "-c", site_code], capture_output=True, text=True, check=True
    ).stdout.strip()
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (pathlib.Path(venv_site) / "_outer_env.pth").write_text("\n".join(sorted(here)) + "\n")
    subprocess.run(
        [
            str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    sources = sorted(p.stem for p in (ROOT / "raw_kernels").glob("*.cu"))
    code = (
        "import lrnnx_array, lrnnx_array._cuda as c, pathlib; "
        f"assert pathlib.Path(lrnnx_array.__file__).is_relative_to({str(venv)!r}), "
        "lrnnx_array.__file__; "
        "d = c.kernel_dir(); assert 'site-packages' in str(d), d; "
        "names = c.kernel_names(); [c.kernel_source(n) for n in names]; print(','.join(names))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().split(",") == sources
