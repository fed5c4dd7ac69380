"""S4Kernel / S4DKernel modules: aliasing, kernels vs the ops and a float64 recurrence, step
modes, forward_state, rate, l_kernel handling, registry."""

from __future__ import annotations

import numpy as np
import pytest
from _s4_oracle import host, ssm_recurrence

from lrnnx_array import ops, testing
from lrnnx_array.models.lti import S4, S4D
from lrnnx_array.models.s4_kernel_interface import S4DKernel, S4Kernel, kernel_registry


def _impulse(kern, L):
    state = kern.default_state(1)
    ys = []
    for t in range(L):
        y, state = kern.step(np.full((1, kern.H), 1.0 if t == 0 else 0.0), state)
        ys.append(y[0])
    return np.stack(ys, -1), state


def test_registry_and_aliases():
    assert kernel_registry == {"s4": S4Kernel, "s4d": S4DKernel}
    m = S4(4, d_state=8, seed=0, dtype="float64")
    k = m.layer.kernel
    assert k.C is m.C and k.inv_dt is m.inv_dt
    sd = {key: host(v).copy() for key, v in m.state_dict().items()}
    sd["D"] = sd["D"] + 1  # not aliased
    sd["C"] = sd["layer.kernel.C"] = sd["C"] * 2
    m.load_state_dict(sd)
    assert k.C is m.C
    np.testing.assert_array_equal(host(k.C), sd["C"])
    assert len(m.parameters()) == 7 + 2  # SSM params once each, plus output_linear


@pytest.mark.parametrize("cls", [S4, S4D])
def test_kernel_equals_recurrence_impulse(cls, xp):
    m = cls(4, d_state=8, channels=2, seed=3, dtype="float64", xp=xp)
    L = 19
    k, ks = m.compute_kernel(L)
    assert ks is None and tuple(k.shape) == (2, 4, L)
    u = np.zeros((1, 4, L))
    u[:, :, 0] = 1.0
    want = ssm_recurrence(m, u)[0]  # impulse response of the float64 recurrence
    testing.assert_close(k, testing.from_numpy(xp, want), scale=10.0)


@pytest.mark.parametrize("mode", ["dense", "linear", "diagonal"])
def test_s4_step_modes_reproduce_the_kernel(mode):
    m = S4(4, d_state=8, seed=2, dtype="float64", rank=2, init="legt")
    kern = m.layer.kernel
    kern.setup_step(mode)
    assert kern.default_state(3, 2).shape == (3, 2, 4, 4 if mode == "linear" else 8)
    ys, _ = _impulse(kern, 12)
    testing.assert_close(ys, kern(L=12)[0], scale=1e3 if mode == "diagonal" else 10.0)
    with pytest.raises(ValueError, match="mode"):
        kern.setup_step("sparse")


def test_s4d_step_and_forward_state():
    m = S4D(4, d_state=8, seed=2, dtype="float64", disc="bilinear")
    kern = m.layer.kernel
    kern.setup_step()
    ys, _ = _impulse(kern, 10)
    testing.assert_close(ys, kern(10)[0])
    u = np.random.default_rng(0).standard_normal((2, 4, 9))
    s0 = (np.random.default_rng(1).standard_normal((2, 4, 4)) + 0j)
    state = s0
    for t in range(9):
        _, state = kern.step(u[:, :, t], state)
    testing.assert_close(kern.forward_state(u, s0), state)


def test_s4_forward_state_matches_steps():
    m = S4(4, d_state=8, seed=2, dtype="float64")
    kern = m.layer.kernel
    kern.setup_step("dense")
    u = np.random.default_rng(0).standard_normal((2, 4, 9))
    state = kern.default_state(2)
    for t in range(9):
        _, state = kern.step(u[:, :, t], state)
    testing.assert_close(kern.forward_state(u, None), state)


def test_rate_scales_dt():
    m = S4D(4, d_state=8, seed=2, dtype="float64")
    sd = {k: host(v).copy() for k, v in m.state_dict().items()}
    sd["inv_dt"] = sd["layer.kernel.inv_dt"] = sd["inv_dt"] + np.log(2.0)
    m2 = S4D.from_state_dict(sd, d_model=4, d_state=8, dtype="float64")
    testing.assert_close(m.layer.kernel(16, rate=2.0)[0], m2.layer.kernel(16)[0])
    with pytest.raises(ValueError, match="rate"):
        m.layer.kernel(16, rate=0.0)


def test_s4_lengths_and_double_length():
    m = S4(4, d_state=8, seed=2, dtype="float64", l_max=16)
    kern = m.layer.kernel
    k16 = kern()[0]  # L from l_max
    assert k16.shape == (1, 4, 16)
    testing.assert_close(kern(L=8)[0], k16[..., :8])
    with pytest.raises(ValueError, match="l_kernel > 0"):
        kern.double_length()
    with pytest.raises(ValueError, match="L is required"):
        S4(4, d_state=8, seed=0).layer.kernel()
    dt, A, B, C, P = kern.process_params()
    Ct = ops.c_tilde(A, C, P, dt, 16)
    sd = {k: host(v).copy() for k, v in m.state_dict().items()}
    sd["C"] = sd["layer.kernel.C"] = np.stack([Ct.real, Ct.imag], -1)
    sd["layer.kernel.l_kernel"] = np.asarray(16)
    t = S4.from_state_dict(sd, d_model=4, d_state=8, dtype="float64", l_max=16)
    testing.assert_close(t.layer.kernel()[0], k16)
    t.layer.kernel.double_length()
    assert int(t.layer.kernel.l_kernel) == 32
    testing.assert_close(t.layer.kernel()[0], m.layer.kernel(L=32)[0])


@pytest.mark.parametrize("kind,mode", [("s4", "dense"), ("s4", "linear"), ("s4", "diagonal"),
                                       ("s4d", "diagonal")])
def test_kernel_step_equals_the_public_op_on_every_path(kind, mode):
    """The kernel module calls the op's step implementation directly when its inputs are
    already canonical, and the public op otherwise: the same numbers either way."""
    cls = S4 if kind == "s4" else S4D
    kern = cls(4, d_state=8, seed=5, rank=2, init="legt").layer.kernel
    setup = kern.setup_step(mode)
    rng = np.random.default_rng(0)
    u = rng.standard_normal((3, 4)).astype(np.float32)
    state = kern.default_state(3) + 0.1
    op = ops.dplr_step if kind == "s4" else (lambda u, x, s: ops.s4d_step(u, x, s.dA, s.dB, s.dC))
    y, new = kern.step(u, state)
    y_op, new_op = op(u, state, setup)
    np.testing.assert_array_equal(y, y_op)
    np.testing.assert_array_equal(new, new_op)
    # not canonical (float64 input for a float32 set-up): the op promotes, so does the module
    y64, new64 = kern.step(u.astype(np.float64), state)
    assert new64.dtype == np.complex128
    y_op64, new_op64 = op(u.astype(np.float64), state, setup)
    np.testing.assert_array_equal(y64, y_op64)
    np.testing.assert_array_equal(new64, new_op64)
    with pytest.raises(ValueError, match="state"):
        kern.step(u, state[:, :2])
