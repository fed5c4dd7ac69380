"""The bridge's plumbing: zero copy on CPU (data pointers), step ops in place, bad input."""

import functools

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed: the bridge tests need it")

import lrnnx_array.ops as ops  # noqa: E402
from lrnnx_array import testing  # noqa: E402
from lrnnx_array.torch import _convert, _functions  # noqa: E402

f64 = torch.float64


def test_cpu_conversion_is_zero_copy_both_ways():
    t = torch.randn(3, 4, dtype=f64)
    a = _convert.to_backend(t)
    assert isinstance(a, np.ndarray) and a.ctypes.data == t.data_ptr()
    back = _convert.from_backend(a)
    assert back.data_ptr() == a.ctypes.data
    c = torch.randn(2, 3, dtype=torch.complex128)
    assert _convert.to_backend(c).ctypes.data == c.data_ptr()


def test_op_inputs_and_outputs_share_memory(monkeypatch):
    """The op sees views of the tensors' memory and its result becomes the output tensor."""
    seen = {}
    real = _functions._public("diag_scan")

    @functools.wraps(real)  # the bridge binds calls with the op's signature
    def spy(**kw):
        seen["a"], seen["b"] = kw["a"], kw["b"]
        seen["out"] = real(**kw)
        return seen["out"]

    monkeypatch.setattr(_functions, "_public", lambda n: spy if n == "diag_scan" else real)
    a = torch.rand(2, 5, dtype=f64, requires_grad=True)
    b = torch.randn(2, 5, dtype=f64)
    h = ops.diag_scan(a, b)
    assert seen["a"].ctypes.data == a.data_ptr() and seen["b"].ctypes.data == b.data_ptr()
    assert h.data_ptr() == seen["out"].ctypes.data


def test_non_contiguous_and_conjugated_tensors_are_made_plain_never_wrong():
    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.uniform(0.1, 0.9, (5, 2))).t()  # non-contiguous view
    b = torch.from_numpy(rng.normal(size=(2, 5)) + 1j * rng.normal(size=(2, 5))).conj()
    assert not a.is_contiguous() and b.is_conj()
    got = ops.diag_scan(a, b)
    want = ops.diag_scan(a.numpy().copy(), b.resolve_conj().numpy().copy())
    np.testing.assert_array_equal(got.numpy(), want)


def _ssu_args(state):
    one = torch.ones(1, 2, dtype=f64)
    A = -torch.ones(2, 3, dtype=f64)
    B = C = torch.ones(1, 3, dtype=f64)
    return (state, one, 0.5 * one, A, B, C)


def test_step_op_updates_the_tensor_state_in_place():
    state = torch.zeros(1, 2, 3, dtype=f64)
    ptr = state.data_ptr()
    np_state = np.zeros((1, 2, 3))
    want = ops.selective_state_update(np_state, *[a.numpy() for a in _ssu_args(state)[1:]])
    got = ops.selective_state_update(*_ssu_args(state))
    assert isinstance(got, torch.Tensor) and state.data_ptr() == ptr
    np.testing.assert_array_equal(got.numpy(), want)
    np.testing.assert_array_equal(state.numpy(), np_state)
    assert np.any(np_state != 0)


def test_step_op_on_a_non_contiguous_state_writes_back():
    base = torch.zeros(1, 3, 2, dtype=f64)
    state = base.transpose(1, 2)  # (1, 2, 3) view, not contiguous
    np_state = np.zeros((1, 2, 3))
    ops.selective_state_update(np_state, *[a.numpy() for a in _ssu_args(state)[1:]])
    ops.selective_state_update(*_ssu_args(state))
    np.testing.assert_array_equal(state.numpy(), np_state)


def test_step_op_refuses_tensors_that_require_grad():
    args = list(_ssu_args(torch.zeros(1, 2, 3, dtype=f64)))
    args[3] = args[3].clone().requires_grad_(True)
    with pytest.raises(RuntimeError, match=r"selective_state_update has no VJP.*A require grad"):
        ops.selective_state_update(*args)
    with torch.no_grad():
        ops.selective_state_update(*args)  # inference under no_grad is fine


