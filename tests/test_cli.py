"""The main job's subcommands: results through the exit code, usage errors as one line."""

import csv
import importlib.util
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from lrnnx_array import _backend, _harness, cli


def _run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "lrnnx_array", *args], capture_output=True, text=True,
        env={**os.environ, **(env or {})},
    )


def _summary(stdout):
    m = re.search(r"^(\d+) passed, (\d+) failed", stdout, re.M)
    assert m, stdout
    return int(m.group(1)), int(m.group(2))


def test_info():
    out = _run("info")
    assert out.returncode == 0, out.stderr
    assert "numpy" in out.stdout and "backends" in out.stdout


def test_check_numpy_passes():
    out = _run("check", "--backend", "numpy")
    assert out.returncode == 0, out.stdout + out.stderr
    passed, failed = _summary(out.stdout)
    assert failed == 0 and passed >= len(_harness.all_checks())


def test_check_ignores_the_test_backend_variable():
    out = _run("check", "--ops", "diag_scan", env={"LRNNX_TEST_BACKENDS": "numpy"})
    assert out.returncode == 0, out.stdout + out.stderr
    if _backend.backend_unavailable_reason("array_api_strict") is None:
        assert "array_api_strict" in out.stdout


def test_check_runs_without_array_api_strict(monkeypatch, capsys):
    """The README's main command on a machine with the base dependencies only."""
    real = _backend.backend_unavailable_reason
    monkeypatch.setattr(_backend, "backend_unavailable_reason",
                        lambda n: "not installed" if n == "array_api_strict" else real(n))
    assert cli.main(["check", "--ops", "diag_scan"]) == 0
    assert "array_api_strict" not in capsys.readouterr().out


def _checks(monkeypatch, *checks):
    monkeypatch.setattr(_harness, "all_checks", lambda: list(checks))


