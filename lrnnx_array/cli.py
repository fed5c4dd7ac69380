"""The main job: ``python -m lrnnx_array info | check | bench``."""

from __future__ import annotations

import argparse
import json
import platform
import sys


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in (
        "lrnnx_array",
        "numpy",
        "scipy",
        "array-api-compat",
        "array-api-strict",
        "cupy-cuda12x",
        "cupy-cuda13x",
        "torch",
    ):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


class CLIError(Exception):
    """A usage problem reported as one line (``error: ...``) and exit status 2, no traceback."""


def _backends(arg: str | None, default: list[str] | None) -> list[str]:
    """Parse ``--backend a,b`` (both commands): every name known and usable, else CLIError.

    ``default`` is used without ``--backend`` (``None``: every backend usable here).
    """
    from . import _backend

    if not arg:
        return _backend.available_backends(default)
    names = [n.strip() for n in arg.split(",") if n.strip()]
    if not names:
        raise CLIError("--backend is empty; choose from " + ", ".join(_backend.ALL_BACKENDS))
    for n in names:
        if n not in _backend.ALL_BACKENDS:
            raise CLIError(f"unknown backend {n!r}; choose from {', '.join(_backend.ALL_BACKENDS)}")
        why = _backend.backend_unavailable_reason(n)
        if why is not None:
            raise CLIError(f"backend {n!r} is not usable here: {why}")
    return names


def _select(items, ops_arg: str | None, what: str):
    """Items whose name contains one of the ``--ops`` substrings; an empty selection fails."""
    if not ops_arg:
        return list(items)
    wanted = [o.strip() for o in ops_arg.split(",") if o.strip()]
    chosen = [c for c in items if any(o in c.name for o in wanted)]
    if not chosen:
        names = sorted({c.name.split()[0] for c in items})
        raise CLIError(f"no {what} matches --ops {ops_arg!r}; known: {', '.join(names)}")
    return chosen


def cmd_info(args) -> int:
    from . import _backend, _cuda

    print("lrnnx_array info")
    for k, v in _versions().items():
        print(f"  {k:18s} {v}")
    print(f"  backends           {', '.join(_backend.available_backends())}")
    why = _backend.backend_unavailable_reason("cupy")
    if why is None:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        print(
            f"  GPU                {props['name'].decode()} (sm_{props['major']}{props['minor']}, "
            f"{props['multiProcessorCount']} SMs)"
        )
    else:
        print(f"  GPU                none usable (CPU paths only): {why}")
    st = _cuda.cache_status()
    print(f"  kernel sources     {', '.join(_cuda.kernel_names())} ({_cuda.kernel_dir()})")
    print(f"  kernel cache       {st['cache_dir']} ({st['entries']} entries)")
    return 0


def cmd_check(args) -> int:
    """Every self-check on every (backend, impl, dtype), streamed one row at a time."""
    from . import _backend, _harness

    if getattr(args, "emulate", False):  # the kernels on the CPU, in child processes (cuemu)
        from ._cuda import emulate

        return emulate.check_command(["--ops", args.ops] if args.ops else [])
    backends = _backends(args.backend, None)
    checks = _select(_harness.all_checks(), args.ops, "check")
    w = max([len(c.name) for c in checks] + [5])
    print(f"{'check':{w}s}  {'backend':16s} {'impl':8s} {'dtype':10s} "
          f"{'max err':>10s} {'err/tol':>8s}  status", flush=True)
    passed = failed = 0
    for chk in checks:
        for be in backends:
            xp = _backend.backend_namespace(be)
            for impl in _backend.impls_for(be):
                for dt in chk.dtypes:
                    try:
                        err, ratio = _harness.compare(chk, xp, impl, dt)
                        status = "ok"
                    except Exception as exc:  # a row's failure is reported, the run goes on
                        err = ratio = float("nan")
                        kind = "FAIL" if isinstance(exc, AssertionError) else "ERROR"
                        status = f"{kind} {type(exc).__name__}: {' '.join(str(exc).split())}"
                    ok = status == "ok"
                    passed += ok
                    failed += not ok
                    print(f"{chk.name:{w}s}  {be:16s} {impl:8s} {dt:10s} {err:10.2e} "
                          f"{ratio:8.2g}  {status}", flush=True)
    compile_failed = _compile_all() if args.compile else 0
    summary = f"{passed} passed, {failed} failed"
    if args.compile:
        summary += f"; compile: {compile_failed} failed"
    print(summary)
    return 1 if failed or compile_failed else 0


# The virtual architectures tests/test_kernels_compile.py builds (Ampere and Hopper).
COMPILE_ARCHS = ("compute_80", "compute_90")


