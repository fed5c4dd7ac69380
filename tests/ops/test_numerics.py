"""The numerics layer at its hard edge: tiny dt*A (down to 1e-8 and below) and eigenvalues near
or at 0, where (e^x - 1)/x written naively loses every digit. Every S5 op and every
discretization, on every impl, backend and dtype, agrees with the float64 oracle evaluated on
the same (rounded) inputs to the dtype's tolerance.
"""

import numpy as np
import pytest

from lrnnx_array import discretization as D
from lrnnx_array import testing
from lrnnx_array._ops.discretization._ref import discretize_ref
from lrnnx_array._ops.simplified_scan._ref import (
    s5_inner_ref,
    s5_inner_vjp_ref,
    simplified_scan_ref,
    simplified_scan_vjp_ref,
)
from lrnnx_array._ops.simplified_state_update._ref import simplified_state_update_ref
from lrnnx_array.ops import (
    s5_inner,
    s5_inner_vjp,
    simplified_scan,
    simplified_scan_vjp,
    simplified_state_update,
)

testing.add_override("numerics_scan_vjp", 5,
                     "VJPs sum L products of complex64 terms (dA, dB, ddelta): a few ulp each")

# Eigenvalues at, near and away from 0; steps from 1e-8 up: dt*|A| spans 0 .. 1e-14 .. 1e-2.
A_EIG = np.array([-1e-6 + 0j, -1e-6 + 1e-6j, -0.5 + 1j, 0j, -1e-3 + 2e-3j])
STEPS = np.array([1e-8, 1e-6, 1e-4, 1e-2, 1e-8])
DISCS = ["zoh", "bilinear", "dirac"]


def _rdt(cdt):
    return "float32" if cdt in ("complex64", "float32") else "float64"


def _rounded(x, dtype):
    """``x`` rounded to ``dtype`` and back to float64/complex128: the oracle sees what the op
    sees."""
    return np.asarray(x, dtype=dtype).astype(np.complex128 if np.iscomplexobj(x) else np.float64)


def _s5_problem(rng, cdt, L=6):
    P = H = A_EIG.size
    u = rng.standard_normal((2, H, L))
    B = np.eye(P) + 0.1 * (rng.standard_normal((P, H)) + 1j * rng.standard_normal((P, H)))
    C = np.eye(H) + 0.1 * (rng.standard_normal((H, P)) + 1j * rng.standard_normal((H, P)))
    D_ = rng.standard_normal(H)
    h0 = rng.standard_normal((2, P)) + 1j * rng.standard_normal((2, P))
    np_args = dict(u=u, delta=STEPS, A=A_EIG, B=B, C=C, D=D_, h0=h0)
    return {k: _rounded(v, cdt if np.iscomplexobj(v) else _rdt(cdt)) for k, v in np_args.items()}


def _on(xp, v, cdt):
    return testing.from_numpy(xp, v, cdt if np.iscomplexobj(v) else _rdt(cdt))


@pytest.mark.parametrize("disc", DISCS)
def test_s5_scans_at_tiny_steps(backend_impl, complex_dtype, rng, disc):
    xp, impl = backend_impl
    pr = _s5_problem(rng, complex_dtype)
    X = {k: _on(xp, v, complex_dtype) for k, v in pr.items()}
    sargs = [pr[k] for k in ("u", "delta", "A", "B", "C")]
    xargs = [X[k] for k in ("u", "delta", "A", "B", "C")]
    y, last = simplified_scan(*xargs, None, True, disc, h0=X["h0"], impl=impl)
    want_y, want_last = simplified_scan_ref(*sargs, None, True, disc, h0=pr["h0"])
    testing.assert_close(y, _on(xp, want_y, complex_dtype))
    testing.assert_close(last, _on(xp, want_last, complex_dtype))
    out = s5_inner(*xargs, X["D"], None, disc, True, h0=X["h0"], impl=impl)
    want = s5_inner_ref(*sargs, pr["D"], None, disc, True, h0=pr["h0"])
    testing.assert_close(out, _on(xp, want, _rdt(complex_dtype)))

    g = _rounded(rng.standard_normal(want_y.shape) + 1j * rng.standard_normal(want_y.shape),
                 complex_dtype)
    got = simplified_scan_vjp(_on(xp, g, complex_dtype), *xargs, None, True, disc, h0=X["h0"],
                              impl=impl)
    ref = simplified_scan_vjp_ref(g, *sargs, None, True, disc, h0=pr["h0"])
    for name, a, w in zip(got._fields, got, ref):
        if w is not None:
            testing.assert_close(a, _on(xp, w, complex_dtype if np.iscomplexobj(w) else
                                        _rdt(complex_dtype)),
                                 override="numerics_scan_vjp", normwise=True, err_msg=name)
    gr = _rounded(rng.standard_normal(want.shape), _rdt(complex_dtype))
    got = s5_inner_vjp(_on(xp, gr, complex_dtype), *xargs, X["D"], None, disc, True,
                       h0=X["h0"], impl=impl)
    ref = s5_inner_vjp_ref(gr, *sargs, pr["D"], None, disc, True, h0=pr["h0"])
    for name, a, w in zip(got._fields, got, ref):
        if w is not None:
            testing.assert_close(a, _on(xp, w, complex_dtype if np.iscomplexobj(w) else
                                        _rdt(complex_dtype)),
                                 override="numerics_scan_vjp", normwise=True, err_msg=name)


