"""Every generated Function: forward equal to the NumPy op, gradcheck in float64 and complex128.

The public op is called with torch tensors (the routing of ``lrnnx_array.ops``), so these tests
cover the routing, the Functions and the conversions at once.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed: the bridge tests need it")

from _torch_cases import OPS, case, variants  # noqa: E402

import lrnnx_array.ops as ops  # noqa: E402
import lrnnx_array.torch as bridge  # noqa: E402
from lrnnx_array.torch._table import OP_ROWS  # noqa: E402


def _tensors(args, kwargs, requires_grad=False):
    def conv(x):
        if isinstance(x, np.ndarray):
            return torch.from_numpy(x.copy()).requires_grad_(requires_grad)
        return x

    return [conv(a) for a in args], {k: conv(v) for k, v in kwargs.items()}


def _flat(out):
    if isinstance(out, tuple):
        return [o for o in out if o is not None]
    return [out]


def test_every_row_has_a_case_and_every_case_a_row():
    assert set(OPS) == set(OP_ROWS) - {"opt_ssm_forward"}


@pytest.mark.parametrize("op,variant", variants())
def test_forward_equals_numpy_op(op, variant):
    args, kwargs = case(op, variant)
    want = getattr(ops, op)(*args, **kwargs)
    targs, tkw = _tensors(args, kwargs)
    got = getattr(ops, op)(*targs, **tkw)
    if isinstance(want, tuple):
        assert type(got) is type(want)
    else:
        assert isinstance(got, torch.Tensor)
    for g, w in zip(_flat(got), _flat(want), strict=True):
        assert isinstance(g, torch.Tensor)
        # the same NumPy computation on the same memory: bit-identical
        np.testing.assert_array_equal(g.numpy(), w)


@pytest.mark.parametrize("op,variant", variants())
def test_gradcheck(op, variant):
    args, kwargs = case(op, variant)
    targs, tkw = _tensors(args, kwargs, requires_grad=True)
    slots = [i for i, a in enumerate(targs) if isinstance(a, torch.Tensor)]
    kslots = [k for k, v in tkw.items() if isinstance(v, torch.Tensor)]
    inputs = tuple(targs[i] for i in slots) + tuple(tkw[k] for k in kslots)

    def fn(*xs):
        a, kw = list(targs), dict(tkw)
        for i, x in zip(slots, xs[: len(slots)]):
            a[i] = x
        kw.update(zip(kslots, xs[len(slots):]))
        return tuple(_flat(getattr(ops, op)(*a, **kw)))

    out = fn(*inputs)
    name = bridge.function_class(op).__name__
    assert all(name in type(o.grad_fn).__name__ for o in out), "not routed through the bridge"
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("op", ["diag_scan", "selective_scan", "dplr_kernel"])
def test_backward_equals_the_vjp(op):
    """autograd's gradients are the VJP's own numbers (plumbing only, no maths added)."""
    args, kwargs = case(op, "complex128")
    targs, tkw = _tensors(args, kwargs, requires_grad=True)
    out = _flat(getattr(ops, op)(*targs, **tkw))
    rng = np.random.default_rng(0)
    cots = [rng.normal(size=o.shape) + (1j * rng.normal(size=o.shape) if o.is_complex() else 0)
            for o in out]
    torch.autograd.backward(out, [torch.from_numpy(np.asarray(c)) for c in cots])
    row = OP_ROWS[op]
    if row.second == "pair":
        dout, extra = (tuple(cots) + (None,))[:2], {}
    else:
        dout, extra = cots[0], ({row.second: cots[1]} if len(cots) > 1 else {})
    want = getattr(ops, row.vjp)(dout, *args, **kwargs, **extra)
    pos = {n: a for n, a in zip(row.arrays, [None] * len(row.arrays))}
    import inspect

    names = list(inspect.signature(getattr(ops, op)).parameters)
    for i, a in enumerate(targs):
        if isinstance(a, torch.Tensor):
            pos[names[i]] = a
    pos.update({k: v for k, v in tkw.items() if isinstance(v, torch.Tensor)})
    for n, t in pos.items():
        if t is None:
            continue
        np.testing.assert_allclose(t.grad.numpy(), getattr(want, "d" + n), rtol=1e-12, atol=0)


def _cotangents_and_vjp_args(row, out, seed=0):
    """Random cotangents for the op's outputs and how the VJP takes them (dout, extra keywords)."""
    rng = np.random.default_rng(seed)
    cots = [rng.normal(size=o.shape) + (1j * rng.normal(size=o.shape) if o.is_complex() else 0)
            for o in out]
    if row.second == "pair":
        dout, extra = (tuple(cots) + (None,))[:2], {}
    else:
        dout, extra = cots[0], ({row.second: cots[1]} if len(cots) > 1 else {})
    return cots, dout, extra


@pytest.mark.parametrize("op,variant", variants())
def test_autograd_equals_the_reference_vjp(op, variant):
    """torch.autograd.grad through the Function (generic NumPy VJP) = the float64 oracle's VJP
    (``impl="reference"``), for every op and variant: the torch row of each family's VJP grid."""
    import inspect

    from lrnnx_array import testing

    args, kwargs = case(op, variant)
    targs, tkw = _tensors(args, kwargs, requires_grad=True)
    names = list(inspect.signature(getattr(ops, op)).parameters)
    inputs = {names[i]: a for i, a in enumerate(targs) if isinstance(a, torch.Tensor)}
    inputs.update({k: v for k, v in tkw.items() if isinstance(v, torch.Tensor)})
    out = _flat(getattr(ops, op)(*targs, **tkw))
    row = OP_ROWS[op]
    cots, dout, extra = _cotangents_and_vjp_args(row, out)
    got = torch.autograd.grad(out, list(inputs.values()),
                              [torch.from_numpy(np.asarray(c)) for c in cots], allow_unused=True)
    vjp = getattr(ops, row.vjp)
    bound = dict(zip(names, args)) | kwargs  # the op's call by name; the VJP takes its subset
    accepted = inspect.signature(vjp).parameters
    want = vjp(dout, **{k: v for k, v in bound.items() if k in accepted}, **extra,
               impl="reference")
    for (n, t), g in zip(inputs.items(), got, strict=True):
        w = getattr(want, "d" + n)
        assert (g is None) == (w is None), f"{op}: d{n} is {g} here, {type(w)} in the oracle"
        if g is not None:
            assert g.dtype == t.dtype, f"{op}: d{n} has dtype {g.dtype}, input {t.dtype}"
            testing.assert_close(g, w, check_namespace=False, check_dtype=False, normwise=True,
                                 err_msg=f"{op} ({variant}): d{n}")
