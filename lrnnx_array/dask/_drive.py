"""The forward and VJP drivers of the time-blocked scans (graph building only).

``method="rerun"``: every block's (P, S) summary, a tree over them for every block's true
initial state, then every block rerun from it in parallel. ``method="sequential"``: each block
starts from the previous block's final state (parallel over the non-time grid cells only).
The VJP mirrors it in reverse on the final-state cotangent (see ``_engine``).

Every block task makes its per-block input chunks inside it (``_inline``) and runs the op in
time pieces (``_engine.block_forward``): a worker holds the running block's inputs and result,
not chunks made ahead of the scans, so its peak memory stays near two blocks.
"""

from __future__ import annotations

from collections import defaultdict

import dask.array as da

from .._dispatch import check_flag
from ._engine import (
    TIME,
    Grid,
    block_task,
    delayed,
    from_pieces,
    grid_sizes,
    inclusive_scan,
    is_dask,
    state_of,
    sum_to,
    task_backward_element,
    task_chain,
    task_combine,
    task_dh0_zero_dlast,
    task_field,
    task_rerun,
    task_start,
    task_sum_field,
    task_summary,
    task_vjp,
)

METHODS = ("rerun", "sequential")


def check_method(method):
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _meta(like):
    from array_api_compat import array_namespace

    return array_namespace(like).empty((0,) * like.ndim, dtype=like.dtype)


def _stand_in(op, name, x, sizes):
    """A small array that stands for ``x`` in the validating call: grid axes of full length cut
    to 2 and broadcast ones kept at 1, so the op still sees which is which (a NumPy/CuPy
    argument keeps its values, for the op's parameter checks)."""
    if x is None or not (hasattr(x, "shape") and hasattr(x, "dtype")):
        return x
    labels = op.labels(name, x.ndim)
    shape = tuple(min(int(s), 2) if lab in sizes else int(s)
                  for lab, s in zip(labels, x.shape))
    if is_dask(x):
        from array_api_compat import array_namespace

        return array_namespace(x._meta).ones(shape, dtype=x.dtype)
    return x[tuple(slice(0, n) for n in shape)]


def _setup(op, arrays, h0, kw, cotangents=None):
    """Validate by one call of the public op on stand-ins; lay the arrays on the grid."""
    if not any(is_dask(x) for x in (*arrays.values(), h0, *(cotangents or {}).values())):
        raise TypeError(
            f"lrnnx_array.dask.{op.name} needs at least one Dask array argument; for NumPy or "
            f"CuPy arrays call lrnnx_array.ops.{op.name}"
        )
    cot = cotangents or {}
    sizes = grid_sizes(op, {**arrays, **({"dout": cot["dout"]} if cot else {})})
    stand = {n: _stand_in(op, n, x, sizes) for n, x in arrays.items()}
    stand_h0 = _stand_in(op, "h0", h0, sizes)
    out_like, last_like = op.forward(stand, stand_h0, {"kw": kw})
    g_like = None
    if cotangents is not None:
        g_like = op.vjp(_stand_in(op, "dout", cot["dout"], sizes), stand, stand_h0,
                        _stand_in(op, "dlast", cot["dlast"], sizes), {"kw": kw})
    grid = Grid(op, {**arrays, **({"dout": cotangents["dout"]} if cotangents else {})},
                op.primary)
    labels = op.labels("h0", last_like.ndim)
    state_shape = tuple(grid.sizes[lab] if lab in grid.cell_labels else int(s)
                        for lab, s in zip(labels, last_like.shape))
    for name, x in (("h0", h0), ("dlast", (cotangents or {}).get("dlast"))):
        if x is not None:
            x = x if is_dask(x) else da.asarray(x)
            grid.add(name, da.broadcast_to(x, state_shape).astype(last_like.dtype))
    # The parameters that are NumPy/CuPy were value-checked by the stand-in call; Dask ones
    # (no time axis) are checked again inside each block.
    block_check = bool(kw["check_finite"]) and any(
        is_dask(x) and TIME not in op.labels(n, x.ndim)
        for n, x in arrays.items() if x is not None)
    st = {"kw": {**kw, "check_finite": block_check}, "state_dtype": last_like.dtype}
    order = list(range(grid.nblocks))
    if op.reverse:
        order.reverse()
    return grid, st, order, out_like, last_like, g_like, state_shape


def _cell_key(grid, cell):
    return tuple(cell[lab] for lab in grid.cell_labels)


def _forward_states(op, st, grid, a, order, h, method):
    """Per block (by time index) the state it starts from: a prefix element or a raw state."""
    if method == "sequential":
        starts = {}
        for k in order:
            starts[k] = h
            if k != order[-1]:
                h = block_task(task_chain, nout=2)(op, st, a[k], h, False)[1]
        return starts, None
    summaries = {k: block_task(task_summary)(op, st, a[k]) for k in order}
    seq = ([delayed(task_start)(h)] if h is not None else []) + [summaries[k] for k in order]
    incl = inclusive_scan(seq, delayed(task_combine))
    off = 0 if h is not None else -1
    starts = {k: (incl[j + off] if j + off >= 0 else None) for j, k in enumerate(order)}
    starts["final"] = incl[-1]
    return starts, summaries


