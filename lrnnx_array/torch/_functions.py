"""``torch.autograd.Function`` classes generated from :mod:`._table`, and the bridge's entry.

Plumbing only: a Function's forward converts its tensors (zero copy), calls the public op,
saves the input tensors for the backward and hands the outputs back as tensors; its backward
converts the cotangents and calls the op's public VJP, which already returns gradients in
PyTorch's complex convention (Jᴴ applied), so nothing is conjugated here. The classes are built
on first use: importing this module imports no torch.

What is saved, and why the backward recomputes the forward
-----------------------------------------------------------
``ctx.save_for_backward`` holds the op's *inputs* (views of the caller's tensors, no copy), not
residuals: the public ops return only their outputs, and every public VJP takes the op's inputs
and rebuilds what it needs itself. So each backward runs the op's forward once more inside its
VJP: diag_scan's VJP re-runs the scan for h (one full forward) before its reverse scan;
selective_scan's re-runs the forward chunk by chunk, keeping only the chunk-boundary states
(numba: every 64 steps; array-API path: L2-sized chunks) and recomputing inside each chunk during
the reverse sweep. The bridge adds nothing to that: its backward costs what the bare NumPy VJP
costs. Measured (``python -m lrnnx_array.torch._bench``, 2 shared cores, float32, min of 5;
diag_scan R=4096 L=1024, selective_scan B=2 D=256 L=1024 N=16 variable B/C):

==============  =======  ==========  ==========  ===========  ===========
op              impl     NumPy fwd   NumPy VJP   bridge fwd   bridge bwd
==============  =======  ==========  ==========  ===========  ===========
diag_scan       auto     16 ms       68 ms       13 ms        50 ms
diag_scan       generic  143 ms      348 ms      163 ms       360 ms
selective_scan  auto     44 ms       171 ms      50 ms        171 ms
selective_scan  generic  43 ms       167 ms      46 ms        170 ms
==============  =======  ==========  ==========  ===========  ===========

backward/forward is 2.2-3.8 through the bridge and 2.4-4.2 bare. The recomputed forward is about
one forward's time of that backward (~25 % for the numba paths, ~40 % for diag_scan's
array-API path); it is the most a residual-taking VJP could save. For diag_scan the residual is
the output itself (h), but using it needs a VJP entry taking h in every implementation (NumPy,
numba, CUDA) of the op family, which the ops layer does not have; selective_scan would also
need its forward to return the chunk-boundary states. Until the ops grow such entries, the
bridge keeps the single source of truth: the op's own VJP, on the op's own inputs.
"""

from __future__ import annotations

import inspect
from functools import lru_cache

from . import _convert
from ._table import OP_ROWS, STEP_ROWS, OpRow, function_name


def _public(name: str):
    """The public function ``lrnnx_array.ops.<name>`` without the torch routing wrapper."""
    from .. import ops

    fn = getattr(ops, name)
    return getattr(fn, "__wrapped__", fn)


@lru_cache(maxsize=None)
def _signature(name: str) -> inspect.Signature:
    return inspect.signature(_public(name))


class _Call:
    """One call of an op: its bound arguments with the tensor slots named, and its outputs."""

    def __init__(self, row: OpRow, arguments: dict, slots: tuple[str, ...], device):
        self.row = row
        self.arguments = arguments  # every given argument; the slots hold tensors
        self.slots = slots
        self.device = device
        self.out_type = None  # set by the forward: how to rebuild the op's result

    def with_arrays(self, arrays) -> dict:
        args = dict(self.arguments)
        args.update(zip(self.slots, arrays))
        return args


def _flatten(out):
    """(outputs tuple, rebuild) for an op result: one array, a pair, or a NamedTuple."""
    if isinstance(out, tuple):
        kind = type(out)
        if hasattr(kind, "_fields"):
            return tuple(out), (lambda vals: kind(*vals))
        return tuple(out), tuple
    return (out,), (lambda vals: vals[0])


