"""What the time-blocked driver needs to know about each scan: axis labels, the state, one
block's forward / VJP through the PUBLIC op, and the block's total transition P.

Axis labels: ``b`` batch and ``t`` time are grid axes (chunks kept); diag_scan's leading axes
``r0, r1, ...`` are grid axes too; every other label is one chunk.

The transition P of a block (its product of Ā, state-shaped):

* closed form where Ā_t = exp(Δᴬ_t A) (selective_scan's and simplified_scan's mamba, zoh and
  dirac): prod_t Ā_t = exp(A Σ_t Δᴬ_t), one sum over the block's steps and one exp per state,
  the exp taken from the numerics layer (its dirac Ā, which mamba's and zoh's equal). The
  summary pass is then about one scan, and ``method="rerun"`` about 2x one scan in all.
* read off the op otherwise (bilinear, s7, rglru): the op run from h0 = 1 with zero input has
  final state exactly prod_t Ā_t, because the input term (γ B u, sqrt(1 - Ā²) u, B u + bias)
  vanishes. That costs one more scan of the block (rerun about 3x) but never re-derives a
  discretization here.
* diag_scan: the plain product of its gates.
"""

from __future__ import annotations

from .. import ops
from .._ops._shared import numerics
from .._ops._shared.s5_shapes import steps3
from .._ops.selective_scan._generic import softplus
from ._engine import _namespace, ones_state

# Discretizations with Ā_t = exp(Δᴬ_t A): a block's total transition is exp(A Σ_t Δᴬ_t).
CLOSED_FORM = ("mamba", "zoh", "dirac")


def exp_transition(xp, A, total, state_dtype, state_shape):
    """exp(total · A) in the state dtype, broadcast to the state: the numerics layer's Ā of
    one step of length ``total`` (its dirac Ā = exp(ΔA), the same as mamba's and zoh's)."""
    A = A if A.dtype == state_dtype else xp.astype(A, state_dtype)
    abar = numerics.forward(xp, "dirac", A, total, None)[0]
    return xp.broadcast_to(abar, state_shape)


def _real_dtype(xp, state_dtype):
    return xp.real(xp.zeros((), dtype=state_dtype)).dtype


class Adapter:
    name = ""
    fn = vjp_fn = None
    primary = "u"
    grid_labels = ("b",)
    state = "bdn"
    out = "bdt"
    LABELS: dict = {}
    reverse = False
    piecewise = True  # a block may run in time pieces carrying h0 (see _engine.block_forward)

    def __init__(self, **config):
        self.config = dict(config)

    def __dask_tokenize__(self):
        return (type(self).__name__, tuple(sorted(self.config.items())))

    def __repr__(self):
        return f"{type(self).__name__}({self.config})"

    def labels(self, name, ndim):
        if name in ("h0", "dlast"):
            if ndim > len(self.state):
                raise ValueError(f"{self.name}: {name} has {ndim} dimensions, more than the "
                                 f"state's {len(self.state)}")
            return tuple(self.state)[len(self.state) - ndim:]
        if name == "dout":
            return tuple(self.out) if ndim == len(self.out) else tuple(self.out)[-ndim:]
        table = self.LABELS[name]
        if ndim not in table:
            raise ValueError(f"{self.name}: {name} must have {' or '.join(map(str, table))} "
                             f"dimensions, got {ndim}")
        return tuple(table[ndim])

    def state_shape(self, a):
        u, A = a["u"], a["A"]
        return (int(u.shape[0]), int(u.shape[1]), int(A.shape[-1]))

    def forward(self, a, h0, st, out=True, last=True):
        """(out, final state) of one block from ``h0`` (None: zero)."""
        return self.fn(**a, **st["kw"], return_last_state=True, h0=h0)

    def vjp(self, dout, a, h0, dlast, st):
        """{argument name: gradient}, "h0" included, of one block."""
        g = self.vjp_fn(dout, **a, **st["kw"], h0=h0, dlast_state=dlast)
        return {f[1:]: v for f, v in zip(g._fields, g)}

    def without_input(self, a):
        a = dict(a)
        a["u"] = _namespace(a).zeros_like(a["u"])
        return a

    def transition(self, a, st):
        """prod_t Ā_t of the block (the closed form where the op has one, else read off)."""
        if st["kw"].get("discretization") in CLOSED_FORM:
            return self.closed_transition(a, st)
        return self.read_off_transition(a, st)

    def read_off_transition(self, a, st):
        """prod_t Ā_t of the block: the final state from h0 = 1 with zero input."""
        return self.forward(self.without_input(a), ones_state(self, st, a), st, out=False)[1]