def test_check_fails_a_wrong_value(monkeypatch, capsys):
    bad = _harness.Check("always wrong", lambda xp, impl, dt: [("y", xp.ones(3), np.zeros(3))],
                         ("float64",))
    _checks(monkeypatch, bad)
    assert cli.main(["check", "--backend", "numpy"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "always wrong: y" in out and _summary(out) == (0, 1)


def test_check_fails_a_silent_precision_change(monkeypatch, capsys):
    """A float64 row whose result is float32 fails, however close the values are."""
    def run(xp, impl, dt):
        return [("y", xp.ones(3, dtype=xp.float32), np.ones(3))]

    _checks(monkeypatch, _harness.Check("demoted", run, ("float64",)))
    assert cli.main(["check", "--backend", "numpy"]) == 1
    assert "dtype mismatch" in capsys.readouterr().out


def test_check_reports_an_error_per_row(monkeypatch, capsys):
    def run(xp, impl, dt):
        raise RuntimeError("boom")

    ok = _harness.Check("fine", lambda xp, impl, dt: [("y", xp.ones(2), np.ones(2))],
                        ("float64",))
    _checks(monkeypatch, _harness.Check("raises", run, ("float64",)), ok)
    assert cli.main(["check", "--backend", "numpy"]) == 1
    out = capsys.readouterr().out
    assert "ERROR RuntimeError: boom" in out and _summary(out) == (1, 1)


def test_pairs_refuse_a_missing_oracle_value():
    with pytest.raises(ValueError, match="2 labels, 2 results, 1 oracle"):
        _harness.pairs(("a", "b"), (1, 2), (1,))


@pytest.mark.parametrize(
    "args, words",
    [
        (("check", "--ops", "nosuch"), "no check matches"),
        (("bench", "--ops", "nosuch"), "no bench matches"),
        (("bench", "--dtype", "bogus"), "unknown --dtype 'bogus'"),
        (("bench", "--out", "x.txt"), "--out must end in .json or .csv"),
        (("check", "--backend", "torch"), "unknown backend 'torch'"),
        (("bench", "--backend", "torch"), "unknown backend 'torch'"),
        (("bench", "--table", "--size", "small"), "--table runs its cases on numpy"),
        (("bench", "--table", "--ops", "cauchy"), "no --table case matches"),
        (("bench", "--table", "lrnnx", "--ops", "diag_scan"), "no --table case matches"),
    ],
)
def test_usage_errors_are_one_line(args, words):
    out = _run(*args)
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in out.stderr, out.stderr


@pytest.mark.parametrize("command", ["check", "bench"])
def test_an_unusable_gpu_backend_is_an_error(command):
    why = _backend.backend_unavailable_reason("cupy")
    if why is None:
        pytest.skip("cupy is usable here")
    out = _run(command, "--backend", "cupy")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "backend 'cupy' is not usable here" in lines[0], out.stderr


def test_bench_small_writes_json(tmp_path):
    out_file = tmp_path / "b.json"
    out = _run("bench", "--size", "small", "--repeat", "1", "--ops", "diag_scan,power",
               "--out", str(out_file))
    assert out.returncode == 0, out.stderr
    data = json.loads(out_file.read_text())
    assert data["results"] and all(r["fwd_ms"] > 0 for r in data["results"])


def test_bench_small_writes_csv(tmp_path):
    out_file = tmp_path / "b.csv"
    out = _run("bench", "--size", "small", "--repeat", "1", "--ops", "diag_scan",
               "--out", str(out_file))
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(out_file.open()))
    assert rows and all(float(r["fwd_ms"]) > 0 for r in rows)


@pytest.mark.parametrize(
    "flag, name", [("--models", "LRU.step"), ("--models", "mamba step"), ("--generate", "")]
)
def test_bench_models_and_generate_run(tmp_path, flag, name):
    """The model and generation benchmarks are wired into ``bench`` and produce rows."""
    out = tmp_path / "b.json"
    args = ["bench", flag, "--size", "small", "--repeat", "1", "--out", str(out)]
    if name:
        args += ["--ops", name]
    r = _run(*args)
    assert r.returncode == 0, r.stderr
    rows = json.loads(out.read_text())["results"]
    assert rows and all(row["fwd_ms"] > 0 for row in rows)
    if name:
        assert all(name in row["op"] for row in rows)


def test_bench_table_prints_one_row_per_case(monkeypatch, capsys, tmp_path):
    """``bench --table``: a markdown row per TABLE_CASES entry (here shrunk), its columns
    documented, the load average noted; without peers their cells read '-'."""
    monkeypatch.setattr(_harness, "TABLE_CASES", (("diag_scan", dict(rows=8, L=64)),
                                                  ("rglru_scan", dict(B=1, D=4, L=32))))
    out_file = tmp_path / "t.json"
    assert cli.main(["bench", "--table", "--repeat", "1", "--no-peers", "--out",
                     str(out_file)]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.startswith("| ") and "float32" in ln]
    assert [r.split(" | ")[0] for r in rows] == ["| diag_scan float32", "| rglru_scan float32"]
    head = next(ln for ln in out.splitlines() if ln.startswith("| op |"))
    assert len(head.split("|")) == len(rows[0].split("|"))
    jax_col = head.split(" | ").index("JAX scan ms")
    assert all(r.split(" | ")[jax_col] == "-" for r in rows)  # --no-peers
    assert "load average" in out and "torch ref-alg" in out
    data = json.loads(out_file.read_text())["results"]
    assert [r["op"] for r in data] == ["diag_scan", "rglru_scan"] and data[0]["rows"] == 8


def test_bench_table_lrnnx_times_forwards_against_the_torch_peer(monkeypatch, capsys, tmp_path):
    """``bench --table lrnnx``: one row per case (here shrunk), forward only (no VJP, no JAX
    peer built), ours/torch from the torch peer when torch imports, '-' cells without it."""
    from lrnnx_array import _harness_lrnnx

    monkeypatch.setattr(_harness_lrnnx, "LRNNX_CASES", (
        ("selective_state_update", dict(B=2, D=8, N=4)),
        ("simplified_state_update", dict(B=2, H=4, P=4, method="bilinear"))))
    out_file = tmp_path / "t.json"
    assert cli.main(["bench", "--table", "lrnnx", "--repeat", "1", "--out", str(out_file)]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.startswith("| ") and "_state_update" in ln]
    assert [r.split(" | ")[0] for r in rows] == ["| selective_state_update float32",
                                                 "| simplified_state_update complex64"]
    head = next(ln for ln in out.splitlines() if ln.startswith("| op |"))
    assert len(head.split("|")) == len(rows[0].split("|")) and "ours/torch" in head
    data = json.loads(out_file.read_text())["results"]
    assert all("bwd_ms" not in r and not any(k.startswith("jax") for k in r) for r in data)
    has_torch = importlib.util.find_spec("torch") is not None
    assert all((_harness_lrnnx.TORCH + "_ms" in r) == has_torch for r in data)
    assert _harness.PEER_KINDS == ("jax", "torch")  # restored


def test_measure_case_repeats_short_calls_inside_a_sample():
    """``min_sample_s``: a call shorter than it runs several times per sample (the count from
    its warm-up), the sample divided by the count; without it, once per round."""
    calls = {"fwd": 0}

    def fwd():
        calls["fwd"] += 1

    case = _harness.Case(fwd=fwd)
    xp = _backend.backend_namespace("numpy")
    rec = _harness.measure_case(case, xp, repeat=3)
    assert calls["fwd"] == 1 + 3 and rec["rounds"] == 3
    calls["fwd"] = 0
    rec = _harness.measure_case(case, xp, repeat=3, min_sample_s=0.001)
    assert calls["fwd"] > 1 + 3 * 2 and rec["fwd_ms"] < 1.0


def test_lrnnx_table_sizes_fit_their_benches():
    """Every ``bench --table lrnnx`` case names a bench whose ``make`` takes its size keys."""
    import inspect

    from lrnnx_array import _harness_lrnnx

    by_name = {b.name: b for b in _harness.all_benches()}
    for name, size in _harness_lrnnx.LRNNX_CASES:
        inspect.signature(by_name[name].make).bind(None, "float32", **size)
    assert len(_harness_lrnnx.jobs(list(by_name.values()))) == len(_harness_lrnnx.LRNNX_CASES)


def test_format_table_ratios_and_missing_cells():
    rec = {"op": "x", "dtype": "float32", "size": {"L": 4}, "fwd_ms": 2.0, "bwd_ms": 6.0,
           "floor_state_a*b+b_ms": 0.5, "floor_state_a*b+b_median_ms": 9.0,
           "jax_lax.scan_ms": 4.0}
    row = _harness.format_table([rec]).splitlines()[2].split(" | ")
    heads = _harness.format_table([rec]).splitlines()[0].split(" | ")
    cell = dict(zip(heads, row))
    assert cell["fwd/floor"] == "4" and cell["VJP/floor"] == "12"
    assert cell["fwd/JAX scan"] == "0.5" and cell["torch ref-alg ms"] == "-"
