"""``bench --table lrnnx``: each op's forward vs lrnnx's torch CPU algorithm, at lrnnx's sizes.

Issue 13's third target: every op at least 2x faster than lrnnx's torch CPU reference forward
at lrnnx's benchmark sizes, i.e. ours/torch <= 0.5. The sizes are the CPU review's
(reviews/2026-12-01-cpu-performance.md §1): lrnnx's ``benchmarks/run_all.py`` configurations
(Mamba d_inner 256, S5/LRU d_model 128, d_state 16, batch 32 for the decode steps) and its Cauchy
benchmark, scaled down as the review scaled them. The torch peer is the reference algorithm of
spec/lrnnx_reference.md transcribed by us (``_bench_torch``): what lrnnx runs on a CPU without
its CUDA extension, not lrnnx itself. Only the forward is timed (the target's measure), beside
ours with ``impl="generic"`` where the bench has it; no JAX peers are built here.
"""

from __future__ import annotations

import dataclasses

from . import _harness

# (bench name, size): the review's forward rows.
LRNNX_CASES = (
    *(("selective_scan", dict(Bsz=2, Dm=256, L=1024, N=16, z=True, method=m, cplx=c))
      for c in (False, True) for m in ("mamba", "zoh", "bilinear")),
    ("selective_scan", dict(Bsz=2, Dm=128, L=4096, N=16, z=True)),
    ("rglru_scan", dict(B=2, D=256, L=1024)),
    ("rglru_scan", dict(B=2, D=256, L=4096)),
    ("s7_scan", dict(B=2, H=128, N=16, L=1024)),
    *(("s5_inner", dict(B=4, H=128, P=16, L=2048, disc=d, var=v))
      for v in (True, False) for d in ("zoh", "bilinear")),
    ("s5_inner", dict(B=2, H=64, P=64, L=1024, var=True)),
    ("s5_inner", dict(B=2, H=64, P=64, L=4096)),
    ("selective_state_update", dict(B=32, D=256, N=16)),
    ("selective_state_update", dict(B=32, D=256, N=16, method="zoh")),
    ("simplified_state_update", dict(B=32, H=128, P=16)),
    ("simplified_state_update", dict(B=32, H=128, P=16, method="bilinear")),
    ("cauchy", dict(batch=128, N2=32, L=4096)),
    ("log_vandermonde", dict(H=256, N2=32, L=4096)),
    ("s4d_kernel", dict(H=256, N2=32, L=4096)),
    ("s4d_kernel", dict(H=256, N2=32, L=4096, disc="bilinear")),
    ("dplr_kernel", dict(H=128, N2=32, L=2048)),
)

TORCH = "torch_lrnnx-ref-alg"
# Calls under this many seconds are repeated back to back inside a sample (as the CPU review
# timed them): a decode step's steady state in a loop, for ours and the torch peer alike.
MIN_SAMPLE_S = 0.005
COLUMNS = (("ours fwd ms", "fwd_ms", None), ("generic fwd ms", "generic_ms", None),
           ("torch ref-alg ms", f"{TORCH}_ms", None), ("ours/torch", "fwd_ms", f"{TORCH}_ms"),
           ("generic/torch", "generic_ms", f"{TORCH}_ms"))

DOC = ("ms: min over interleaved rounds in one process, forward only; calls under 5 ms are "
       "repeated back to back inside a sample (their steady state in a loop). ours = "
       "impl='auto' (the numba tier where numba imports), generic = impl='generic'; torch "
       "ref-alg = lrnnx's reference algorithm (spec/lrnnx_reference.md) transcribed by us in "
       "torch, on torch's CPU threads set to ours (not lrnnx itself). Issue 13's target: "
       "ours/torch <= 0.5.")


def jobs(benches) -> list:
    """(bench, size) of every LRNNX_CASES entry whose bench is among ``benches``."""
    by_name = {b.name: b for b in benches}
    return [(by_name[n], s) for n, s in LRNNX_CASES if n in by_name]


def forward_only(case):
    """``case`` with its forward, the torch peer and ours generic only (no VJP, no others)."""
    keep = {k: v for k, v in case.baselines.items() if k in (TORCH, "generic")}
    return dataclasses.replace(case, bwd=None, baselines=keep)


def format_table(records) -> str:
    """Markdown table of ``bench --table lrnnx`` records."""
    return _harness.format_table(records, COLUMNS)