_TIME3 = {3: "bdt"}


class SelectiveScan(Adapter):
    name = "selective_scan"
    fn, vjp_fn = staticmethod(ops.selective_scan), staticmethod(ops.selective_scan_vjp)
    LABELS = {"u": _TIME3, "delta": _TIME3, "z": _TIME3, "deltaA": _TIME3, "A": {2: "dn"},
              "D": {1: "d"}, "delta_bias": {1: "d"},
              "B": {2: "dn", 3: "bnt", 4: "bgnt"}, "C": {2: "dn", 3: "bnt", 4: "bgnt"}}

    def closed_transition(self, a, st):
        """exp(A Σ_t Δᴬ_t) with Δᴬ = deltaA, else Δ = softplus(delta + bias) (or without
        softplus) as the op takes it; (batch, dim, dstate)."""
        xp = _namespace(a)
        rdt = _real_dtype(xp, st["state_dtype"])
        if a.get("deltaA") is not None:
            steps = xp.astype(a["deltaA"], rdt)
        else:
            steps = xp.astype(a["delta"], rdt)
            if a.get("delta_bias") is not None:
                steps = steps + xp.expand_dims(xp.astype(a["delta_bias"], rdt), axis=-1)
            if st["kw"].get("delta_softplus"):
                steps = softplus(xp, steps)
        total = xp.sum(steps, axis=-1)  # (batch, dim)
        return exp_transition(xp, a["A"], xp.expand_dims(total, axis=-1), st["state_dtype"],
                              self.state_shape(a))


class RGLRUScan(Adapter):
    name = "rglru_scan"
    fn, vjp_fn = staticmethod(ops.rglru_scan), staticmethod(ops.rglru_scan_vjp)
    grid_labels = ("b", "d")  # every channel is its own recurrence: channel blocks are free
    LABELS = {"u": _TIME3, "delta": _TIME3, "A": {2: "dn"}}


class S7Scan(Adapter):
    name = "s7_scan"
    fn, vjp_fn = staticmethod(ops.s7_scan), staticmethod(ops.s7_scan_vjp)
    state, out = "bn", "bht"
    LABELS = {"u": {3: "bht"}, "A": {3: "bnt"}, "B": {4: "bnht"}, "C": {4: "bhnt"},
              "bias": {3: "bnt"}}

    def state_shape(self, a):
        return (int(a["u"].shape[0]), int(a["A"].shape[1]))

    def without_input(self, a):
        a = super().without_input(a)
        a["bias"] = None
        return a


_STEPS = {0: "", 1: "p", 2: "bt", 3: "bpt"}


class SimplifiedScan(Adapter):
    name = "simplified_scan"
    fn, vjp_fn = staticmethod(ops.simplified_scan), staticmethod(ops.simplified_scan_vjp)
    state, out = "bp", "bht"
    LABELS = {"u": {3: "bht"}, "delta": _STEPS, "deltaA": _STEPS, "A": {1: "p", 2: "pq"},
              "B": {2: "ph"}, "C": {2: "hp"}, "D": {1: "h"}}

    def state_shape(self, a):
        return (int(a["u"].shape[0]), int(a["A"].shape[0]))

    def closed_transition(self, a, st):
        """exp(A Σ_t Δᴬ_t) per state, Δᴬ = deltaA or delta in any of the op's step layouts
        (a step without a time axis counts once per step of the block); (batch, P)."""
        xp = _namespace(a)
        Bsz, P = self.state_shape(a)
        L = int(a["u"].shape[-1])
        d = a["deltaA"] if a.get("deltaA") is not None else a["delta"]
        rdt = _real_dtype(xp, st["state_dtype"])
        d3 = steps3(xp, xp.astype(xp.asarray(d), rdt), "delta", Bsz, P, L)  # (b|1, p|1, l|1)
        total = xp.sum(d3, axis=-1) * (L if d3.shape[-1] == 1 else 1)  # (b|1, p|1)
        return exp_transition(xp, xp.reshape(a["A"], (P,)), total, st["state_dtype"], (Bsz, P))


