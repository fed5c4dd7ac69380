"""``python -m lrnnx_array bench --dask`` is wired and produces rows (small sizes, one round)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("dask", reason="bench --dask needs the dask extra")
pytest.importorskip("distributed", reason="bench --dask needs distributed (a LocalCluster)")


def test_bench_dask_small_runs(tmp_path):
    out = tmp_path / "b.json"
    r = subprocess.run([sys.executable, "-m", "lrnnx_array", "bench", "--dask", "--size",
                        "small", "--repeat", "1", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    rows = json.loads(out.read_text())["results"]
    names = {row["op"] for row in rows}
    scans = {"dask diag_scan rerun", "dask diag_scan sequential", "dask diag_scan chunks rerun",
             "dask diag_scan chunks sequential", "dask threads diag_scan rerun",
             "dask threads diag_scan sequential"}
    assert names == scans | {"dask task overhead processes", "dask task overhead threads"}
    for row in rows:
        assert row["fwd_ms"] > 0
        if row["op"] in scans:
            assert row["unchunked_ms"] > 0 and row["ratio_vs_unchunked"] > 0
    assert all("ratio_vs_sequential" in row for row in rows if row["op"] in
               ("dask diag_scan rerun", "dask threads diag_scan rerun"))
