"""Self-check and benchmark registry behind ``python -m lrnnx_array check | bench``.

Each op package may hold ``_selfcheck.py`` with ``CHECKS: list[Check]`` and ``_bench.py`` with
``BENCHES: list[Bench]``; they are discovered here, so adding an op never edits a shared list.
"""

from __future__ import annotations

import importlib
import pkgutil
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

# H100 SXM figures from spec/performance.md §3 (BW measured on the lent machine).
GPU_PEAKS = {"bw": 3.0e12, "sfu": 4.18e12, "fma": 3.35e13}


@dataclass
class Check:
    """One oracle comparison at small sizes.

    ``run(xp, impl, dtype)`` calls the op on backend ``xp`` with inputs of precision ``dtype``
    and returns ``[(label, got, want), ...]``: each result next to its NumPy float64/complex128
    oracle value (``want`` may be ``None`` where ``got`` must be ``None``). :func:`compare`
    checks each pair with :func:`lrnnx_array.testing.assert_close` at the table's tolerance for
    ``got``'s expected dtype (or the named ``override``): the same rule as the test suite. A pair
    may carry a fourth item, keyword arguments of ``assert_close`` for that result only (e.g.
    ``{"normwise": True}`` for a gradient reduced over many steps).
    """

    name: str
    run: Callable
    dtypes: tuple = ("float32", "float64")
    override: str | None = None


def pairs(labels, got, want) -> list:
    """``[(label, got, want), ...]``; the three sequences must have one length (no silent
    truncation: a result without its oracle value would go unchecked)."""
    labels, got, want = list(labels), list(got), list(want)
    if not len(labels) == len(got) == len(want):
        raise ValueError(f"{len(labels)} labels, {len(got)} results, {len(want)} oracle values")
    return list(zip(labels, got, want))


def rounded(x, dtype: str):
    """``x`` rounded to ``dtype``'s precision, back in float64/complex128: the inputs the op sees.

    For ill-conditioned maps (a Vandermonde phase l*Im(x) at large l) the rounding of the
    inputs alone exceeds the float32 tolerance; the oracle then evaluates the rounded inputs.
    """
    x = np.asarray(x)
    low = expected_dtype(x, dtype)
    return x.astype(low).astype(np.complex128 if np.iscomplexobj(x) else np.float64)


_PRECISION = {"float32": 32, "complex64": 32, "float64": 64, "complex128": 64}


def expected_dtype(want, dtype: str) -> str:
    """The dtype a result must have: ``dtype``'s precision, ``want``'s kind (real/complex)."""
    bits = _PRECISION[dtype]
    if np.iscomplexobj(want):
        return "complex64" if bits == 32 else "complex128"
    return "float32" if bits == 32 else "float64"


def compare(chk: Check, xp, impl: str, dtype: str) -> tuple[float, float]:
    """Run ``chk`` and assert every pair close; return (max abs error, worst error/bound).

    Raises ``AssertionError`` (naming the pair's label) on the first pair that is not close.
    """
    from . import testing

    max_err, worst = 0.0, 0.0
    for label, got, want, *opts in chk.run(xp, impl, dtype):
        kw = {"override": chk.override, **(opts[0] if opts else {})}
        if want is None:
            testing.assert_close(got, None, err_msg=f"{chk.name}: {label}")
            continue
        want = np.asarray(want)
        desired = testing.from_numpy(xp, want, expected_dtype(want, dtype))
        testing.assert_close(got, desired, err_msg=f"{chk.name}: {label}", **kw)
        if want.size:
            rtol, atol = testing.tolerance(desired.dtype, kw["override"] or 1.0)
            mag = np.abs(want)
            err = np.abs(testing.to_numpy(got).astype(np.complex128) - want)
            max_err = max(max_err, float(err.max()))
            bound = atol + rtol * (mag.max() if kw.get("normwise") else mag)
            worst = max(worst, float((err / bound).max()))
    return max_err, worst


@dataclass
class Work:
    """Work of one call for the roofline: bytes moved, transcendental ops, FMAs."""

    bytes: float = 0.0
    sfu: float = 0.0
    fma: float = 0.0

    def roofline_s(self, peaks=GPU_PEAKS) -> float:
        return max(self.bytes / peaks["bw"], self.sfu / peaks["sfu"], self.fma / peaks["fma"])


