"""Autoregressive generation from a single model: each output is fed back as the next input.

:func:`generate` mirrors lrnnx's ``utils.generation.generate``: from an initial input ``x``
(B, H) it runs ``num_steps`` decode steps of ``model.step`` on a freshly allocated cache
(every run starts from zero state: lrnnx forgets to reset S5-LTV's ``ssm_state`` between graph
runs) and returns the outputs (B, num_steps, H).

On CuPy, ``use_cuda_graph=True`` captures one step into a CUDA graph (stream capture) and
replays it. That path needs a GPU and a step without host synchronisation (no NaN/sign checks
on the device, so it rejects ``integration_timesteps`` and attention); it is written but has not
been run on a GPU by its author, so it is opt-in and the plain loop is the tested path.
"""

from __future__ import annotations

import numpy as np

from ._backend import is_cupy, namespace
from .layers._common import check_input

__all__ = ["generate", "cuda_graph_available"]


def _kind(model):
    from .layers.mha import MHA
    from .models.lti.base import LTI_LRNN
    from .models.ltv.base import LTV_LRNN

    if isinstance(model, LTV_LRNN):
        return "ltv"
    if isinstance(model, MHA):
        return "attn"
    if isinstance(model, LTI_LRNN):
        return "lti"
    raise TypeError(f"generate: model must be an LTI or LTV model of lrnnx_array.models or an "
                    f"MHA layer (its output is fed back as its input), got "
                    f"{type(model).__name__}")


def _step_fn(model, kind):
    if kind == "lti":
        return lambda x, cache, tau: model.step(x, cache)[0]
    if kind == "attn":
        return lambda x, cache, tau: model.step(x[:, None, :], cache)[0][:, 0, :]
    return lambda x, cache, tau: model.step(x[:, None, :], cache, tau)[0][:, 0, :]


def _timesteps(model, kind, tau, B, num_steps):
    """τ as (B, num_steps) (a constant (B,)/(B, 1) τ is repeated, as lrnnx's buffer is)."""
    if tau is None:
        return None
    if kind != "ltv" or not getattr(model, "uses_timesteps", False):
        raise ValueError(f"generate: integration_timesteps given but {type(model).__name__} "
                         "does not use them (event mode: Mamba, S5-LTV)")
    tau = check_input(model, "integration_timesteps", tau, min_ndim=1)
    xp = model.xp
    if tuple(tau.shape) in ((B,), (B, 1)):
        return xp.broadcast_to(xp.reshape(tau, (B, 1)), (B, num_steps))
    if tuple(tau.shape) != (B, num_steps):
        raise ValueError(f"generate: integration_timesteps must have shape ({B},), ({B}, 1) or "
                         f"({B}, {num_steps}) = (batch, num_steps), got {tuple(tau.shape)}")
    return tau


def generate(model, x, num_steps, integration_timesteps=None, *, use_cuda_graph=False):
    """Feed ``model``'s output back as its input for ``num_steps`` decode steps.

    Parameters
    ----------
    model : LTI_LRNN, LTV_LRNN or MHA
        Its output width must equal its input width (every model here except S4/S4D with
        ``channels > 1``).
    x : array, shape (batch, d_model)
        The first input.
    num_steps : int
        Number of steps (0 gives an empty (batch, 0, d_model) result).
    integration_timesteps : array, optional
        Event-mode τ for Mamba / S5-LTV: (batch,) or (batch, 1) for one τ at every step, as in
        lrnnx, or (batch, num_steps).
    use_cuda_graph : bool, optional
        CuPy only: capture one step as a CUDA graph and replay it (see the module notes).

    Returns
    -------
    array, shape (batch, num_steps, d_model)
        ``y_t``, with ``y_0 = step(x)`` and ``y_t = step(y_{t-1})``.

    Examples
    --------
    >>> import numpy as np
    >>> from lrnnx_array.generation import generate
    >>> from lrnnx_array.models import LRU
    >>> model = LRU(8, 4, seed=0)
    >>> x = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    >>> generate(model, x, 5).shape
    (2, 5, 8)
    """
    kind = _kind(model)
    if isinstance(num_steps, (bool, np.bool_)) or not isinstance(num_steps, (int, np.integer)):
        raise TypeError(f"generate: num_steps must be an int, got {type(num_steps).__name__}")
    if num_steps < 0:
        raise ValueError(f"generate: num_steps must be >= 0, got {num_steps}")
    if not isinstance(use_cuda_graph, (bool, np.bool_)):
        raise TypeError(f"generate: use_cuda_graph must be a bool, got "
                        f"{type(use_cuda_graph).__name__}")
    x = check_input(model, "x", x, min_ndim=2)
    H = model.d_model if kind != "attn" else model.embed_dim
    if x.ndim != 2 or x.shape[1] != H:
        raise ValueError(f"generate: x must have shape (batch, {H}), got {tuple(x.shape)}")
    xp = model.xp
    B = x.shape[0]
    num_steps = int(num_steps)
    tau = _timesteps(model, kind, integration_timesteps, B, num_steps)
    if num_steps == 0:
        return xp.zeros((B, 0, H), dtype=x.dtype)
    if use_cuda_graph:
        if not is_cupy(namespace(x, names=("x",))):
            raise ValueError("generate: use_cuda_graph=True needs CuPy arrays")
        return _graph_generate(model, kind, x, tau, num_steps)
    step = _step_fn(model, kind)
    cache = model.allocate_inference_cache(B, num_steps)
    outs = []
    cur = x
    for t in range(num_steps):
        y = step(cur, cache, None if tau is None else tau[:, t])
        if y.shape != cur.shape:
            raise ValueError(f"generate: {type(model).__name__}'s output has shape "
                             f"{tuple(y.shape)}, not its input's {tuple(cur.shape)}, so it "
                             "cannot be fed back")
        outs.append(y)
        cur = y
    return xp.stack(outs, axis=1)


