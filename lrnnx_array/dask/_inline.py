"""Block tasks that make their own input chunks: peak worker memory near two blocks.

An input chunk that Dask computes (generated, loaded from disk, or derived from such) is a task
of its own, and the scheduler is free to run many of them before the scans that consume them:
a worker's memory then fills with chunks waiting for a serial chain (``sequential``) or held
from a block's summary to its rerun (``rerun``). Here a block task carries the computation of
its chunks *inside* it (the chunk's private tasks, fused; see :func:`inline`): the chunk exists
only while the block task runs, which then holds its inputs, its result and about one piece of
the op's temporaries (``_engine.block_forward``).

What is inlined: the tasks that only this chunk needs. Tasks shared with other chunks (a
rechunk's source chunks, a reduction over the whole array) and data (a persisted array, a NumPy
array put in the graph) stay ordinary graph keys, computed once and read by reference.

``rerun`` reads each input twice (summary, then rerun): each task makes its own copy, so the
chunk's computation (or its I/O) runs twice, and nothing is held between the two passes.
"""

from __future__ import annotations

import dask
from dask._task_spec import DataNode, GraphNode, Task, TaskRef
from dask.base import tokenize
from dask.core import reverse_dict
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

SMALL_DATA = 1 << 16  # bytes


def _is_computed(node):
    return isinstance(node, GraphNode) and not isinstance(node, DataNode)


class Inline:
    """A chunk made inside the task that reads it: the fused private tasks (or its value), the
    graph of the keys they read (None: none), and the chunk's own key (for tokens)."""

    __slots__ = ("node", "graph", "key")

    def __init__(self, node, graph, key):
        self.node, self.graph, self.key = node, graph, key


class Inliner:
    """Inline copies of the chunks of Dask arrays (one graph walk per array)."""

    def __init__(self):
        self._graphs = {}

    def _graph(self, blk):
        name = blk.key[0] if isinstance(blk.key, tuple) else blk.key
        if name not in self._graphs:
            dsk = dict(blk.dask)
            deps = {k: (v.dependencies if isinstance(v, GraphNode) else frozenset())
                    for k, v in dsk.items()}
            self._graphs[name] = dsk, reverse_dict(deps)
        return self._graphs[name]

    def inline(self, blk, compute=True):
        """``blk`` (a Delayed chunk of a Dask array) as an :class:`Inline`: its private tasks
        (``compute``) or its value (small data); else ``blk`` itself."""
        dsk, dependents = self._graph(blk)
        node = dsk.get(blk.key)
        if not _is_computed(node):
            # small data (a parameter put in the graph) travels inside the task: a task that
            # reads a data key is placed on the worker that holds it, which would pin every
            # first block (every chain of ``sequential``) to one worker
            value = node.value if isinstance(node, DataNode) else node
            small = int(getattr(value, "nbytes", SMALL_DATA)) < SMALL_DATA
            return Inline(DataNode(None, value), None, blk.key) if small else blk
        if not compute:
            return blk
        private, stack, waiting = {blk.key}, list(dsk[blk.key].dependencies), set()
        while stack:  # a task is private when everything that reads it is private
            k = stack.pop()
            if k in private or not _is_computed(dsk.get(k)):
                continue
            if dependents[k] <= private:
                private.add(k)
                stack.extend(dsk[k].dependencies)
                stack.extend(waiting)
                waiting.clear()
            else:
                waiting.add(k)
        # fresh names inside: a graph key named in a task (even a fused one's inner key)
        # counts as needed when Dask culls, and would be computed again on its own
        suffix = tokenize(blk.key, "inline")[:12]
        rename = {k: _renamed(k, suffix) for k in private}
        inner = [dsk[k].substitute(rename, key=rename[k]) for k in private]
        node = Task.fuse(*inner, key=rename[blk.key])
        # a chunk that reads no other key brings no graph: the array's graph would put the
        # chunk's own tasks in the graph too, unread, left to the culling to remove
        return Inline(node, blk.dask if node.dependencies else None, blk.key)


def _renamed(key, suffix):
    if isinstance(key, tuple):
        return (f"{key[0]}-inline-{suffix}", *key[1:])
    return f"{key}-inline-{suffix}"


def _arg(x, graphs):
    if isinstance(x, Inline):
        if x.graph is not None:
            graphs.append(x.graph)
        return x.node
    if isinstance(x, Delayed):
        graphs.append(x.dask)
        return TaskRef(x.key)
    return DataNode(None, x)


def block_call(fn, *args, nout=None, name=None):
    """``delayed(fn)(*args)`` where an argument may be an :class:`Inline` chunk (made inside
    the task) or a Delayed (a reference). Built by hand: ``dask.delayed`` would turn a
    collection nested in a container into a culled copy of its graph per call."""
    graphs = []
    nodes = [_arg(x, graphs) for x in args]
    key = f"{name or fn.__name__}-{tokenize(fn, *(_token(x) for x in args))}"
    layers, deps = {key: MaterializedLayer({key: Task(key, fn, *nodes)})}, {key: set()}
    for g in graphs:
        if not isinstance(g, HighLevelGraph):
            g = HighLevelGraph.from_collections(f"graph-{tokenize(g)}", g)
        layers.update(g.layers)
        for lname, ldeps in g.dependencies.items():
            deps[lname] = deps.get(lname, set()) | set(ldeps)
        deps[key] |= set(g.layers)
    return Delayed(key, HighLevelGraph(layers, deps), length=nout)


def _token(x):
    if isinstance(x, Inline):
        return ("inline", x.key)
    if isinstance(x, Delayed):
        return x.key
    return dask.base.tokenize(x)