def _forward(ctx, call: _Call, *tensors):
    with _convert.launch_context(call.device):
        arrays = [_convert.to_backend(t) for t in tensors]
        out = _public(call.row.name)(**call.with_arrays(arrays))
        outs, rebuild = _flatten(out)
        result = tuple(_convert.from_backend(o) for o in outs)
    call.out_type = rebuild
    ctx.call = call
    ctx.save_for_backward(*tensors)
    return result


def _backward(ctx, *grads):
    call: _Call = ctx.call
    row = call.row
    tensors = ctx.saved_tensors
    with _convert.launch_context(call.device):
        arrays = call.with_arrays([_convert.to_backend(t) for t in tensors])
        cot = [None if g is None else _convert.to_backend(g) for g in grads]
        vjp_params = _signature(row.vjp).parameters
        kwargs = {k: v for k, v in arrays.items() if k in vjp_params}
        if row.name == "cauchy" and "need_dz" in vjp_params:
            # S4 keeps its nodes fixed: dz costs about one more forward, skip it when unused.
            kwargs["need_dz"] = bool(ctx.needs_input_grad[1 + call.slots.index("z")]) \
                if "z" in call.slots else False
        if row.second == "pair":
            dout = tuple(cot) if len(cot) > 1 else cot[0]
        else:
            dout = cot[0]
            if row.second is not None and len(cot) > 1 and cot[1] is not None:
                kwargs[row.second] = cot[1]
        res = _public(row.vjp)(dout, **kwargs)
        grads_out = []
        for i, name in enumerate(call.slots):
            g = getattr(res, "d" + name, None)
            grads_out.append(
                _convert.from_backend(g) if g is not None and ctx.needs_input_grad[1 + i] else None
            )
    return (None, *grads_out)


def _backward_once(ctx, *grads):
    """``_backward`` without a graph; under ``create_graph=True`` its gradients carry a node that
    raises when differentiated (the VJP runs NumPy/CuPy code autograd cannot see: a double
    backward, e.g. a gradient penalty, must fail loudly instead of treating it as a constant)."""
    torch = _convert.torch_module()
    with torch.no_grad():
        out = _backward(ctx, *grads)
    if not torch.is_grad_enabled():
        return out
    idx = [i for i, g in enumerate(out) if g is not None]
    if not idx:
        return out
    from torch._C import _functions as autograd_nodes  # what once_differentiable uses

    msg = (f"{ctx.call.row.name}: the bridge's backward is not differentiable (its VJP "
           "runs outside autograd); double backward / gradients of gradients are not supported")
    # The node is linked to the op's inputs that require grad, so a gradient of these gradients
    # reaches it (and raises) rather than finding its target "unused".
    linked = [t for t in ctx.saved_tensors if t.requires_grad]
    if not linked:
        return out
    vals = [out[i].detach() for i in idx] + linked
    wrapped = autograd_nodes.DelayedError(msg.encode(), len(vals))(*vals)
    wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
    out = list(out)
    for i, w in zip(idx, wrapped):
        out[i] = w
    return tuple(out)


@lru_cache(maxsize=None)
def function_class(op: str):
    """The ``torch.autograd.Function`` of ``op`` (one class per table row, built once)."""
    torch = _convert.torch_module()
    row = OP_ROWS[op]
    doc = (
        f"``torch.autograd.Function`` of :func:`lrnnx_array.ops.{row.name}`: forward by the "
        f"op, backward by :func:`lrnnx_array.ops.{row.vjp}`. Call it through "
        f"``lrnnx_array.ops.{row.name}`` with torch tensors (``apply`` takes a bound call)."
    )
    return type(
        function_name(op),
        (torch.autograd.Function,),
        {"forward": staticmethod(_forward), "backward": staticmethod(_backward_once),
         "__doc__": doc, "__module__": "lrnnx_array.torch"},
    )


# -- the entry point of the routing --------------------------------------------------------------