def cuda_graph_available() -> bool:
    """Whether CuPy imports and sees a CUDA device (no CUDA call beyond the device count)."""
    try:
        import cupy
    except Exception:  # pragma: no cover - no CuPy here
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def _graph_generate(model, kind, x, tau, num_steps, n_warmups=3):  # pragma: no cover - GPU
    """Capture one step on a side stream, then replay it ``num_steps`` times.

    The step's temporaries come from a private memory pool that is warmed up first (so no
    cudaMalloc happens while capturing) and kept alive with the graph (so no later allocation
    can take the addresses the graph writes to), as torch's graphs use a private mempool.
    """
    import cupy

    if not cuda_graph_available():
        raise RuntimeError("generate: use_cuda_graph=True but no usable CUDA device")
    if kind == "attn" or tau is not None:
        raise ValueError("generate: the CUDA-graph path supports neither attention (its step "
                         "position lives on the host) nor integration_timesteps (checked on the "
                         "host each step); use use_cuda_graph=False")
    step = _step_fn(model, kind)
    B = x.shape[0]
    stream = cupy.cuda.Stream(non_blocking=True)
    pool = cupy.cuda.MemoryPool()
    with stream:
        cache = model.allocate_inference_cache(B, num_steps)
        bufs = {k: v for k, v in cache.items() if isinstance(v, cupy.ndarray)}
        initial = {k: v.copy() for k, v in bufs.items()}
        x_buf = cupy.array(x)
        with cupy.cuda.using_allocator(pool.malloc):
            # warm-up: compiles the kernels, fills the dispatch caches and the private pool
            scratch = model.allocate_inference_cache(B, num_steps)
            for _ in range(n_warmups):
                step(x_buf, scratch, None)
            del scratch
            stream.synchronize()
            stream.begin_capture()
            try:
                try:
                    y_buf = step(x_buf, cache, None)
                except Exception as exc:
                    raise RuntimeError(
                        f"generate: {type(model).__name__}.step could not be captured as a CUDA "
                        f"graph ({exc}); use use_cuda_graph=False") from exc
                # the step may rebind cache entries to new arrays: copy them back into the
                # buffers the graph reads, so each replay advances the state
                for k, buf in bufs.items():
                    if cache[k] is not buf:
                        buf[...] = cache[k]
                        cache[k] = buf
                x_buf[...] = y_buf
            finally:
                graph = stream.end_capture()
        for k, buf in bufs.items():  # this run starts from the allocated cache
            buf[...] = initial[k]
        x_buf[...] = x
        out = cupy.empty((B, num_steps, x.shape[1]), dtype=y_buf.dtype)
        for t in range(num_steps):
            graph.launch(stream)
            out[:, t, :] = y_buf
    stream.synchronize()
    del graph, pool  # the graph first: its memory lives in the pool
    return out