def _compile_all() -> int:
    """NVRTC-compile every kernel to PTX (no GPU needed); returns the number of failures."""
    from . import _cuda, _harness

    try:
        import cupy  # noqa: F401
        from cupy.cuda import nvrtc  # noqa: F401
    except Exception as exc:
        print(f"compile: cannot run ({type(exc).__name__}: {exc}); it needs CuPy and NVRTC: "
              "pip install 'lrnnx_array[compile-check]'")
        return 1
    bad = 0
    for mod in _harness.family_modules("_cuda"):
        for arch in COMPILE_ARCHS:
            try:
                _cuda.compile_ptx(mod.SOURCE, mod.NAME_EXPRESSIONS, arch)
                print(f"compile {mod.SOURCE}.cu for {arch}: ok "
                      f"({len(mod.NAME_EXPRESSIONS)} instantiations)")
            except Exception as exc:
                bad += 1
                print(f"compile {mod.SOURCE}.cu for {arch}: FAILED: {' '.join(str(exc).split())}")
    return bad


DTYPES = ("float32", "float64", "complex64", "complex128")
OUT_SUFFIXES = (".json", ".csv")


def cmd_bench(args) -> int:
    from . import _harness

    if args.dtype is not None and args.dtype not in DTYPES:
        raise CLIError(f"unknown --dtype {args.dtype!r}; choose from {', '.join(DTYPES)}")
    if args.out is not None and not args.out.endswith(OUT_SUFFIXES):
        raise CLIError(f"--out must end in .json or .csv (the format), got {args.out!r}")
    if args.repeat < 1:
        raise CLIError(f"--repeat must be >= 1, got {args.repeat}")
    peers_before = _harness.PEERS
    _harness.PEERS = peers_before and not args.no_peers
    try:
        return _bench_table(args) if args.table else _bench_jobs(args)
    finally:
        _harness.PEERS = peers_before


def _bench_jobs(args) -> int:
    from . import _backend, _harness

    backends = _backends(args.backend, ["numpy"])
    pool = (_harness.model_benches() if args.models else []) + (
        _harness.generate_benches() if args.generate else []
    ) + (_harness.dask_benches() if args.dask else [])
    benches = _select(pool or _harness.all_benches(), args.ops, "bench")
    jobs = []
    for be in backends:
        size_label = args.size or ("gpu" if be == "cupy" else "cpu")
        jobs += [(be, b, s) for b in benches for s in b.sizes.get(size_label, [])]
    if not jobs:
        raise CLIError(f"the selected benches have no {args.size!r} sizes")
    results = []
    for i, (be, b, size) in enumerate(jobs, 1):
        xp = _backend.backend_namespace(be)
        label = ", ".join(f"{k}={v}" for k, v in size.items())
        _progress(i, len(jobs), f"{b.name} [{label}] on {be}")
        case = b.make(xp, args.dtype or b.dtype, **size)
        rec = {"op": b.name, "backend": be, "dtype": args.dtype or b.dtype, **size}
        rec.update(_harness.measure_case(case, xp, repeat=args.repeat))  # interleaved, min
        if be == "cupy":
            for k, work in (("fwd", case.fwd_work), ("bwd", case.bwd_work)):
                if work is not None and f"{k}_ms" in rec:
                    roof = work.roofline_s()
                    rec[f"{k}_roofline_ms"] = 1e3 * roof
                    rec[f"{k}_roofline_frac"] = 1e3 * roof / rec[f"{k}_ms"]
                    rec[f"{k}_GBps"] = work.bytes / (rec[f"{k}_ms"] / 1e3) / 1e9
        results.append(rec)
    _progress(len(jobs), len(jobs), "done", end=True)
    for rec in results:
        print("  ".join(f"{k}={_fmt(v)}" for k, v in rec.items()))
    if args.out:
        _write(args.out, results)
        print(f"wrote {args.out}")
    return 0


def _bench_table(args) -> int:
    """``bench --table [floor|lrnnx]``: the table's cases on NumPy at their bench dtypes, then
    one markdown table (floor: ``_harness.TABLE_CASES``; lrnnx: ``_harness_lrnnx``)."""
    import os

    from . import _backend, _bench_jax, _harness, _harness_lrnnx

    if args.models or args.generate or args.dask or args.backend or args.size or args.dtype:
        raise CLIError("--table runs its cases on numpy at fixed sizes: it takes only "
                       "--ops, --repeat, --out and --no-peers")
    lrnnx = args.table == "lrnnx"
    benches = _select(_harness.all_benches(), args.ops, "bench")
    jobs = (_harness_lrnnx.jobs if lrnnx else _harness.table_jobs)(benches)
    if not jobs:
        raise CLIError(f"no --table case matches --ops {args.ops!r} (table {args.table!r})")
    xp = _backend.backend_namespace("numpy")
    load0 = os.getloadavg()
    results = []
    kinds_before = _harness.PEER_KINDS
    if lrnnx:
        _harness.PEER_KINDS = ("torch",)
    try:
        for i, (b, size) in enumerate(jobs, 1):
            _progress(i, len(jobs), f"{b.name} {size}")
            case = b.make(xp, b.dtype, **size)
            if lrnnx:
                case = _harness_lrnnx.forward_only(case)
            rec = {"op": b.name, "backend": "numpy", "dtype": b.dtype, "size": size}
            rec.update(_harness.measure_case(case, xp, repeat=args.repeat,
                                             min_sample_s=_harness_lrnnx.MIN_SAMPLE_S
                                             if lrnnx else 0.0))
            results.append(rec)
    finally:
        _harness.PEER_KINDS = kinds_before
    _progress(len(jobs), len(jobs), "done", end=True)
    load1 = os.getloadavg()
    print((_harness_lrnnx if lrnnx else _harness).format_table(results))
    print()
    print(_harness_lrnnx.DOC if lrnnx else _harness.TABLE_DOC)
    print(f"threads: {_bench_jax.THREADS_NOTE or 'jax not loaded'}; OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; rounds {args.repeat}; load "
          f"average (1/5/15 min) {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f} before, "
          f"{load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f} after")
    if args.out:
        flat = [{**{k: v for k, v in r.items() if k != "size"}, **r["size"]} for r in results]
        _write(args.out, flat)
        print(f"wrote {args.out}")
    return 0


