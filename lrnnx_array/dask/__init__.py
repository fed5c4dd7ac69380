"""lrnnx_array on ``dask.array``: long sequences split along time, batches split across workers.

Importing :mod:`lrnnx_array` does not import this package (nor dask); ``import
lrnnx_array.dask`` needs ``pip install "lrnnx_array[dask]"``.

Long sequences (:func:`diag_scan`, :func:`selective_scan`, :func:`simplified_scan`,
:func:`s5_inner`, :func:`rglru_scan`, :func:`s7_scan` and their ``*_vjp``): the names,
arguments and results of :mod:`lrnnx_array.ops`, plus ``method=``. The blocks are the chunks of
the inputs along time and batch (rglru_scan: channel too; diag_scan: every leading axis); other
arguments are rechunked to them. Every op here is diagonal in its state, so a time block k maps
its initial state by ``h_out = P_k * h_in + S_k`` (``P_k``: the block's product of Ā; ``S_k``:
its final state from zero):

* ``method="rerun"`` (default): each block's (P, S) summary, an associative tree over the
  summaries (depth ~2 log2(blocks)) for each block's true initial state, then every block rerun
  from it (``h0=``) in parallel. About 2x the scan work where P has a closed form
  (diag_scan; exp(A Σ Δᴬ) for the mamba, zoh and dirac discretizations), 3x where P is read
  off the op by a zero-input run (bilinear, s7, rglru); only state-sized data crosses blocks.
* ``method="sequential"``: block k starts from block k-1's final state. 1x the work; parallel
  over batch / channel blocks only.

The VJPs carry the final-state cotangent in reverse the same way (``dlast_state=``), so the
chunked gradients equal the unchunked ones.

LTI models over long sequences: :func:`long_forward` runs LRU, S5 and Centaurus by their
diagonal step form time-blocked (projections per chunk, the modes by the time-blocked
diag_scan), and S4 / S4D by their convolution forward per block from the block's initial state
(``state=``): chained (``sequential``), or (``rerun``) every block from zero for its final state,
a tree over (Ā^L, final state), every block rerun from its true state.

Memory: every block task makes its own per-block input chunks inside it (their private tasks
fused into it) and runs the op in time pieces, so a worker holds about two blocks (the running
block's input and result) plus results waiting for their consumer, never chunks made ahead of
the scans. With ``sequential``, how many results wait is Dask's order's choice (it does not see
sizes and may run a whole chain before the results' reduction: most of the blocks, measured on
one worker); ``rerun`` keeps the worker near three blocks. With ``rerun`` a computed input is
made twice (summary, rerun); a persisted one is read twice.

Batches: :func:`map_batches` runs a model (or any callable) per batch chunk, the model as one
graph key; :func:`cap_numpy_threads` keeps the ops' NumPy thread pool at one thread inside
workers (Dask already runs one task per core).

Chunk sizes: a block should carry enough work to amortise the scheduler, measured about 0.16 ms
per task with the threaded scheduler and 1.8 ms with 2 processes (distributed) on a loaded
2-core machine (``bench --dask``): for a diag_scan at ~1-3 ns per element that is >= 1e5
elements per block with threads and >= 1e6 with processes.
"""

from ._batches import cap_numpy_threads, map_batches
from ._lti import long_forward
from ._scans import (
    diag_scan,
    diag_scan_vjp,
    rglru_scan,
    rglru_scan_vjp,
    s5_inner,
    s5_inner_vjp,
    s7_scan,
    s7_scan_vjp,
    selective_scan,
    selective_scan_vjp,
    simplified_scan,
    simplified_scan_vjp,
)

__all__ = [
    "diag_scan", "diag_scan_vjp", "selective_scan", "selective_scan_vjp", "rglru_scan",
    "rglru_scan_vjp", "s7_scan", "s7_scan_vjp", "simplified_scan", "simplified_scan_vjp",
    "s5_inner", "s5_inner_vjp", "map_batches", "cap_numpy_threads", "long_forward",
]


def route(name, args, kwargs):
    """Where ``lrnnx_array.ops.<name>`` sends a call that holds a Dask array (the dispatch's
    hook): the time-blocked op of this package, or a ``TypeError`` for an op without one."""
    fn = globals().get(name) if name in _ROUTED else None
    if fn is None:
        raise TypeError(
            f"lrnnx_array.ops.{name} does not run on Dask arrays; lrnnx_array.dask runs "
            f"{', '.join(sorted(_ROUTED))} (and map_batches for models); compute the array "
            f"first (x.compute()) or call the op per chunk (dask.array.map_blocks)")
    return fn(*args, **kwargs)


_ROUTED = frozenset(n for n in __all__
                    if n not in ("map_batches", "cap_numpy_threads", "long_forward"))