def _is_foreign_array(x) -> bool:
    # An array of another library (NumPy, CuPy...) next to tensors: refuse, never convert.
    return not _convert.is_tensor(x) and (
        hasattr(x, "__array_namespace__") or type(x).__module__.split(".")[0] in ("numpy", "cupy")
    ) and not isinstance(x, (str, bytes)) and hasattr(x, "shape")


def _collect(name: str, arguments: dict):
    """[(argument label, tensor)] found in the arguments (one level into tuples: step set-ups)."""
    found, foreign = [], []
    for key, value in arguments.items():
        items = [(key, value)]
        if isinstance(value, tuple):
            fields = getattr(value, "_fields", None) or range(len(value))
            items = [(f"{key}.{f}", v) for f, v in zip(fields, value)]
        for label, v in items:
            if _convert.is_tensor(v):
                found.append((label, v))
            elif _is_foreign_array(v):
                foreign.append((label, v))
    if found and foreign:
        label, v = foreign[0]
        raise TypeError(
            f"{name}: {label} is a {type(v).__module__.split('.')[0]} array but "
            f"{found[0][0]} is a torch tensor; all arrays must come from one library "
            "(convert explicitly, nothing is copied between libraries implicitly)"
        )
    return found


def _bind(name: str, args, kwargs) -> dict:
    bound = _signature(name).bind(*args, **kwargs)
    return dict(bound.arguments)


def call(name: str, args: tuple, kwargs: dict):
    """Run public op ``name`` on torch tensors: autograd for the table's ops, plain otherwise."""
    arguments = _bind(name, args, kwargs)
    found = _collect(name, arguments)
    if not found:  # pragma: no cover - the routing sends only calls holding a tensor
        return _public(name)(*args, **kwargs)
    device = _convert.common_device(found, name)
    row = OP_ROWS.get(name)
    if row is not None:
        slots = tuple(n for n in row.arrays if _convert.is_tensor(arguments.get(n)))
        loose = [lab for lab, _ in found if lab not in slots]
        if not loose:
            c = _Call(row, arguments, slots, device)
            out = function_class(name).apply(c, *(arguments[s] for s in slots))
            return c.out_type(out if isinstance(out, tuple) else (out,))
    return _plain_call(name, arguments, found, device)


def _plain_call(name: str, arguments: dict, found, device):
    """Convert, call, convert back; no autograd (step ops, set-ups, VJPs called directly)."""
    torch = _convert.torch_module()
    if torch.is_grad_enabled():
        needing = [lab for lab, t in found if t.requires_grad]
        if needing:
            what = ("is a VJP: autograd differentiates the op itself, and a VJP is not "
                    "differentiated again" if name.endswith("_vjp") else
                    "has no VJP (it is a decode step or a set-up, as in lrnnx)")
            raise RuntimeError(
                f"{name} {what}, but {', '.join(needing)} require grad; call it under "
                "torch.no_grad() or pass detached tensors"
            )
    inplace = STEP_ROWS[name].inplace if name in STEP_ROWS else ()
    with _convert.launch_context(device):
        converted, copied = {}, []
        for key, value in arguments.items():
            if _convert.is_tensor(value):
                arr = _convert.to_backend(value)
                if key in inplace and not _convert.shares_memory(value, arr):
                    copied.append((value, arr))
                converted[key] = arr
            elif isinstance(value, tuple) and any(_convert.is_tensor(v) for v in value):
                vals = [_convert.to_backend(v) if _convert.is_tensor(v) else v for v in value]
                converted[key] = type(value)(*vals) if hasattr(value, "_fields") else tuple(vals)
            else:
                converted[key] = value
        out = _public(name)(**converted)
        for tensor, arr in copied:  # the op wrote a copy (non-contiguous input): write it back
            tensor.copy_(_convert.from_backend(arr))
        return _to_torch(out)


def _to_torch(out):
    if isinstance(out, tuple):
        vals = [_to_torch(v) for v in out]
        return type(out)(*vals) if hasattr(out, "_fields") else tuple(vals)
    return _convert.from_backend(out)