@dataclass
class Case:
    """A benchmark case made by ``Bench.make``: thunks to time plus their work."""

    fwd: Callable
    bwd: Callable | None = None
    fwd_work: Work | None = None
    bwd_work: Work | None = None
    baselines: dict = field(default_factory=dict)  # name -> thunk, timed side by side


@dataclass
class Bench:
    """``make(xp, dtype, **size) -> Case``; ``sizes`` maps a size label to keyword sizes."""

    name: str
    make: Callable
    sizes: dict  # {"cpu": [dict, ...], "gpu": [dict, ...], "small": [dict, ...]}
    dtype: str = "float32"


def family_modules(modname: str) -> list:
    """Every ``lrnnx_array._ops.<family>.<modname>`` module (imported), in family order."""
    import lrnnx_array._ops as ops_pkg

    infos = pkgutil.walk_packages(ops_pkg.__path__, prefix="lrnnx_array._ops.")
    return [importlib.import_module(i.name) for i in sorted(infos, key=lambda i: i.name)
            if i.name.endswith("." + modname)]


def discover(modname: str, attr: str) -> list:
    """``attr`` (a list) of every family's ``modname`` module, concatenated."""
    return [x for mod in family_modules(modname) for x in getattr(mod, attr, [])]


def all_checks() -> list[Check]:
    return discover("_selfcheck", "CHECKS")


def all_benches() -> list[Bench]:
    return discover("_bench", "BENCHES")


# Model and generation benchmarks live beside the models (not in op families).
_MODEL_BENCH_MODULES = (
    "lrnnx_array.models.lti._bench_s4",
    "lrnnx_array.models.lti._bench_lti",
    "lrnnx_array.models.ltv._bench_ltv",
)
_GENERATE_BENCH_MODULES = ("lrnnx_array.architectures._bench_generate",)


def _benches_of(modules) -> list[Bench]:
    import importlib

    return [b for m in modules for b in importlib.import_module(m).BENCHES]


def model_benches() -> list[Bench]:
    """Forward and step of every model (``bench --models``)."""
    return _benches_of(_MODEL_BENCH_MODULES)


def generate_benches() -> list[Bench]:
    """Tokens per second of ``generate`` (``bench --generate``)."""
    return _benches_of(_GENERATE_BENCH_MODULES)


def dask_benches() -> list[Bench]:
    """The time-blocked Dask scans on a 2-process LocalCluster (``bench --dask``)."""
    return _benches_of(("lrnnx_array.dask._bench",))


def time_call(fn, xp, *, repeat: int = 5, warmup: int = 1, budget_s: float = 5.0) -> float:
    """Median seconds of ``fn()``; CUDA events on CuPy, perf_counter elsewhere."""
    from ._backend import is_cupy

    for _ in range(warmup):
        fn()
    times = []
    if is_cupy(xp):
        import cupy

        for _ in range(repeat):
            start, stop = cupy.cuda.Event(), cupy.cuda.Event()
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(cupy.cuda.get_elapsed_time(start, stop) / 1e3)
    else:
        t_end = time.perf_counter() + budget_s
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
            if time.perf_counter() > t_end:
                break
    return statistics.median(times)


# ---- interleaved measurement (what `bench` reports) ---------------------------------------------
# Every contender of a case (fwd, bwd, each baseline) gets `warmup` calls first (numba compiles,
# caches warm), then rounds run them in turn (A B C A B C ...), so load that comes and goes on a
# shared machine hits all of them alike. Each figure is min / median / max over the rounds; the
# ratios use the minimum (the least-disturbed run). gc is collected before each round.

RATIO_DOC = (
    "fwd_ms/bwd_ms: min over rounds (also _median_ms, _max_ms); X_ms: baseline X the same way; "
    "ratio_vs_X = fwd_ms / X_ms and bwd_ratio_vs_X = bwd_ms / X_ms (mins, one interleaved run; "
    "above 1 is slower than X); what each baseline X is: BASELINE_DOC"
)


# `bench --no-peers` sets this False: no JAX / torch baselines are built (they compile on build).
PEERS = True
# Which peers are built (`bench --table lrnnx` builds torch's only: JAX's compile when built).
PEER_KINDS = ("jax", "torch")

