"""CPU-time companion of ``bench --models`` for the LTV cases (a loaded shared machine).

``python -m lrnnx_array.models.ltv._cpu_time [forward|step] [ROUNDS]`` runs the same cases and
baselines as ``bench --models --ops "<model> forward"`` (``_bench_ltv.BENCHES``, cpu sizes,
float32, NumPy), interleaved and with the order rotated per round as the harness does, but times
each contender with ``time.process_time`` (the CPU seconds of every thread of this process)
instead of the wall clock, and prints the minimum over the rounds and model / sum of ops. On the
shared 2-core machine, with other developers' jobs at load 5-11, wall-clock minima of the same
case moved by 1.2-1.5x from run to run (the process waits for a core, and numba's two threads
are not always both scheduled); CPU time does not count the waiting. It counts both threads of
a parallel kernel, so it is a ratio yardstick, not a latency.
"""

from __future__ import annotations

import gc
import sys
import time


def measure(which: str = "forward", rounds: int = 7, size: str = "cpu") -> list[dict]:
    """{bench, size, contender -> ms (min over rounds)} per case of the LTV ``which`` benches."""
    import array_api_compat.numpy as xnp

    from ._bench_ltv import BENCHES

    out = []
    for bench in BENCHES:
        if not bench.name.endswith(which):
            continue
        for sz in bench.sizes[size]:
            case = bench.make(xnp, bench.dtype, **sz)
            fns = {"model": case.fwd, **case.baselines}
            for fn in fns.values():  # warm-up (numba compiles, caches)
                fn()
                fn()
            calls = 3 if sz.get("B", 1) <= 4 and which == "forward" else 1
            times: dict = {k: [] for k in fns}
            items = list(fns.items())
            for r in range(rounds):
                gc.collect()
                for name, fn in items[r % len(items):] + items[:r % len(items)]:
                    t0 = time.process_time()
                    for _ in range(calls):
                        fn()
                    times[name].append((time.process_time() - t0) / calls * 1e3)
            rec = {"bench": bench.name, "size": sz, **{k: min(v) for k, v in times.items()}}
            rec["model / sum of ops"] = rec["model"] / rec["sum of ops"]
            out.append(rec)
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    which = argv[0] if argv else "forward"
    if which not in ("forward", "step"):
        print("usage: python -m lrnnx_array.models.ltv._cpu_time [forward|step] [ROUNDS]")
        return 2
    rounds = int(argv[1]) if len(argv) > 1 else 7
    for rec in measure(which, rounds):
        cols = "  ".join(f"{k}={v:.3g}" for k, v in rec.items() if k not in ("bench", "size"))
        print(f"{rec['bench']:15s} {rec['size']}  CPU ms: {cols}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
