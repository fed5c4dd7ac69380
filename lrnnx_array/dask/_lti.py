"""LTI models over long sequences on Dask: the model's own diagonal step form, time-blocked.

LRU and S5 step as ``s <- Λ s + B x``, ``y = Re(C s) + D x`` (their ``step`` and
``allocate_inference_cache``); the forward over a long sequence is then a projection per chunk,
the time-blocked :func:`lrnnx_array.dask.diag_scan` of the modes (the state carried between
time blocks by the ``rerun`` or ``sequential`` method), and a projection back. This equals the
model's (convolution) forward up to rounding.
"""

from __future__ import annotations

import dask.array as da
import numpy as np

from . import _scans

_KEYS = (("Lambda", "B_norm", "C_complex"), ("A_bar", "B_bar", "C_complex"))


def long_forward(model, x, *, method="rerun"):
    """Lazy forward of an LTI model (LRU, S5) over a Dask input chunked along time and batch.

    Parameters
    ----------
    model : lrnnx_array.models.lti.LRU or S5
        A NumPy (or CuPy) model; its step matrices are built once, as graph constants.
    x : dask array, shape (batch, seqlen, d_model)
        Real input; chunks along batch and time are the blocks (d_model one chunk).
    method : {"rerun", "sequential"}, default "rerun"
        How the state crosses time blocks (see :mod:`lrnnx_array.dask`).

    Returns
    -------
    y : dask array, shape (batch, seqlen, d_model)
        ``model(x)``, lazily.

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
    cache = model.allocate_inference_cache(1)
    keys = next((k for k in _KEYS if all(n in cache for n in k)), None)
    if keys is None:
        raise NotImplementedError(
            f"long_forward runs models with a diagonal step (LRU, S5); {type(model).__name__} "
            "has none (its state is not diagonal): use map_batches with time in one chunk")
    lam, B, C = (cache[n] for n in keys)
    D = model._params["D"]
    H = int(B.shape[1])
    if int(x.shape[2]) != H:
        raise ValueError(f"x must have d_model = {H} last, got shape {tuple(x.shape)}")
    x = x.rechunk({2: -1})
    xr = x.astype(np.result_type(x.dtype, np.float32)) if x.dtype == np.float16 else x
    cdt = np.result_type(xr.dtype, lam.dtype)
    # (batch, N, L) inputs of the modes, then h_t = Λ h_{t-1} + b_t per mode.
    b = da.einsum("blh,nh->bnl", xr.astype(cdt), B.astype(cdt))
    h = _scans.diag_scan(lam.astype(cdt)[None, :, None], b, method=method)
    y = da.real(da.einsum("hn,bnl->blh", C.astype(cdt), h))
    skip = xr * D if D.ndim == 1 else da.einsum("blh,hk->blk", xr, D)
    return (y + skip).astype(y.dtype)