def test_step_setups_convert_nested_tuples():
    A = torch.tensor([[-0.5 + 1j, -0.2 + 3j]], dtype=torch.complex128)
    B = torch.ones(1, 2, dtype=torch.complex128)
    C = torch.ones(1, 1, 2, dtype=torch.complex128)
    setup = ops.s4d_step_setup(A, B, C, torch.tensor([0.1], dtype=f64))
    assert type(setup).__name__ == "S4DStep" and all(isinstance(x, torch.Tensor) for x in setup)
    y, x = ops.s4d_step(torch.ones(1, 1, dtype=f64), torch.zeros(1, 1, 2, dtype=torch.complex128),
                        *setup)
    k = ops.s4d_kernel(A, B, C, torch.tensor([0.1], dtype=f64), 2).k
    np.testing.assert_allclose(y.numpy()[0, 0, 0], k.detach().numpy()[0, 0, 0], rtol=1e-12)


def test_mixed_libraries_raise_naming_the_argument():
    with pytest.raises(TypeError, match=r"diag_scan: b is a numpy array but a is a torch tensor"):
        ops.diag_scan(torch.ones(3, dtype=f64), np.ones(3))


def test_unsupported_device_raises():
    a = torch.ones(3, dtype=f64, device="meta")
    with pytest.raises(ValueError, match="a is on device meta"):
        ops.diag_scan(a, a)


def test_the_op_validates_tensors_like_arrays():
    with pytest.raises(TypeError, match="must have a floating dtype"):
        ops.diag_scan(torch.ones(3, dtype=torch.int64), torch.ones(3, dtype=torch.int64))
    with pytest.raises(TypeError, match=r"u must have a real floating dtype"):
        ops.selective_scan(torch.ones(1, 1, 2, dtype=torch.complex128),
                           *[torch.ones(s, dtype=f64) for s in ((1, 1, 2), (1, 1), (1, 1), (1, 1))])


def test_float16_tensors_compute_in_float32():
    a = torch.full((4,), 0.5, dtype=torch.float16, requires_grad=True)
    h = ops.diag_scan(a, torch.ones(4, dtype=torch.float16))
    assert h.dtype == torch.float32
    h.sum().backward()
    assert a.grad.dtype == torch.float16


def test_vjp_called_with_tensors_returns_tensors():
    a, b = torch.rand(2, 4, dtype=f64), torch.randn(2, 4, dtype=f64)
    g = ops.diag_scan_vjp(torch.ones(2, 4, dtype=f64), a, b)
    assert type(g).__name__ == "DiagScanGrads" and isinstance(g.da, torch.Tensor) and g.dh0 is None


def test_backward_cost_bench_runs():
    """The residuals measurement (python -m lrnnx_array.torch._bench) at tiny sizes: one record
    per op and impl, every time positive."""
    from lrnnx_array.torch import _bench

    rows = _bench.measure(repeat=1, impls=("generic",), small=True)
    assert [r["op"] for r in rows] == ["diag_scan", "selective_scan"]
    for r in rows:
        assert all(r[k] > 0 for k in ("numpy_fwd_ms", "numpy_vjp_ms", "bridge_fwd_ms",
                                      "bridge_bwd_ms"))


# -- bad input (issue 17): each class gets a clear error or, for layouts, the right numbers ------


def test_mixed_devices_raise_naming_both_arguments():
    a, b = torch.rand(2, 4, dtype=f64), torch.randn(2, 4, dtype=f64)
    with pytest.raises(ValueError, match=r"diag_scan: b is on device meta but a is on cpu"):
        ops.diag_scan(a, b.to("meta"))
    with pytest.raises(ValueError, match=r"diag_scan: h0 is on device meta but a is on cpu"):
        ops.diag_scan(a, b, h0=torch.zeros(2, dtype=f64, device="meta"))


def test_complex_real_mismatches_raise_naming_the_argument():
    u, dt = torch.randn(1, 2, 4, dtype=f64), torch.rand(1, 2, 4, dtype=f64)
    A, C = -torch.rand(2, 3, dtype=f64), torch.randn(2, 3, dtype=f64)
    with pytest.raises(TypeError, match=r"B is complex \(complex128\) but A is real"):
        ops.selective_scan(u, dt, A, torch.randn(2, 3, dtype=torch.complex128), C)
    with pytest.raises(TypeError, match=r"A must have a real floating dtype.*complex128"):
        ops.rglru_scan(u, dt, torch.rand(2, 1, dtype=torch.complex128))


