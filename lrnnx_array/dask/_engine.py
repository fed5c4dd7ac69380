"""Time-blocked linear scans on ``dask.array``: the block grid and the block tasks.

Every recurrence here is diagonal in its state: over one time block k,
``h_out = P_k * h_in + S_k`` with ``S_k`` the block's final state from a zero initial state and
``P_k`` the block's total transition (the product of its Ā). Pairs compose associatively,
``(P1, S1) then (P2, S2) = (P2 P1, P2 S1 + S2)``, so a tree over the per-block pairs gives every
block its true initial state. The backward is the same in reverse on the state cotangent:
``lambda_{k-1} = conj(P_k) lambda_k + g_k`` with ``g_k`` the block's ``dh0`` for a zero
``dlast_state``: the VJP is linear in its cotangents, and the cotangent that reaches ``h_in``
through the block's final state is ``conj(P_k) lambda_k`` (PyTorch's complex convention).

The graph is made of ``dask.delayed`` tasks on the chunks of the inputs (``_drive``); nothing is
computed while it is built. The block tasks (``block_task``) make their per-block input chunks
inside them (``_inline``) and run the op in time pieces (``block_forward``), which keeps a
worker's memory near two blocks.
"""

from __future__ import annotations

import functools
import itertools

import dask
import dask.array as da
import numpy as np

from .._ops._shared import threads as _threads
from ._inline import Inliner, block_call

TIME = "t"


def is_dask(x) -> bool:
    return isinstance(x, da.Array)


def delayed(fn, nout=None):
    return dask.delayed(fn, pure=True, nout=nout)


def one_thread(fn):
    """``fn`` run with the ops' NumPy thread pool capped at one worker: Dask already runs one
    task per core, and a pool inside each task would oversubscribe the cores."""
    @functools.wraps(fn)
    def capped(*args, **kwargs):
        with _threads.limit(1):
            return fn(*args, **kwargs)

    return capped


def block_task(task, nout=None):
    """``delayed(task)`` for a block task ``task(op, st, a, *rest)``; the values of the dict
    ``a`` (and of ``rest``) may be Delayed chunks or :class:`~._inline.Inline` ones."""
    def call(op, st, a, *rest):
        return block_call(apply_block, task, op, st, tuple(a), *a.values(), *rest, nout=nout,
                          name=task.__name__.removeprefix("task_"))

    return call


def apply_block(task, op, st, names, *values):
    return task(op, st, dict(zip(names, values[:len(names)])), *values[len(names):])


# -- the block tasks (module level: they travel to worker processes by pickle) -----------------

def _namespace(a):
    from array_api_compat import array_namespace

    return array_namespace(*(v for v in a.values() if hasattr(v, "shape")))


def zeros_state(op, st, a):
    return _namespace(a).zeros(op.state_shape(a), dtype=st["state_dtype"])


def ones_state(op, st, a):
    return _namespace(a).ones(op.state_shape(a), dtype=st["state_dtype"])


# A block's scan runs in pieces of at least SUB_STEPS steps, at most SUB_PIECES of them, the
# state carried between pieces by h0: the op's own output and temporaries then exist for one
# piece at a time (the output written into the block's result in place), so a task holds its
# inputs, its result and about 1/SUB_PIECES of a block more.
SUB_STEPS, SUB_PIECES = 1 << 12, 8


def _time_axis(op, name, x):
    labels = op.labels(name, x.ndim)
    return labels.index(TIME) if TIME in labels else None


def _steps(op, a):
    sizes = [int(x.shape[ax]) for n, x in a.items() if hasattr(x, "shape")
             and (ax := _time_axis(op, n, x)) is not None]
    return max(sizes, default=0)


def _piece(op, a, lo, hi, steps):
    """The block's arguments cut to time steps lo:hi (broadcast-in-time ones kept whole)."""
    out = {}
    for n, x in a.items():
        ax = _time_axis(op, n, x) if hasattr(x, "shape") else None
        if ax is not None and int(x.shape[ax]) == steps:
            x = x[(slice(None),) * ax + (slice(lo, hi),)]
        out[n] = x
    return out


