"""JAX CPU baselines for the scan benches (``bench``; jax is the ``bench`` extra, never a test
dependency): each recurrence written here from the maths (spec/lrnnx_reference.md §2-§3.5),
jitted three ways and timed beside ours in the same process:

* ``jax_lax.scan``: forward, a ``jax.lax.scan`` over time (time-major; the discretization is
  computed inside the step, so nothing of size (L, ..., N) is materialised);
* ``jax_associative_scan``: forward, ``jax.lax.associative_scan`` of the affine maps
  (a, b) o (a', b') = (a a', a' b + b') along time, on materialised gates and inputs;
* ``jax_lax.scan_vjp``: forward + backward, ``jax.vjp`` of the lax.scan form applied to the
  output cotangent in one jitted call (our ``*_vjp`` recomputes the forward too).

Each call ends in ``block_until_ready``, and each is compiled and run once when built (the
harness warms it again). Arrays are put on the CPU device in the bench dtype (``jax_enable_x64``
is switched on so float64 stays float64). JAX gets its best layout: every time-varying array is
handed over time-major (time first, transposed on the host once, outside the timed call) and the
output stays time-major; XLA:CPU's own transposes cost more than the scan (4096 x 1024 float32:
108 ms with them inside the jit, 12 ms time-major, load ~6). Each function's ``time_args`` names
the positions of its time-varying arguments.

Threads: XLA:CPU runs one intra-op thread per core the process may use (its CPU affinity) and
has no flag for a count above 1. Ours use :func:`lrnnx_array._ops._shared.threads.threads`
(cores, at most 8) and numba its default (the cores). So on machines of up to 8 cores all three
use the same count without a flag; when ours is 1 we set
``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`` before jax
loads. :data:`THREADS_NOTE` says what was set; ``lax.scan`` runs its steps sequentially anyway.
"""

from __future__ import annotations

import os
import sys

THREADS_NOTE = ""


def load():
    """The ``jax`` module configured for the CPU bench, or ``None`` when jax is not importable."""
    global THREADS_NOTE
    if "jax" not in sys.modules:
        from ._ops._shared.threads import threads

        n = threads()
        if n == 1:
            flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        THREADS_NOTE = (f"ours {n} thread(s); XLA:CPU one per usable core ({os.cpu_count()})"
                        + (", single-threaded by XLA_FLAGS" if n == 1 else ""))
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def time_major(fn, args):
    """``args`` (NumPy, our layouts: time last) as ``fn`` takes them: its ``time_args`` moved
    to time-first contiguous copies."""
    import numpy as np

    return [np.ascontiguousarray(np.moveaxis(a, -1, 0)) if i in fn.time_args else a
            for i, a in enumerate(args)]


def _time_args(*idx):
    def mark(fn):
        fn.time_args = frozenset(idx)
        return fn

    return mark


def baselines(fwd_scan, fwd_assoc, args, cotangent) -> dict:
    """The three timed thunks of one case (empty without jax).

    ``fwd_scan(jnp, *args)`` / ``fwd_assoc(jnp, *args)`` compute the op's output, time-major,
    from NumPy ``args`` in our layouts (made time-major and put on the CPU device here);
    ``cotangent`` is the output cotangent for the VJP, in our layout.
    """
    import numpy as np

    jax = load()
    if jax is None:
        return {}
    jnp = jax.numpy
    cpu = jax.devices("cpu")[0]
    dev = [jax.device_put(a, cpu) for a in time_major(fwd_scan, args)]
    g = jax.device_put(np.ascontiguousarray(np.moveaxis(cotangent, -1, 0)), cpu)
    f_scan = jax.jit(lambda *a: fwd_scan(jnp, *a))
    f_assoc = jax.jit(lambda *a: fwd_assoc(jnp, *a))
    f_vjp = jax.jit(lambda g, *a: jax.vjp(lambda *p: fwd_scan(jnp, *p), *a)[1](g))
    out = {
        "jax_lax.scan": lambda: jax.block_until_ready(f_scan(*dev)),
        "jax_associative_scan": lambda: jax.block_until_ready(f_assoc(*dev)),
        "jax_lax.scan_vjp": lambda: jax.block_until_ready(f_vjp(g, *dev)),
    }
    for fn in out.values():  # compile now, not inside the first timed round
        fn()
    return out


# ---- shared pieces (every array below is time-major: time on axis 0) ----------------------------


def _affine_scan(jax, a, b):
    """h_t = a_t h_{t-1} + b_t from h_{-1} = 0 along axis 0, by associative_scan."""

    def combine(x, y):
        return y[0] * x[0], y[0] * x[1] + y[1]

    return jax.lax.associative_scan(combine, (a, b), axis=0)[1]


def _jax():
    return sys.modules["jax"]


