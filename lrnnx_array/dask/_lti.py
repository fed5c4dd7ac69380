"""LTI models over long sequences on Dask, time-blocked.

* LRU, S5 and Centaurus step with a diagonal state (their ``step`` and
  ``allocate_inference_cache``): LRU/S5 ``s <- Λ s + B x``, ``y = Re(C s) + D x``; Centaurus
  ``s <- Ā ⊙ s + (B̄ x)[..., None]``, ``y = C Σ_m Re(s) E`` (dws: ``s <- Ā s + B̄ x``,
  ``y = C Re(s)``). The forward over a long sequence is then a projection per chunk, the
  time-blocked :func:`lrnnx_array.dask.diag_scan` of the modes (the state carried between time
  blocks by the ``rerun`` or ``sequential`` method), and a projection back.
* S4 and S4D (the convolution path with a state input: ``model(x, state=s)`` gives
  ``(y, next_state)``): every time block is the model's own convolution forward from its
  initial state: the previous block's final state (``method="sequential"``: the blocks of a
  batch chunk chain, batch chunks run in parallel), or (``"rerun"``) the state the tree over
  the blocks' (Ā^{L_k}, final state from zero) gives it.

Each equals the model's unchunked forward up to rounding.
"""

from __future__ import annotations

import uuid

import dask
import dask.array as da
import numpy as np

from . import _scans
from ._engine import delayed, inclusive_scan, one_thread

_KEYS = (("Lambda", "B_norm", "C_complex"), ("A_bar", "B_bar", "C_complex"))
_CENTAURUS = (("A_bar", "B_bar", "E", "C"), ("A_bar_flat", "B_bar_flat", "C_flat"))


def long_forward(model, x, *, method="rerun"):
    """Lazy forward of an LTI model over a Dask input chunked along time and batch.

    Parameters
    ----------
    model : lrnnx_array.models.lti.LRU, S5, Centaurus (any mode), S4 or S4D
        A NumPy (or CuPy) model. LRU, S5, Centaurus: its step matrices are built once, as
        graph constants. S4, S4D (built with ``transposed=False``, in eval mode): the model is
        one graph key and each block runs its convolution forward from the carried state.
    x : dask array, shape (batch, seqlen, d_model)
        Real input; chunks along batch and time are the blocks (d_model one chunk).
    method : {"rerun", "sequential"}, default "rerun"
        How the state crosses time blocks (see :mod:`lrnnx_array.dask`). S4 and S4D:
        ``"sequential"`` chains ``model(x_k, state=s)`` per batch chunk; ``"rerun"`` runs every
        block from the zero state for its final state ``S_k`` (in parallel), combines
        ``s_k = Ā^{L_k} s_{k-1} + S_k`` over the blocks by a tree (``Ā`` read off the model's
        ``forward_state``, ``Ā^L`` by repeated squaring, in double precision), then reruns
        every block from its true state in parallel: about 2x the model's work.

    Returns
    -------
    y : dask array, shape (batch, seqlen, d_model)
        ``model(x)`` (S4/S4D: its ``y``), lazily.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from lrnnx_array.models.lti import LRU
    >>> from lrnnx_array.dask import long_forward
    >>> model = LRU(d_model=4, d_state=8, seed=0, dtype=np.float64)
    >>> x = np.random.default_rng(0).standard_normal((2, 64, 4))
    >>> y = long_forward(model, da.from_array(x, chunks=(1, 16, 4)))
    >>> np.allclose(y.compute(), model(x))
    True
    """
    if not isinstance(x, da.Array):
        raise TypeError(f"x must be a Dask array, got {type(x).__name__}")
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, seqlen, d_model), got {tuple(x.shape)}")
    from ._drive import check_method

    check_method(method)
    if hasattr(model, "default_state") and hasattr(model, "layer"):
        return _state_input_forward(model, x, method)
    cache = model.allocate_inference_cache(1)
    keys = next((k for k in _KEYS if all(n in cache for n in k)), None)
    ckeys = next((k for k in _CENTAURUS if all(n in cache for n in k)), None)
    if keys is None and ckeys is None:
        raise NotImplementedError(
            f"long_forward runs LRU, S5, Centaurus, S4 and S4D; {type(model).__name__} has "
            "neither a diagonal step nor a state input: use map_batches with time in one chunk")
    if keys is None:
        return _centaurus(model, x, [cache[n] for n in ckeys], method)
    lam, B, C = (cache[n] for n in keys)
    D = model._params["D"]
    xr, cdt = _prepare(x, B, lam)
    # (batch, N, L) inputs of the modes, then h_t = Λ h_{t-1} + b_t per mode.
    b = da.einsum("blh,nh->bnl", xr.astype(cdt), B.astype(cdt))
    h = _scans.diag_scan(lam.astype(cdt)[None, :, None], b, method=method)
    y = da.real(da.einsum("hn,bnl->blh", C.astype(cdt), h))
    skip = xr * D if D.ndim == 1 else da.einsum("blh,hk->blk", xr, D)
    return (y + skip).astype(y.dtype)