def _fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _progress(i, n, what, end=False):
    if not sys.stderr.isatty() and not end:
        print(f"[{i}/{n}] {what}", file=sys.stderr)
        return
    width = 30
    filled = int(width * (i - (0 if end else 1)) / max(n, 1))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {i}/{n} {what[:60]:60s}")
    if end:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _write(path: str, rows: list[dict]):
    if path.endswith(".csv"):
        import csv

        keys = sorted(
            {k for r in rows for k in r}, key=lambda k: (k not in ("op", "backend", "dtype"), k)
        )
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)
    else:
        with open(path, "w") as f:
            json.dump({"versions": _versions(), "results": rows}, f, indent=1)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lrnnx_array",
        description="lrnnx_array's main job: info (versions, backends, GPU), check (every op "
        "against its float64 oracle with the test suite's tolerances), bench (timings).",
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info", help="versions, backends, GPU, kernel cache")
    backend_help = ("comma-separated backends from numpy, array_api_strict, cupy; each must be "
                    "usable here (default: {})")
    c = sub.add_parser("check", help="every op on every backend vs its float64 oracle (small "
                       "sizes, testing.assert_close and the tolerance table)")
    c.add_argument("--backend", help=backend_help.format("every usable backend"))
    c.add_argument("--ops", help="comma-separated substrings of check names (must match one)")
    c.add_argument("--compile", action="store_true", help="also NVRTC-compile every kernel to PTX")
    c.add_argument("--emulate", action="store_true", help="run the checks on CuPy emulated on the "
                   "CPU (cuemu: the real kernels and launchers, no GPU) under the round-robin, "
                   "greedy and greedy-reverse schedules; $LRNNX_CUEMU names cuemu's directory")
    b = sub.add_parser("bench", help="time forward/backward of the ops",
                       description="Contenders of a case run interleaved after a warm-up. "
                       "Columns: see lrnnx_array._harness.RATIO_DOC.")
    b.add_argument("--backend", help=backend_help.format("numpy"))
    b.add_argument("--ops", help="comma-separated substrings of bench names (must match one)")
    b.add_argument("--size", choices=["small", "cpu", "gpu"],
                   help="size grid (default: gpu on cupy, cpu elsewhere)")
    b.add_argument("--models", action="store_true",
                   help="time every model's forward and step instead of the ops")
    b.add_argument("--generate", action="store_true",
                   help="time generate() (tokens/s) for S5, LRU and Mamba language models")
    b.add_argument("--dask", action="store_true",
                   help="time the time-blocked Dask scans on a 2-process LocalCluster vs one "
                        "unchunked call (needs the dask extra and distributed)")
    b.add_argument("--dtype", help=f"override the bench dtype: one of {', '.join(DTYPES)}")
    b.add_argument("--repeat", type=int, default=5, help="interleaved rounds per job (default 5; "
                   "min, median and max are reported, ratios from the mins)")
    b.add_argument("--out", help="write the results; the suffix picks the format: .json or .csv")
    b.add_argument("--table", nargs="?", const="floor", choices=("floor", "lrnnx"),
                   help="an issue-13 table as markdown (numpy; --ops filters). 'floor' (the "
                   "default): each scan at the issue's sizes, ours (auto/numba, generic) vs the "
                   "floor, JAX (lax.scan, associative_scan, vjp) and torch lrnnx-ref-alg; "
                   "'lrnnx': every op's forward vs lrnnx's torch CPU algorithm at lrnnx's "
                   "benchmark sizes")
    b.add_argument("--no-peers", action="store_true",
                   help="skip the JAX and torch baselines (they compile when a case is built)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"info": cmd_info, "check": cmd_check, "bench": cmd_bench}[args.cmd](args)
    except CLIError as exc:
        print(f"python -m lrnnx_array {args.cmd}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # e.g. a broken CUDA install while benchmarking: one line, no trace
        print(f"python -m lrnnx_array {args.cmd}: error: {type(exc).__name__}: "
              f"{' '.join(str(exc).split())}", file=sys.stderr)
        return 1