# ---- diag_scan: h_t = a_t h_{t-1} + b_t, a and b (L, R) --------------------------------------


@_time_args(0, 1)
def diag_scan_scan(jnp, a, b):
    def step(h, ab):
        h = ab[0] * h + ab[1]
        return h, h

    return _jax().lax.scan(step, jnp.zeros(a.shape[1:], b.dtype), (a, b))[1]


@_time_args(0, 1)
def diag_scan_assoc(jnp, a, b):
    return _affine_scan(_jax(), a, b)


# ---- selective_scan (§3.1): G = 1, u/delta/z/deltaA (L, B, D), variable B/C (L, B, N) ---------


def _softplus(jnp, x):
    return jnp.where(x <= 20, jnp.log1p(jnp.exp(jnp.minimum(x, 20.0))), x)


def _sel_disc(jnp, method, A, dt, dtA):
    """(Ā, γ) of §2 for (..., N) steps: dt, dtA (..., 1), A (D, N)."""
    xa = dtA * A
    if method == "bilinear":
        return (1 + xa / 2) / (1 - xa / 2), dt / (1 - dt * A / 2)
    Abar = jnp.exp(xa)
    if method == "mamba":
        return Abar, dt + 0 * A
    if method == "zoh":
        return Abar, jnp.expm1(dt * A) / A
    raise ValueError(f"no JAX baseline for discretization {method!r}")


def _sel_prep(jnp, delta, delta_bias, deltaA, softplus):
    raw = delta if delta_bias is None else delta + delta_bias
    dt = _softplus(jnp, raw) if softplus else raw
    return dt, (dt if deltaA is None else deltaA)


def _sel_finish(jnp, y, u, D, z, cplx):
    y = 2 * jnp.real(y) if cplx else y
    if D is not None:
        y = y + D * u
    if z is not None:
        y = y * (z / (1 + jnp.exp(-z)))
    return y


def selective_scan_fns(method="mamba", softplus=True, has=("D", "z", "delta_bias", "deltaA")):
    """(scan, assoc) taking (u, delta, A, B, C, *[D, z, delta_bias, deltaA present in ``has``])."""
    names = ("D", "z", "delta_bias", "deltaA")
    present = [k for k in names if k in has]
    timed = (0, 1, 3, 4) + tuple(5 + i for i, k in enumerate(present) if k in ("z", "deltaA"))

    def unpack(rest):
        it = iter(rest)
        return [next(it) if k in has else None for k in names]

    @_time_args(*timed)
    def scan(jnp, u, delta, A, B, C, *rest):
        D, z, bias, deltaA = unpack(rest)
        dt, dtA = _sel_prep(jnp, delta, bias, deltaA, softplus)
        cplx = jnp.iscomplexobj(A)

        def step(h, x):
            dt_t, dtA_t, u_t, B_t, C_t = x  # (B, D), (B, D), (B, D), (B, N), (B, N)
            Abar, gam = _sel_disc(jnp, method, A, dt_t[..., None], dtA_t[..., None])
            h = Abar * h + gam * B_t[:, None, :] * u_t[..., None]
            return h, jnp.sum(h * C_t[:, None, :], axis=-1)

        h0 = jnp.zeros(u.shape[1:] + A.shape[-1:], A.dtype)
        _, ys = _jax().lax.scan(step, h0, (dt, dtA, u, B, C))
        return _sel_finish(jnp, ys, u, D, z, cplx)

    @_time_args(*timed)
    def assoc(jnp, u, delta, A, B, C, *rest):
        D, z, bias, deltaA = unpack(rest)
        dt, dtA = _sel_prep(jnp, delta, bias, deltaA, softplus)
        cplx = jnp.iscomplexobj(A)
        # (L, B, D, N) gates and inputs, materialised: what an associative scan needs.
        Abar, gam = _sel_disc(jnp, method, A, dt[..., None], dtA[..., None])
        h = _affine_scan(_jax(), Abar, gam * B[:, :, None, :] * u[..., None])
        y = jnp.sum(h * C[:, :, None, :], axis=-1)
        return _sel_finish(jnp, y, u, D, z, cplx)

    return scan, assoc


# ---- s5_inner (§3.3): Bu = B u, x_t = Ā_t x_{t-1} + γ_t Bu_t, out = 2 Re(C x) + D u ----------


def _s5_disc(jnp, method, A, dt):
    x = dt * A
    if method == "zoh":
        return jnp.exp(x), jnp.expm1(x) / A
    if method == "bilinear":
        return (1 + x / 2) / (1 - x / 2), dt / (1 - x / 2)
    raise ValueError(f"no JAX baseline for discretization {method!r}")


