"""The numba selective scan VJP's variable B/C gradient scatter from a tile's time-major
buffer into the (N, L) layout, shared by ``_numba._bwd`` and ``_numba_split_bwd``. (The
reverse tile body itself is written out in both: an njit call per tile was not inlined and
cost 5-10 %.)"""

from __future__ import annotations

from .._shared import numba_support as nbs


@nbs.numba().njit(cache=True, error_model="numpy")
def _scatter_tile(T, N, gt, gv, s, b, g, t0, put):
    """gv[s, b, g, n, t0 + k] += gt[k N + n] (= with ``put``: the slot's only writer): a
    tile's variable B or C gradient, n outer over a row view of gv (unit stride): 0.5 ns per
    element; k outer, indexing the 5-D array per element, took 3."""
    for n in range(N):
        row = gv[s, b, g, n, t0:t0 + T]
        if put:
            for k in range(T):
                row[k] = gt[k * N + n]
        else:
            for k in range(T):
                row[k] += gt[k * N + n]
