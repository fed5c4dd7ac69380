"""The main job's subcommands run and report failures through the exit code."""

import json
import subprocess
import sys


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "lrnnx_array", *args], capture_output=True, text=True
    )


def test_info():
    out = _run("info")
    assert out.returncode == 0, out.stderr
    assert "numpy" in out.stdout and "backends" in out.stdout


def test_check_numpy_passes():
    out = _run("check", "--backend", "numpy")
    assert out.returncode == 0, out.stdout + out.stderr
    assert " 0 failed" in out.stdout


def test_check_fails_loudly(monkeypatch):
    from lrnnx_array import _harness, cli

    bad = _harness.Check("always wrong", lambda xp, impl, dt: (1.0, 0.0), ("float64",))
    monkeypatch.setattr(_harness, "all_checks", lambda: [bad])
    assert cli.main(["check", "--backend", "numpy"]) == 1


def test_bench_small_writes_json(tmp_path):
    out_file = tmp_path / "b.json"
    out = _run("bench", "--size", "small", "--repeat", "1", "--out", str(out_file))
    assert out.returncode == 0, out.stderr
    data = json.loads(out_file.read_text())
    assert data["results"] and all(r["fwd_ms"] > 0 for r in data["results"])