def test_real_inputs_of_a_complex_op_get_real_gradients():
    a = torch.rand(2, 4, dtype=f64, requires_grad=True)  # real gate, complex input
    b = torch.randn(2, 4, dtype=torch.complex128, requires_grad=True)
    h = ops.diag_scan(a, b)
    assert h.dtype == torch.complex128
    (h.real.sum() + h.imag.sum()).backward()
    assert a.grad.dtype == f64 and b.grad.dtype == torch.complex128


def test_non_contiguous_and_conjugated_leaves_get_the_right_gradients():
    """Strided/conjugated tensors are copied plain for the op; the gradients are those of the
    contiguous call, on the leaves' own shapes."""
    rng = np.random.default_rng(1)
    a_np = rng.uniform(0.1, 0.9, (5, 2))
    b_np = rng.normal(size=(2, 5)) + 1j * rng.normal(size=(2, 5))
    a_leaf = torch.from_numpy(a_np.copy()).requires_grad_(True)
    b_leaf = torch.from_numpy(b_np.copy()).requires_grad_(True)
    a, b = a_leaf.t(), b_leaf.conj()  # non-contiguous view, lazy conjugate
    assert not a.is_contiguous() and b.is_conj()
    g = torch.from_numpy(rng.normal(size=(2, 5)) + 1j * rng.normal(size=(2, 5)))
    ops.diag_scan(a, b).backward(g)
    a2 = torch.from_numpy(a_np.T.copy()).requires_grad_(True)
    b2 = torch.from_numpy(np.conj(b_np)).requires_grad_(True)
    ops.diag_scan(a2, b2).backward(g)
    host = testing.to_numpy  # resolves lazy conjugate bits (b_leaf.grad may carry one)
    np.testing.assert_allclose(host(a_leaf.grad), host(a2.grad).T, rtol=1e-13, atol=0)
    # b = conj(b_leaf): PyTorch's convention gives d/d b_leaf = conj(d/d b)
    np.testing.assert_allclose(host(b_leaf.grad), np.conj(host(b2.grad)), rtol=1e-13, atol=0)


def test_vjps_and_set_ups_refuse_tensors_that_require_grad():
    a, b = torch.rand(2, 4, dtype=f64).requires_grad_(True), torch.randn(2, 4, dtype=f64)
    with pytest.raises(RuntimeError, match=r"diag_scan_vjp is a VJP.*a require grad"):
        ops.diag_scan_vjp(torch.ones(2, 4, dtype=f64), a, b)
    A = torch.tensor([[-0.5 + 1j, -0.2 + 3j]], dtype=torch.complex128, requires_grad=True)
    B = torch.ones(1, 2, dtype=torch.complex128)
    C = torch.ones(1, 1, 2, dtype=torch.complex128)
    with pytest.raises(RuntimeError, match=r"s4d_step_setup has no VJP.*A require grad"):
        ops.s4d_step_setup(A, B, C, torch.tensor([0.1], dtype=f64))


def test_double_backward_raises_instead_of_returning_zeros():
    a = torch.rand(2, 4, dtype=f64, requires_grad=True)
    b = torch.randn(2, 4, dtype=f64, requires_grad=True)
    (ga,) = torch.autograd.grad(ops.diag_scan(a, b).sum(), a, create_graph=True)
    np.testing.assert_allclose(ga.detach().numpy(), ops.diag_scan_vjp(
        np.ones((2, 4)), a.detach().numpy(), b.detach().numpy()).da, rtol=1e-14)
    # a gradient penalty would otherwise be a constant: differentiating it must fail loudly
    with pytest.raises(RuntimeError, match=r"diag_scan: the bridge's backward is not differen"):
        torch.autograd.grad(ga.sum(), b)
    with pytest.raises(RuntimeError, match=r"diag_scan: the bridge's backward is not differen"):
        (ga ** 2).sum().backward()