# What each peer baseline is (printed by `bench --table`; names are the bench record's keys).
BASELINE_DOC = {
    "generic": "ours, impl='generic' (the array-API path); fwd is impl='auto' (numba when it "
               "imports)",
    "generic_vjp": "ours, impl='generic', the VJP (forward recomputed inside, as in ours)",
    "floor_*": "one elementwise a*b+b NumPy pass over the state volume (the issue's floor)",
    "jax_lax.scan": "JAX jit of jax.lax.scan of the same recurrence (lrnnx_array._bench_jax)",
    "jax_associative_scan": "JAX jit of jax.lax.associative_scan of the same recurrence",
    "jax_lax.scan_vjp": "JAX jit of jax.vjp of the lax.scan form, forward + backward",
    "torch_lrnnx-ref-alg": "torch CPU, lrnnx's reference algorithm as spec/lrnnx_reference.md "
                           "describes it, transcribed by us (lrnnx_array._bench_torch); not lrnnx",
}


def peers(xp, *, jax=None, torch=None) -> dict:
    """JAX and torch baselines of a scan case on NumPy (empty elsewhere, without the packages,
    or with ``bench --no-peers``).

    ``jax = (scan_fn, assoc_fn, numpy_args, output_cotangent)`` (see ``_bench_jax.baselines``);
    ``torch = (fn, numpy_args)`` with ``fn(torch, *tensors)`` (see ``_bench_torch.baseline``).
    """
    from ._backend import is_numpy

    if not PEERS or not is_numpy(xp):
        return {}
    out = {}
    if jax is not None and "jax" in PEER_KINDS:
        from . import _bench_jax

        out.update(_bench_jax.baselines(*jax))
    if torch is not None and "torch" in PEER_KINDS:
        from . import _bench_torch

        out.update(_bench_torch.baseline(*torch))
    return out


def measure_case(case: Case, xp, *, repeat: int = 5, warmup: int = 1,
                 budget_s: float = 20.0, min_sample_s: float = 0.0) -> dict:
    """Time ``case``'s fwd, bwd and baselines interleaved; returns the bench record's fields.

    ``min_sample_s``: a contender faster than this is called back to back inside a sample (as
    many calls as fill it, from its warm-up time) and the sample divided by the count: the
    steady state of a call repeated in a loop (e.g. a decode step), which a single call after
    the other contenders (a torch call waking its sleeping OpenMP threads) does not show."""
    import gc

    from ._backend import is_cupy

    fns = {"fwd": case.fwd}
    if case.bwd is not None:
        fns["bwd"] = case.bwd
    fns.update(case.baselines)
    times: dict = {k: [] for k in fns}
    reps = dict.fromkeys(fns, 1)
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
        if min_sample_s > 0 and warmup > 0 and not is_cupy(xp):
            # Sized from one more call after the warm-up: a first call builds per-signature
            # plans (decode steps: 200 us vs 129 steady), and a count sized from it left the
            # contender few calls a sample, each paying for the contenders before it.
            t0 = time.perf_counter()
            fn()
            took = time.perf_counter() - t0
            reps[name] = max(1, min(1000, int(min_sample_s / max(took, 1e-7))))
    t_end = time.perf_counter() + budget_s
    order = list(fns.items())
    for r in range(repeat):
        gc.collect()
        # Rotate who runs first after the collection: the first call of a round read 1.1-3.6x
        # slower for sub-ms calls, which biased every ratio against ``fwd``.
        for name, fn in order[r % len(order):] + order[: r % len(order)]:
            if is_cupy(xp):
                times[name].append(time_call(fn, xp, repeat=1, warmup=0))
                continue
            n = reps[name]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            times[name].append((time.perf_counter() - t0) / n)
        if time.perf_counter() > t_end:
            break
    rec = {}
    for name, ts in times.items():
        rec[f"{name}_ms"] = 1e3 * min(ts)
        rec[f"{name}_median_ms"] = 1e3 * statistics.median(ts)
        rec[f"{name}_max_ms"] = 1e3 * max(ts)
    rec["rounds"] = len(times["fwd"])
    for name in case.baselines:
        rec[f"ratio_vs_{name}"] = rec["fwd_ms"] / rec[f"{name}_ms"]
        if "bwd" in fns:
            rec[f"bwd_ratio_vs_{name}"] = rec["bwd_ms"] / rec[f"{name}_ms"]
    return rec