@pytest.mark.parametrize("disc", DISCS)
def test_s5_step_at_tiny_steps(backend_impl, complex_dtype, rng, disc):
    xp, impl = backend_impl
    pr = _s5_problem(rng, complex_dtype)
    x = pr["u"][:, :, 0]
    want_s = pr["h0"].copy()
    want_y = simplified_state_update_ref(want_s, x, pr["delta"], pr["A"], pr["B"], pr["C"],
                                         None, None, disc, True)
    state = _on(xp, pr["h0"], complex_dtype)
    y = simplified_state_update(state, _on(xp, x, complex_dtype), _on(xp, pr["delta"],
                                complex_dtype), *(_on(xp, pr[k], complex_dtype)
                                                  for k in ("A", "B", "C")),
                                discretization=disc, impl=impl)
    testing.assert_close(y, _on(xp, want_y, _rdt(complex_dtype)))
    testing.assert_close(state, _on(xp, want_s, complex_dtype))


def test_s5_zoh_gamma_at_an_eigenvalue_near_zero(backend_impl, complex_dtype):
    # The review's case: one eigenvalue at -1e-6; gamma_bar ~ dt, which (e^x - 1)/A in complex64
    # got wrong by 1.3% (dt = 1) to 100% (dt = 0.01).
    xp, impl = backend_impl
    A = np.array([-1e-6 + 0j, 0j])
    for dt in (1.0, 0.1, 0.01):
        d = np.full(2, dt)
        state = _on(xp, np.zeros((1, 2), complex), complex_dtype)
        eye = _on(xp, np.eye(2, dtype=complex), complex_dtype)
        simplified_state_update(state, _on(xp, np.ones((1, 2)), complex_dtype),
                                _on(xp, d, complex_dtype), _on(xp, A, complex_dtype), eye, eye,
                                discretization="zoh", impl=impl)
        want = discretize_ref("zoh", _rounded(A, complex_dtype), _rounded(d, _rdt(complex_dtype)))
        testing.assert_close(state[0, :], _on(xp, want[1], complex_dtype))


@pytest.mark.parametrize("method", ["zoh", "async", "bilinear", "dirac", "mamba"])
def test_discretizations_at_tiny_steps(backend_impl, dtype, method):
    xp, impl = backend_impl
    if impl == "cuda":
        pytest.skip("no kernel: the generic row covers CuPy")
    cplx = dtype.startswith("complex")
    A = A_EIG if cplx else A_EIG.real
    A, dt = _rounded(A, dtype), _rounded(STEPS, _rdt(dtype) if cplx else dtype)
    tau = _rounded(np.full(A.shape, 0.5), _rdt(dtype) if cplx else dtype)
    got = D.discretize(_on(xp, A, dtype), _on(xp, dt, dtype), method, _on(xp, tau, dtype),
                       impl=impl)
    want = discretize_ref(method, A, dt, tau)
    for g, w in zip(got, want):
        testing.assert_close(g, _on(xp, w, dtype))