def s5_inner_fns(method="zoh", varying_dt=True):
    """(scan, assoc) taking (u (L,B,H) real, dt (L,B,P) or (P,), A (P,), B (P,H), C (H,P), D)."""
    timed = (0, 1) if varying_dt else (0,)

    def bu(jnp, u, A, B):
        return jnp.einsum("ph,lbh->lbp", B, u.astype(A.dtype))

    def out(jnp, x, u, C, D):
        return 2 * jnp.real(jnp.einsum("hp,lbp->lbh", C, x)) + D * u

    @_time_args(*timed)
    def scan(jnp, u, dt, A, B, C, D):
        v = bu(jnp, u, A, B)

        def step(x, s):
            Abar, gam = _s5_disc(jnp, method, A, s[1])
            x = Abar * x + gam * s[0]
            return x, x

        _, x = _jax().lax.scan(step, jnp.zeros(v.shape[1:], v.dtype),
                               (v, jnp.broadcast_to(dt, v.shape)))
        return out(jnp, x, u, C, D)

    @_time_args(*timed)
    def assoc(jnp, u, dt, A, B, C, D):
        v = bu(jnp, u, A, B)
        Abar, gam = _s5_disc(jnp, method, A, jnp.broadcast_to(dt, v.shape))
        return out(jnp, _affine_scan(_jax(), Abar, gam * v), u, C, D)

    return scan, assoc


# ---- rglru_scan (§3.4): Ā = A^δ, h_t = Ā h_{t-1} + √(1 − Ā²) u_t, y = Σ_n h --------------------


def _rglru_disc(jnp, logA, d):
    x = d * logA
    return jnp.exp(x), jnp.sqrt(jnp.maximum(-jnp.expm1(2 * x), 0.0))


@_time_args(0, 1)
def rglru_scan_scan(jnp, u, delta, A):
    logA = jnp.log(A)

    def step(h, s):
        Abar, gam = _rglru_disc(jnp, logA, s[1][..., None])
        h = Abar * h + gam * s[0][..., None]
        return h, jnp.sum(h, axis=-1)

    h0 = jnp.zeros(u.shape[1:] + A.shape[-1:], u.dtype)
    return _jax().lax.scan(step, h0, (u, delta))[1]


@_time_args(0, 1)
def rglru_scan_assoc(jnp, u, delta, A):
    Abar, gam = _rglru_disc(jnp, jnp.log(A), delta[..., None])
    return jnp.sum(_affine_scan(_jax(), Abar, gam * u[..., None]), axis=-1)


# ---- s7_scan (§3.5): s_t = (1 − 1/(A_t² + ½)) s_{t-1} + Σ_h B u + bias, y = Σ_n C s -----------


@_time_args(0, 1, 2, 3, 4)
def s7_scan_scan(jnp, u, A, B, C, bias):
    def step(s, x):
        u_t, a_t, B_t, C_t, b_t = x  # (B,H), (B,N), (B,N,H), (B,H,N), (B,N)
        s = (1 - 1 / (a_t * a_t + 0.5)) * s + jnp.einsum("bnh,bh->bn", B_t, u_t) + b_t
        return s, jnp.einsum("bhn,bn->bh", C_t, s)

    return _jax().lax.scan(step, jnp.zeros(A.shape[1:], u.dtype), (u, A, B, C, bias))[1]


@_time_args(0, 1, 2, 3, 4)
def s7_scan_assoc(jnp, u, A, B, C, bias):
    gate = 1 - 1 / (A * A + 0.5)
    s = _affine_scan(_jax(), gate, jnp.einsum("lbnh,lbh->lbn", B, u) + bias)
    return jnp.einsum("lbhn,lbn->lbh", C, s)


def evaluate(fn, *args):
    """``fn(jnp, *args)`` jitted on the CPU device from ``args`` in our layouts, back as a NumPy
    array in our layout (time last): the tests' check that a baseline computes what our op does."""
    import numpy as np

    jax = load()
    cpu = jax.devices("cpu")[0]
    dev = [jax.device_put(a, cpu) for a in time_major(fn, args)]
    return np.moveaxis(np.asarray(jax.jit(lambda *a: fn(jax.numpy, *a))(*dev)), 0, -1)


def vjp(fn, args, cotangent):
    """The cotangents of ``args`` from the ``jax_lax.scan_vjp`` computation, in our layouts."""
    import numpy as np

    jax = load()
    cpu = jax.devices("cpu")[0]
    dev = [jax.device_put(a, cpu) for a in time_major(fn, args)]
    g = jax.device_put(np.ascontiguousarray(np.moveaxis(cotangent, -1, 0)), cpu)
    out = jax.jit(lambda g, *a: jax.vjp(lambda *p: fn(jax.numpy, *p), *a)[1](g))(g, *dev)
    return [np.moveaxis(np.asarray(x), 0, -1) if i in fn.time_args else np.asarray(x)
            for i, x in enumerate(out)]