# ---- `bench --table`: the issue-13 comparison, one row per scan case ---------------------------
# (bench name, size): the floor sizes (4096 state rows x L=1024, 16 rows x L=65536) for
# each scan, and lrnnx's benchmark size of the review (B2 D256 L1024 N16) for selective_scan.
TABLE_CASES = (
    ("diag_scan", dict(rows=4096, L=1024)),
    ("diag_scan", dict(rows=16, L=65536)),
    ("selective_scan", dict(Bsz=1, Dm=256, L=1024, N=16)),
    ("selective_scan", dict(Bsz=1, Dm=1, L=65536, N=16)),
    ("selective_scan", dict(Bsz=1, Dm=16, L=65536, N=16)),  # "16 rows" read as 16 channels
    ("selective_scan", dict(Bsz=1, Dm=256, L=1024, N=16, cplx=True)),
    ("selective_scan", dict(Bsz=1, Dm=1, L=65536, N=16, cplx=True)),
    ("selective_scan", dict(Bsz=2, Dm=256, L=1024, N=16, z=True)),
    ("selective_scan", dict(Bsz=2, Dm=256, L=1024, N=16, z=True, cplx=True)),
    ("s5_inner", dict(B=16, H=16, P=256, L=1024, var=True)),
    ("s5_inner", dict(B=1, H=16, P=16, L=65536, var=True)),
    ("rglru_scan", dict(B=16, D=256, L=1024)),
    ("rglru_scan", dict(B=1, D=16, L=65536)),
    ("s7_scan", dict(B=1, H=8, N=16, L=65536)),
    ("s7_scan", dict(B=2, H=64, N=32, L=1024)),
)

# Columns of the table: (heading, numerator key, denominator key or None); ms columns are mins.
TABLE_COLUMNS = (
    ("ours fwd ms", "fwd_ms", None),
    ("generic fwd ms", "generic_ms", None),
    ("floor ms", "floor", None),
    ("JAX scan ms", "jax_lax.scan_ms", None),
    ("JAX assoc ms", "jax_associative_scan_ms", None),
    ("torch ref-alg ms", "torch_lrnnx-ref-alg_ms", None),
    ("fwd/floor", "fwd_ms", "floor"),
    ("fwd/JAX scan", "fwd_ms", "jax_lax.scan_ms"),
    ("fwd/torch", "fwd_ms", "torch_lrnnx-ref-alg_ms"),
    ("ours VJP ms", "bwd_ms", None),
    ("generic VJP ms", "generic_vjp_ms", None),
    ("JAX vjp ms", "jax_lax.scan_vjp_ms", None),
    ("VJP/floor", "bwd_ms", "floor"),
    ("VJP/JAX vjp", "bwd_ms", "jax_lax.scan_vjp_ms"),
)

TABLE_DOC = (
    "ms: min over interleaved rounds in one process. ours = impl='auto' (the numba tier where "
    "numba imports), generic = impl='generic'; floor = one NumPy a*b+b pass over the state "
    "volume; JAX scan / assoc / vjp = jitted jax.lax.scan, jax.lax.associative_scan, and "
    "jax.vjp of the lax.scan form (forward + backward) of the same recurrence; torch ref-alg = "
    "lrnnx's reference algorithm transcribed by us in torch (forward; not lrnnx). Ratios above "
    "1: ours slower. '-': no such baseline (jax/torch not importable, or none for the op)."
)


def table_jobs(benches) -> list:
    """(bench, size) of every TABLE_CASES entry whose bench is among ``benches``."""
    by_name = {b.name: b for b in benches}
    return [(by_name[n], s) for n, s in TABLE_CASES if n in by_name]


def _table_value(rec, key):
    if key == "floor":
        key = next((k for k in rec if k.startswith("floor") and k.endswith("_ms")
                    and not k.endswith(("_median_ms", "_max_ms"))), None)
    return None if key is None else rec.get(key)


def format_table(records, columns=TABLE_COLUMNS) -> str:
    """Markdown table of ``bench --table`` records (one per case): ``columns`` are (heading,
    numerator key, denominator key or None); a missing value reads '-'."""
    head = "| op | size | " + " | ".join(h for h, _, _ in columns) + " |"
    lines = [head, "|" + "---|" * (2 + len(columns))]
    for rec in records:
        size = " ".join(f"{k}{v}" for k, v in rec["size"].items())
        cells = []
        for _, num, den in columns:
            a = _table_value(rec, num)
            b = None if den is None else _table_value(rec, den)
            v = a if den is None else (None if a is None or b is None else a / b)
            cells.append("-" if v is None else f"{v:.3g}")
        lines.append(f"| {rec['op']} {rec['dtype']} | {size} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