def forward(op, arrays, h0, kw, *, return_last_state, method):
    """The lazy forward: ``out`` (and the final state) as Dask arrays."""
    check_method(method)
    check_flag("return_last_state", return_last_state)
    grid, st, order, out_like, last_like, _, _ = _setup(op, arrays, h0, kw)
    names = list(arrays)
    out_labels = op.labels("dout", out_like.ndim)
    state_labels = op.labels("h0", last_like.ndim)
    outs, lasts = {}, {}
    for cell in grid.cells():
        key = _cell_key(grid, cell)
        a = {k: grid.inline_args(cell, k, names) for k in order}
        h = grid.block_args(cell, 0, ["h0"])["h0"] if h0 is not None else None
        if method == "sequential":
            for k in order:
                o, h = block_task(task_chain, nout=2)(op, st, a[k], h, True)
                outs[grid.chunk_index(out_labels, _nb(grid, out_labels), cell, k)] = o
            lasts[key] = h
        else:
            starts, _ = _forward_states(op, st, grid, a, order, h, method)
            for k in order:
                outs[grid.chunk_index(out_labels, _nb(grid, out_labels), cell, k)] = block_task(
                    task_rerun)(op, st, a[k], starts[k])
            lasts[key] = delayed(state_of)(starts["final"])
    out = from_pieces(grid.result_chunks(out_labels, out_like.shape), outs, out_like.dtype,
                      _meta(out_like))
    if not return_last_state:
        return out
    state_chunks = grid.result_chunks(state_labels, last_like.shape)
    pieces = {grid.chunk_index(state_labels, _nb(grid, state_labels), c, 0):
              lasts[_cell_key(grid, c)] for c in grid.cells()}
    return out, from_pieces(state_chunks, pieces, last_like.dtype, _meta(last_like))


def _nb(grid, labels):
    """Block counts of a result laid out on the grid with axes ``labels``."""
    return tuple(len(grid.chunks[lab]) if (lab in grid.cell_labels or lab == TIME)
                 and lab in grid.chunks else 1 for lab in labels)


def vjp(op, dout, arrays, h0, dlast, kw, *, method):
    """The lazy VJP: {argument name: gradient as a Dask array or None}, ``"h0"`` included."""
    check_method(method)
    grid, st, order, _, last_like, g_like, _ = _setup(
        op, arrays, h0, kw, {"dout": dout, "dlast": dlast})
    names = list(arrays)
    state_labels = op.labels("h0", last_like.ndim)
    gs, cells = {}, {}
    for cell in grid.cells():
        key = _cell_key(grid, cell)
        cells[key] = cell
        a = {k: grid.inline_args(cell, k, names) for k in order}
        d = {k: grid.inline_args(cell, k, ["dout"])["dout"] for k in order}
        h = grid.block_args(cell, 0, ["h0"])["h0"] if h0 is not None else None
        lam = grid.block_args(cell, 0, ["dlast"])["dlast"] if dlast is not None else None
        starts, summaries = _forward_states(op, st, grid, a, order, h, method)
        first = order[0] if order else None
        rev = order[::-1]
        if method == "sequential":
            for k in rev:
                g = block_task(task_vjp)(op, st, a[k], d[k], starts[k], lam,
                                      k != first or h is not None)
                gs[(key, k)] = g
                lam = delayed(task_field)(g, "h0")
            continue
        # Reverse tree on the final-state cotangents: element k maps lambda_k to dh0_k.
        belems = [delayed(task_backward_element)(
            summaries[k], block_task(task_dh0_zero_dlast)(op, st, a[k], d[k])) for k in rev[:-1]]
        seq = ([delayed(task_start)(lam)] if lam is not None else []) + belems
        incl = inclusive_scan(seq, delayed(task_combine))
        off = 0 if lam is not None else -1
        for j, k in enumerate(rev):
            eb = incl[j + off] if j + off >= 0 else None
            gs[(key, k)] = block_task(task_vjp)(op, st, a[k], d[k], starts[k], eb,
                                             k != first or h is not None)
    grads = {}
    for n in names:
        x = grid.arrays[n]
        if x is None or g_like.get(n) is None:
            grads[n] = None
            continue
        groups = defaultdict(list)
        for (key, k), g in gs.items():
            groups[grid.chunk_index(grid.labels[n], x.numblocks, cells[key], k)].append(g)
        pieces = {idx: (delayed(task_field)(gl[0], n) if len(gl) == 1
                        else delayed(task_sum_field)(n, *gl)) for idx, gl in groups.items()}
        grads[n] = from_pieces(x.chunks, pieces, g_like[n].dtype, _meta(g_like[n]))
    grads["h0"] = None
    if h0 is not None and order:
        x = grid.arrays["h0"]
        pieces = {grid.chunk_index(state_labels, x.numblocks, c, 0):
                  delayed(task_field)(gs[(key, order[0])], "h0") for key, c in cells.items()}
        dh0 = from_pieces(x.chunks, pieces, g_like["h0"].dtype, _meta(g_like["h0"]))
        grads["h0"] = sum_to(dh0, tuple(h0.shape))
    return grads