class S5Inner(SimplifiedScan):
    """s5_inner = (2 if conj_sym else 1) Re(C x) + D Re(u) on simplified_scan's state x.

    The op has no final state and no ``dlast_state``: the state comes from simplified_scan on
    the same arguments, and, the VJP being linear in its cotangents, the final-state cotangent's
    part is ``simplified_scan_vjp`` with a zero ``dout``, added to ``s5_inner_vjp``'s.
    """

    name = "s5_inner"
    piecewise = False  # its final state is a second op call: pieces would double the work
    fn, vjp_fn = staticmethod(ops.s5_inner), staticmethod(ops.s5_inner_vjp)

    @staticmethod
    def _scan_kw(st):
        return {k: v for k, v in st["kw"].items() if k != "conj_sym"}

    def forward(self, a, h0, st, out=True, last=True):
        y = ops.s5_inner(**a, **st["kw"], h0=h0) if out else None
        s = None
        if last:
            scan_args = {k: v for k, v in a.items() if k != "D"}
            s = ops.simplified_scan(**scan_args, **self._scan_kw(st), return_last_state=True,
                                    h0=h0)[1]
        return y, s

    def vjp(self, dout, a, h0, dlast, st):
        g = ops.s5_inner_vjp(dout, **a, **st["kw"], h0=h0)
        grads = {f[1:]: v for f, v in zip(g._fields, g)}
        if dlast is not None:
            scan_args = {k: v for k, v in a.items() if k != "D"}
            zero = _namespace(a).zeros(tuple(dout.shape), dtype=dout.dtype)
            g2 = ops.simplified_scan_vjp(zero, **scan_args, **self._scan_kw(st), h0=h0,
                                         dlast_state=dlast)
            for f, v in zip(g2._fields, g2):
                n = f[1:]
                if v is not None:
                    grads[n] = v if grads.get(n) is None else grads[n] + v
        return grads


class DiagScan(Adapter):
    """diag_scan over (..., L): every leading axis is a grid axis (``a`` and ``b`` are given the
    same number of dimensions by the public wrapper)."""

    name = "diag_scan"
    fn, vjp_fn = staticmethod(ops.diag_scan), staticmethod(ops.diag_scan_vjp)
    primary = "b"

    def __init__(self, *, nd, reverse):
        super().__init__(nd=nd, reverse=reverse)
        lead = tuple(f"r{i}" for i in range(nd - 1))
        self.grid_labels = lead
        self.state, self.out = lead, lead + ("t",)
        self.LABELS = {"a": {nd: self.out}, "b": {nd: self.out}}
        self.reverse = bool(reverse)

    def state_shape(self, a):
        x, y = a["a"], a["b"]
        return tuple(max(int(p), int(q)) for p, q in zip(x.shape, y.shape))[:-1]

    def forward(self, a, h0, st, out=True, last=True):
        h = ops.diag_scan(a["a"], a["b"], h0, **st["kw"])
        if h.shape[-1] == 0:  # no steps: the state is h0 itself
            s = h0 if h0 is not None else _namespace(a).zeros(tuple(h.shape[:-1]), dtype=h.dtype)
        else:
            # a copy, not a view: a view would keep the whole block's output alive for as long
            # as the state travels (through the tree over blocks, or to the next block)
            s = _namespace(a).asarray(h[..., 0] if self.reverse else h[..., -1], copy=True)
        return h, s

    def vjp(self, dout, a, h0, dlast, st):
        g = ops.diag_scan_vjp(dout, a["a"], a["b"], h0, dlast_state=dlast, **st["kw"])
        return {"a": g.da, "b": g.db, "h0": g.dh0}

    def transition(self, a, st):
        """prod_t a_t over the block (a constant gate of length 1: a ** L)."""
        xp = _namespace(a)
        x = a["a"]
        x = x if x.dtype == st["state_dtype"] else xp.astype(x, st["state_dtype"])
        steps = int(a["b"].shape[-1])
        p = x[..., 0] ** steps if (x.shape[-1] == 1 and steps != 1) else _product(xp, x)
        return xp.broadcast_to(p, self.state_shape(a))


_PROD_PIECE = 4096


def _product(xp, x):
    """prod over the last axis, piece by piece. A long product of gates below 1 underflows,
    and one running product through the subnormal range costs ~50 ns per element on x86 (2^20
    gates in [0.999, 1]: 225 ms, against 1.4 ms for a sum); the pieces' products stay normal
    and only the few last multiplications of the partial products are subnormal."""
    L = int(x.shape[-1])
    if L <= _PROD_PIECE:
        return xp.prod(x, axis=-1)
    parts = [xp.prod(x[..., i:i + _PROD_PIECE], axis=-1) for i in range(0, L, _PROD_PIECE)]
    return xp.prod(xp.stack(parts, axis=-1), axis=-1)