def block_forward(op, st, a, h0, want_out, want_last=True):
    """(out or None, final state or None) of one block from ``h0``, run piecewise (see
    SUB_STEPS)."""
    steps = _steps(op, a)
    n = min(SUB_PIECES, steps // SUB_STEPS) if op.piecewise else 1
    if n <= 1:
        return op.forward(a, h0, st, out=want_out, last=want_last)
    bounds = [steps * i // n for i in range(n + 1)]
    pieces = range(n - 1, -1, -1) if op.reverse else range(n)
    out, h = None, h0
    for i in pieces:
        o, h = op.forward(_piece(op, a, bounds[i], bounds[i + 1], steps), h, st,
                          out=want_out, last=want_last or i != pieces[-1])
        if want_out:
            ax = op.labels("dout", o.ndim).index(TIME)
            if out is None:
                shape = tuple(steps if d == ax else int(s) for d, s in enumerate(o.shape))
                out = _namespace(a).empty(shape, dtype=o.dtype)
            out[(slice(None),) * ax + (slice(bounds[i], bounds[i + 1]),)] = o
        del o
    return out, h


@one_thread
def task_summary(op, st, a):
    """(P, S) of one time block: its total transition and its final state from zero."""
    return op.transition(a, st), block_forward(op, st, a, None, False)[1]


def task_combine(e1, e2):
    """e1 (earlier) then e2: (P2 P1, P2 S1 + S2). P None: the element forgets what came before
    (the element that carries h0 or dlast_state)."""
    p1, s1 = e1
    p2, s2 = e2
    p = None if (p1 is None or p2 is None) else _array(p2 * p1)
    return p, (s2 if s1 is None else _array(p2 * s1 if s2 is None else p2 * s1 + s2))


def _array(x):
    # NumPy arithmetic on 0-d arrays (the state of a 1-D diag_scan) gives scalars; ops want arrays
    return np.asarray(x) if isinstance(x, np.generic) else x


def state_of(e):
    return None if e is None else e[1]


def task_start(s):
    """The element that carries a given state (h0, or dlast_state in the backward)."""
    return None, s


@one_thread
def task_rerun(op, st, a, e):
    """A block rerun from its true initial state (the state of prefix element ``e``)."""
    return block_forward(op, st, a, state_of(e), True, want_last=False)[0]


@one_thread
def task_chain(op, st, a, h0, want_out):
    """A block run from the previous block's final state: (out or None, final state)."""
    return block_forward(op, st, a, h0, want_out)


def task_backward_element(summary, g):
    """(conj(P_k), g_k): maps the block's final-state cotangent to its h0 cotangent."""
    p = summary[0]
    if p is not None and "complex" in str(p.dtype):
        p = p.conj()
    return p, g


@one_thread
def task_dh0_zero_dlast(op, st, a, dout):
    """g_k: the block's dh0 for a zero final-state cotangent (any h0 gives it: h is linear in
    h0, so its cotangent does not depend on h0's value)."""
    return op.vjp(dout, a, zeros_state(op, st, a), None, st)["h0"]


@one_thread
def task_vjp(op, st, a, dout, h0, dlast, need_dh0):
    """The block's full VJP from its initial state ``h0`` with final-state cotangent ``dlast``
    (states passed raw or as prefix elements)."""
    h0 = state_of(h0) if isinstance(h0, tuple) else h0
    dlast = state_of(dlast) if isinstance(dlast, tuple) else dlast
    if h0 is None and need_dh0:
        h0 = zeros_state(op, st, a)
    return op.vjp(dout, a, h0, dlast, st)


def task_field(g, name):
    return g[name]


def task_sum_field(name, *gs):
    total = gs[0][name]
    for g in gs[1:]:
        total = total + g[name]
    return total


# -- the prefix tree over blocks ------------------------------------------------------------

def inclusive_scan(elems, combine):
    """Inclusive prefix of ``elems`` under an associative ``combine`` (delayed values).

    Work-efficient (under 2n combines) with depth about 2 log2 n: adjacent pairs are combined,
    the pairs scanned recursively, and the even prefixes filled in.
    """
    n = len(elems)
    if n <= 1:
        return list(elems)
    pairs = [combine(elems[2 * i], elems[2 * i + 1]) for i in range(n // 2)]
    sub = inclusive_scan(pairs, combine)
    out = [elems[0]]
    for k in range(1, n):
        out.append(sub[k // 2] if k % 2 else combine(sub[k // 2 - 1], elems[k]))
    return out


# -- the problem: arrays on a common block grid -----------------------------------------------

def grid_sizes(op, arrays):
    """{grid label: size} over the array arguments; a size other than that or 1 raises."""
    grid_axes = set(op.grid_labels) | {TIME}
    sizes, seen = {}, {}
    for n, x in arrays.items():
        if x is None or not hasattr(x, "shape"):
            continue
        for lab, size in zip(op.labels(n, x.ndim), x.shape):
            if lab in grid_axes and int(size) != 1:
                if sizes.get(lab, 1) not in (1, int(size)):
                    what = "time" if lab == TIME else f"{lab!r}"
                    raise ValueError(
                        f"{op.name}: {n} has length {int(size)} along the {what} axis, but "
                        f"{seen[lab]} has {sizes[lab]}")
                sizes[lab], seen[lab] = int(size), n
        for lab in op.labels(n, x.ndim):
            if lab in grid_axes:
                sizes.setdefault(lab, 1)
    return sizes


class Grid:
    """The arguments of one call laid out on a (cells x time blocks) grid of chunks.

    ``op.labels(name, ndim)`` names each axis of an argument. Labels in ``op.grid_labels`` and
    the time label ``"t"`` are grid axes: an argument of full size there is chunked like the
    reference input (``primary``, else the first Dask argument with that axis); one of size 1
    is broadcast: its single chunk serves every grid block, and its gradient is the sum over
    them. Other axes are one chunk each.
    """

    def __init__(self, op, arrays, primary):
        self.op = op
        self.inliner = Inliner()
        self.labels, self.arrays, self.blocks = {}, {}, {}
        sizes, chunks = grid_sizes(op, arrays), {}
        order = [primary] + [n for n in arrays if n != primary]
        for n in order:
            x = arrays[n]
            if x is None or not is_dask(x):
                continue
            for ax, (lab, size) in enumerate(zip(op.labels(n, x.ndim), x.shape)):
                if lab in sizes and lab not in chunks and size == sizes[lab]:
                    chunks[lab] = tuple(int(c) for c in x.chunks[ax])
        for lab, size in sizes.items():
            chunks.setdefault(lab, (size,))
        self.sizes, self.chunks = sizes, chunks
        self.cell_labels = [lab for lab in op.grid_labels if lab in sizes]
        self.nblocks = len(chunks.get(TIME, (0,)))
        for n, x in arrays.items():
            self.add(n, x)

    def add(self, name, x):
        """Put ``x`` on the grid (rechunked to it) under ``name``."""
        if x is None:
            self.arrays[name] = None
            return
        x = x if is_dask(x) else da.asarray(x)
        labels = self.labels[name] = self.op.labels(name, x.ndim)
        target = tuple(self.chunks[lab] if lab in self.sizes and size == self.sizes[lab]
                       else (int(size),) for lab, size in zip(labels, x.shape))
        if tuple(x.chunks) != target:
            x = x.rechunk(target)
        self.arrays[name] = x
        self.blocks[name] = x.to_delayed(optimize_graph=False)

    def cells(self):
        """Every cell of the non-time grid axes, as {label: chunk index}."""
        ranges = [range(len(self.chunks[lab])) for lab in self.cell_labels]
        for idx in itertools.product(*ranges):
            yield dict(zip(self.cell_labels, idx))

    def chunk_index(self, labels, numblocks, cell, k):
        """The chunk of an array with axes ``labels`` that grid block (cell, k) reads."""
        return tuple(0 if nb == 1 else (k if lab == TIME else cell[lab])
                     for lab, nb in zip(labels, numblocks))

    def block_args(self, cell, k, names=None):
        """{name: delayed chunk} for one grid block (None stays None)."""
        out = {}
        for n in (self.arrays if names is None else names):
            x = self.arrays[n]
            out[n] = None if x is None else self.blocks[n][
                self.chunk_index(self.labels[n], x.numblocks, cell, k)]
        return out

    def per_block(self, name):
        """Whether ``name`` has a chunk per grid block (not one chunk broadcast to all)."""
        x = self.arrays[name]
        return x is not None and any(
            nb > 1 and (lab == TIME or lab in self.cell_labels)
            for lab, nb in zip(self.labels[name], x.numblocks))

    def inline_args(self, cell, k, names):
        """``block_args`` with every per-block chunk made inside the task that reads it
        (``_inline``); a chunk broadcast to every block is computed once, as a shared graph
        key (small data goes inside the tasks)."""
        out = self.block_args(cell, k, names)
        for n, blk in out.items():
            if blk is not None:
                out[n] = self.inliner.inline(blk, compute=self.per_block(n))
        return out

    def result_chunks(self, labels, like_shape, with_time=True):
        """Chunks of a result with axes ``labels`` (non-grid sizes from ``like_shape``)."""
        return tuple(self.chunks[lab] if (lab in self.cell_labels or
                                          (lab == TIME and with_time)) and lab in self.sizes
                     else (int(size),) for lab, size in zip(labels, like_shape))


def from_pieces(chunks, pieces, dtype, meta):
    """A dask array from delayed chunks ``pieces[chunk index]`` with the given ``chunks``."""
    def build(depth, idx):
        if depth == len(chunks):
            shape = tuple(chunks[ax][i] for ax, i in enumerate(idx))
            return da.from_delayed(pieces[idx], shape, dtype=dtype, meta=meta)
        return [build(depth + 1, idx + (i,)) for i in range(len(chunks[depth]))]

    if not chunks:
        return da.from_delayed(pieces[()], (), dtype=dtype, meta=meta)
    return da.block(build(0, ()))


def sum_to(x, shape):
    """Sum a dask array down to ``shape`` (broadcast axes, prepended axes), then reshape."""
    shape = tuple(shape)
    if tuple(x.shape) == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
    if axes:
        x = x.sum(axis=axes, keepdims=True)
    return x.reshape(shape)
