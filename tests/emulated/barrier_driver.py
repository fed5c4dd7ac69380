"""Child process of tests/emulated/test_emulated_tier.py: launches kernels/missing_barrier.cu
through cuemu's fake ``cupy`` and prints, for each variant, whether its result was right.

Run as ``python -B barrier_driver.py`` with the fake ``cupy`` first on PYTHONPATH.
"""

import sys

sys.dont_write_bytecode = True

from pathlib import Path  # noqa: E402

import cupy  # noqa: E402
import numpy as np  # noqa: E402

assert getattr(cupy, "_FAKE", False), "the real CuPy was imported"
code = (Path(__file__).resolve().parent / "kernels" / "missing_barrier.cu").read_text()
exprs = ["rotate_by_one_warp<true>", "rotate_by_one_warp<false>"]
mod = cupy.RawModule(code=code, name_expressions=exprs)
if len(sys.argv) > 1:  # "true" or "false": launch that variant only (to attribute a TSan report)
    exprs = [f"rotate_by_one_warp<{sys.argv[1]}>"]
x_host = np.arange(128, dtype=np.float32)
want = np.roll(x_host, -32)
for expr in exprs:
    x = cupy.asarray(x_host)
    y = cupy.empty(128, dtype=cupy.float32)
    try:
        mod.get_function(expr)((1,), (128,), (x, y, np.int32(128)))
        ok = bool(np.array_equal(y.get(), want))
        print(f"{expr}: {'right' if ok else 'WRONG'}", flush=True)
    except Exception as exc:  # a cuemu report (CuemuError) is a detection too
        print(f"{expr}: ERROR {type(exc).__name__}: {str(exc)[:300]}", flush=True)