def _prepare(x, B, lam):
    """``x`` with d_model in one chunk (float16 computed in float32), and the modes' dtype."""
    H = int(B.shape[1])
    if int(x.shape[2]) != H:
        raise ValueError(f"x must have d_model = {H} last, got shape {tuple(x.shape)}")
    x = x.rechunk({2: -1})
    xr = x.astype(np.result_type(x.dtype, np.float32)) if x.dtype == np.float16 else x
    return xr, np.result_type(xr.dtype, lam.dtype)


def _centaurus(model, x, mats, method):
    """Centaurus: modes Ā (N, M) fed by B̄ x per row n, read by E then C (dws: flat lanes)."""
    if len(mats) == 3:  # dws: s <- Ā s + B̄ x, y = C Re(s)
        lam, B, C = mats
        xr, cdt = _prepare(x, B, lam)
        b = da.einsum("blh,sh->bsl", xr, B.astype(xr.dtype)).astype(cdt)
        h = _scans.diag_scan(lam.astype(cdt)[None, :, None], b, method=method)
        return da.einsum("hs,bsl->blh", C.astype(xr.dtype), da.real(h))
    lam, B, E, C = mats
    xr, cdt = _prepare(x, B, lam)
    b = da.einsum("blh,nh->bnl", xr, B.astype(xr.dtype)).astype(cdt)[:, :, None, :]
    h = _scans.diag_scan(lam.astype(cdt)[None, :, :, None], b, method=method)  # (B, N, M, L)
    mixed = da.einsum("bnml,nm->bnl", da.real(h), E.astype(xr.dtype))
    return da.einsum("hn,bnl->blh", C.astype(xr.dtype), mixed)


@one_thread
def _block_forward(model, x, state):
    return model(x, state=state)


def _block_state(model, batch):
    return model.default_state(batch)


