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


def cmd_info(args) -> int:
    from . import _cuda, testing

    print("lrnnx_array info")
    for k, v in _versions().items():
        print(f"  {k:18s} {v}")
    print(
        f"  backends           {', '.join(testing.available_backends(list(testing.ALL_BACKENDS)))}"
    )
    if _cuda.cuda_available():
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        print(
            f"  GPU                {props['name'].decode()} (sm_{props['major']}{props['minor']}, "
            f"{props['multiProcessorCount']} SMs)"
        )
    else:
        print("  GPU                none usable (CPU paths only)")
    st = _cuda.cache_status()
    print(f"  kernel sources     {', '.join(_cuda.kernel_names())} ({_cuda.kernel_dir()})")
    print(f"  kernel cache       {st['cache_dir']} ({st['entries']} entries)")
    return 0


def cmd_check(args) -> int:
    from . import _harness, testing

    backends = testing.available_backends(args.backend.split(",") if args.backend else None)
    rows, failed = [], 0
    checks = [
        c
        for c in _harness.all_checks()
        if not args.ops or any(o in c.name for o in args.ops.split(","))
    ]
    for chk in checks:
        for be in backends:
            xp = testing.backend_namespace(be)
            for impl in testing.impls_for(be):
                for dt in chk.dtypes:
                    try:
                        err, tol = chk.run(xp, impl, dt)
                        ok = err <= tol
                        status = "ok" if ok else "FAIL"
                    except Exception as exc:  # report, keep going
                        err, tol, ok, status = (
                            float("nan"),
                            float("nan"),
                            False,
                            f"ERROR {type(exc).__name__}: {exc}",
                        )
                    failed += not ok
                    rows.append((chk.name, be, impl, dt, err, tol, status))
    w = max([len(r[0]) for r in rows] + [5])
    print(
        f"{'check':{w}s}  {'backend':16s} {'impl':8s} {'dtype':10s} "
        f"{'max err':>10s} {'tol':>10s}  status"
    )
    for name, be, impl, dt, err, tol, status in rows:
        print(f"{name:{w}s}  {be:16s} {impl:8s} {dt:10s} {err:10.2e} {tol:10.2e}  {status}")
    print(f"{len(rows) - failed} passed, {failed} failed")
    if args.compile:
        failed += _compile_all()
    return 1 if failed else 0


def _compile_all() -> int:
    """NVRTC-compile every kernel to PTX (no GPU needed)."""
    import importlib
    import pkgutil

    import lrnnx_array._ops as ops_pkg

    from . import _cuda

    bad = 0
    for info in pkgutil.walk_packages(ops_pkg.__path__, prefix="lrnnx_array._ops."):
        if info.name.endswith("._cuda"):
            mod = importlib.import_module(info.name)
            try:
                _cuda.compile_ptx(mod.SOURCE, mod.NAME_EXPRESSIONS, "compute_90")
                print(f"compile {mod.SOURCE}.cu: ok ({len(mod.NAME_EXPRESSIONS)} instantiations)")
            except Exception as exc:
                bad += 1
                print(f"compile {mod.SOURCE}.cu: FAILED\n{exc}")
    return bad


def cmd_bench(args) -> int:
    from . import _harness, testing

    xp = testing.backend_namespace(args.backend)
    size_label = args.size or ("gpu" if args.backend == "cupy" else "cpu")
    benches = [
        b
        for b in _harness.all_benches()
        if not args.ops or any(o in b.name for o in args.ops.split(","))
    ]
    jobs = [(b, s) for b in benches for s in b.sizes.get(size_label, [])]
    results = []
    for i, (b, size) in enumerate(jobs, 1):
        label = ", ".join(f"{k}={v}" for k, v in size.items())
        _progress(i, len(jobs), f"{b.name} [{label}]")
        case = b.make(xp, args.dtype or b.dtype, **size)
        rec = {"op": b.name, "backend": args.backend, "dtype": args.dtype or b.dtype, **size}
        rec["fwd_ms"] = 1e3 * _harness.time_call(case.fwd, xp, repeat=args.repeat)
        if case.bwd is not None:
            rec["bwd_ms"] = 1e3 * _harness.time_call(case.bwd, xp, repeat=args.repeat)
        for name, fn in case.baselines.items():
            rec[f"{name}_ms"] = 1e3 * _harness.time_call(fn, xp, repeat=args.repeat)
            rec[f"ratio_vs_{name}"] = rec["fwd_ms"] / rec[f"{name}_ms"]
        if args.backend == "cupy":
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
    p = argparse.ArgumentParser(prog="python -m lrnnx_array", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info", help="versions, backends, GPU, kernel cache")
    c = sub.add_parser("check", help="every op on every backend vs its oracle (small sizes)")
    c.add_argument("--backend", help="comma-separated subset of numpy,array_api_strict,cupy")
    c.add_argument("--ops", help="comma-separated substrings of check names")
    c.add_argument("--compile", action="store_true", help="also NVRTC-compile every kernel to PTX")
    b = sub.add_parser("bench", help="time forward/backward of the ops")
    b.add_argument("--backend", default="numpy", choices=["numpy", "cupy", "array_api_strict"])
    b.add_argument("--ops", help="comma-separated substrings of bench names")
    b.add_argument("--size", choices=["small", "cpu", "gpu"], help="size grid (default by backend)")
    b.add_argument("--dtype", help="override the bench dtype")
    b.add_argument("--repeat", type=int, default=5)
    b.add_argument("--out", help="write results to .json or .csv")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return {"info": cmd_info, "check": cmd_check, "bench": cmd_bench}[args.cmd](args)