def _state_input_forward(model, x, method):
    """S4 / S4D: each time block is ``model(x_k, state=s_{k-1})``; ``s_{k-1}`` chained per batch
    chunk (sequential) or from the tree over the blocks' (T_k, S_k) (rerun)."""
    if getattr(model, "transposed", False):
        raise NotImplementedError("long_forward takes (batch, seqlen, d_model) inputs: build "
                                  "the model with transposed=False")
    if int(x.shape[2]) != int(model.d_model):
        raise ValueError(f"x must have d_model = {model.d_model} last, got shape "
                         f"{tuple(x.shape)}")
    x = x.rechunk({2: -1})
    # the model as one graph key, shared by every block (as map_batches holds it)
    mkey = dask.delayed(model, name=f"lrnnx-model-{uuid.uuid4().hex}", pure=False)
    blocks = x.to_delayed(optimize_graph=False)
    like = model(np.zeros((1, 1, int(x.shape[2])), dtype=x.dtype),
                 state=model.default_state(1))[0]  # the output's dtype and width
    width, out_dtype = int(like.shape[-1]), like.dtype
    if method == "rerun":
        dense = getattr(model, "_KERNEL", "s4") != "s4d"
        step = _one_step_transition(model, dense)
        powers = {n: dask.delayed(_power(step, n, dense), pure=True) for n in set(x.chunks[1])}
    rows = []
    for i, bsize in enumerate(x.chunks[0]):
        state = delayed(_block_state)(mkey, bsize)
        if method == "rerun":
            elems = [delayed(_block_summary)(mkey, blocks[i, j, 0], state, powers[lsize])
                     for j, lsize in enumerate(x.chunks[1])]
            prefix = inclusive_scan(elems, delayed(_combine))
        row = []
        for j, lsize in enumerate(x.chunks[1]):
            if method == "rerun":
                start = state if j == 0 else delayed(_as_state)(mkey, prefix[j - 1][1], bsize)
                y = delayed(_block_forward, nout=2)(mkey, blocks[i, j, 0], start)[0]
            else:
                y, state = delayed(_block_forward, nout=2)(mkey, blocks[i, j, 0], state)
            row.append([da.from_delayed(y, (bsize, lsize, width), dtype=out_dtype,
                                        meta=np.empty((0, 0, 0), dtype=out_dtype))])
        rows.append(row)
    return da.block(rows)


# -- rerun for S4 / S4D: s_k = T_k s_{k-1} + S_k, T_k = Ā^{L_k} ------------------------------

def _wide(xp, a):
    """``a`` in double precision: T = Ā^L for long blocks is a power of a matrix near the unit
    circle, whose relative error grows like L times the unit roundoff."""
    return xp.astype(a, xp.complex128 if "complex" in str(a.dtype) else xp.float64)


def _one_step_transition(model, dense):
    """Ā of one step, read off the model's own ``forward_state`` with zero input: S4 (dense):
    (H, n, n) from the n basis states; S4D (diagonal): (H, n) from the all-ones state."""
    from array_api_compat import array_namespace

    s0 = model.default_state(1)
    xp = array_namespace(s0)
    H, n = int(s0.shape[1]), int(s0.shape[2])
    u = xp.zeros((n if dense else 1, H, 1), dtype=model.dtype if hasattr(model, "dtype")
                 else xp.float64)
    if dense:
        basis = xp.broadcast_to(xp.eye(n, dtype=s0.dtype)[:, None, :], (n, H, n))
        cols = model.layer.kernel.forward_state(u, basis)  # [i, h, :] = Ā_h e_i
        return _wide(xp, xp.permute_dims(cols, (1, 2, 0)))
    return _wide(xp, model.layer.kernel.forward_state(u, xp.ones((1, H, n), dtype=s0.dtype))[0])


def _power(step, n, dense):
    """Ā^n by repeated squaring (matrix or elementwise)."""
    from array_api_compat import array_namespace

    xp = array_namespace(step)
    result, base = None, step
    while n:
        if n & 1:
            result = base if result is None else (xp.matmul(base, result) if dense
                                                  else base * result)
        n >>= 1
        if n:
            base = xp.matmul(base, base) if dense else base * base
    return result


def _apply(T, s):
    """T s over the state axis: (H, n, n) @ (B, H, n), or elementwise for a diagonal T."""
    if T.ndim == 3:
        return (T[None] @ s[..., None])[..., 0]
    return T[None] * s


@one_thread
def _block_summary(model, x, zero_state, T):
    """(T_k, S_k): the block's transition and its final state from zero (double precision)."""
    from array_api_compat import array_namespace

    S = model(x, state=zero_state)[1]
    return T, _wide(array_namespace(S), S)


def _combine(e1, e2):
    """e1 (earlier) then e2: (T2 T1, T2 S1 + S2)."""
    (T1, S1), (T2, S2) = e1, e2
    T = T2 @ T1 if T2.ndim == 3 else T2 * T1
    return T, _apply(T2, S1) + S2


def _as_state(model, s, batch):
    """A prefix state in the model's state dtype."""
    from array_api_compat import array_namespace

    like = model.default_state(batch)
    return array_namespace(like).astype(s, like.dtype)
