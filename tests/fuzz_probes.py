"""The fuzz test's table: one valid small call per public function, built from named sizes.

``PROBES["ops.diag_scan"]`` is a :class:`Probe`: ``build(rng, **dims)`` returns the keyword
arguments of one valid call (sizes from ``dims``, so each size can be set to 0); ``params`` are the
parameters that ``check_finite=True`` must reject when non-finite; ``inplace`` is the argument the
call may write (the state of the decode steps). tests/test_fuzz.py mutates one argument at a time.
A public function without an entry here fails ``test_every_public_function_has_a_probe``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

import lrnnx_array.discretization as disc
import lrnnx_array.ops as ops


class Probe(NamedTuple):
    build: Callable
    dims: dict
    params: tuple = ()
    inplace: str | None = None
    nullable: tuple = ()  # required arguments for which None is documented (P: rank 0)
    nonflip: tuple = ()  # flags whose other value needs more arguments (C_is_tilde: l_kernel)


def _c(r, *shape):
    return r.standard_normal(shape) + 1j * r.standard_normal(shape)


def _poles(r, *shape):
    return -r.uniform(0.1, 1.0, shape) + 1j * r.uniform(0.5, 3.0, shape)


PROBES: dict[str, Probe] = {}


def _add(name, dims, params=(), inplace=None, nullable=(), nonflip=()):
    def deco(build):
        PROBES[name] = Probe(build, dims, tuple(params), inplace, tuple(nullable), tuple(nonflip))
        return build

    return deco


# -- scans --------------------------------------------------------------------------------------

@_add("ops.diag_scan", dict(batch=2, L=5))
def _(r, batch, L):
    return dict(a=r.uniform(0, 1, (batch, L)), b=r.standard_normal((batch, L)),
                h0=r.standard_normal(batch))


@_add("ops.diag_scan_vjp", dict(batch=2, L=5))
def _(r, batch, L):
    return dict(dh=r.standard_normal((batch, L)), **PROBES["ops.diag_scan"].build(r, batch, L),
                dlast_state=r.standard_normal(batch))


def _sel(r, batch, dim, N, L):
    return dict(u=r.standard_normal((batch, dim, L)), delta=r.uniform(0.1, 1, (batch, dim, L)),
                A=-r.uniform(0.5, 1, (dim, N)), B=r.standard_normal((batch, N, L)),
                C=r.standard_normal((batch, N, L)), D=r.standard_normal(dim),
                z=r.standard_normal((batch, dim, L)), delta_bias=r.uniform(0, 0.5, dim),
                h0=r.standard_normal((batch, dim, N)))


_SEL_DIMS = dict(batch=2, dim=3, N=2, L=5)
_add("ops.selective_scan", _SEL_DIMS, ("A", "D", "delta_bias"))(_sel)


@_add("ops.selective_scan_vjp", _SEL_DIMS, ("A", "D", "delta_bias"))
def _(r, batch, dim, N, L):
    return dict(dout=r.standard_normal((batch, dim, L)), **_sel(r, batch, dim, N, L),
                dlast_state=r.standard_normal((batch, dim, N)))


def _rglru(r, batch, dim, N, L):
    return dict(u=r.standard_normal((batch, dim, L)), delta=r.uniform(0, 2, (batch, dim, L)),
                A=r.uniform(0.5, 0.99, (dim, N)), h0=r.standard_normal((batch, dim, N)))


_add("ops.rglru_scan", _SEL_DIMS, ("A",))(_rglru)


@_add("ops.rglru_scan_vjp", _SEL_DIMS, ("A",))
def _(r, batch, dim, N, L):
    return dict(dout=r.standard_normal((batch, dim, L)), **_rglru(r, batch, dim, N, L),
                dlast_state=r.standard_normal((batch, dim, N)))


def _s7(r, batch, H, N, L):
    return dict(u=r.standard_normal((batch, H, L)), A=r.standard_normal((batch, N, L)),
                B=r.standard_normal((batch, N, H, L)), C=r.standard_normal((batch, H, N, L)),
                bias=r.standard_normal((batch, N, L)), h0=r.standard_normal((batch, N)))


_S7_DIMS = dict(batch=2, H=3, N=2, L=5)
_add("ops.s7_scan", _S7_DIMS)(_s7)


@_add("ops.s7_scan_vjp", _S7_DIMS)
def _(r, batch, H, N, L):
    return dict(dout=r.standard_normal((batch, H, L)), **_s7(r, batch, H, N, L),
                dlast_state=r.standard_normal((batch, N)))


def _s5(r, batch, H, P, L):
    return dict(u=r.standard_normal((batch, H, L)), delta=r.uniform(0.1, 1, P),
                A=_poles(r, P), B=_c(r, P, H), C=_c(r, H, P), h0=_c(r, batch, P))


_S5_DIMS = dict(batch=2, H=2, P=3, L=5)
_add("ops.simplified_scan", _S5_DIMS, ("A", "B", "C"))(_s5)


@_add("ops.simplified_scan_vjp", _S5_DIMS, ("A", "B", "C"))
def _(r, batch, H, P, L):
    return dict(dout=_c(r, batch, H, L), **_s5(r, batch, H, P, L),
                dlast_state=_c(r, batch, P))


@_add("ops.s5_inner", _S5_DIMS, ("A", "B", "C", "D"))
def _(r, batch, H, P, L):
    return dict(**_s5(r, batch, H, P, L), D=r.standard_normal(H))


@_add("ops.s5_inner_vjp", _S5_DIMS, ("A", "B", "C", "D"))
def _(r, batch, H, P, L):
    return dict(dout=r.standard_normal((batch, H, L)), **_s5(r, batch, H, P, L),
                D=r.standard_normal(H))


# -- decode steps (in place) --------------------------------------------------------------------

@_add("ops.selective_state_update", dict(batch=2, dim=3, N=2), ("A", "D", "dt_bias"), "state")
def _(r, batch, dim, N):
    return dict(state=r.standard_normal((batch, dim, N)), x=r.standard_normal((batch, dim)),
                dt=r.uniform(0.1, 1, (batch, dim)), A=-r.uniform(0.5, 1, (dim, N)),
                B=r.standard_normal((batch, N)), C=r.standard_normal((batch, N)),
                D=r.standard_normal(dim), z=r.standard_normal((batch, dim)),
                dt_bias=r.uniform(0, 0.5, dim))


@_add("ops.simplified_state_update", dict(batch=2, H=2, P=3), ("A", "B", "C", "D"), "state")
def _(r, batch, H, P):
    return dict(state=_c(r, batch, P), x=r.standard_normal((batch, H)),
                dt=r.uniform(0.1, 1, P), A=_poles(r, P), B=_c(r, P, H), C=_c(r, H, P),
                D=r.standard_normal((H, H)))


# -- S4D ------------------------------------------------------------------------------------------

_S4_DIMS = dict(H=2, N=2, channels=1, L=4)


def _s4d(r, H, N, channels, L):
    return dict(A=_poles(r, H, N), B=_c(r, H, N), C=_c(r, channels, H, N),
                dt=r.uniform(0.05, 0.2, H), L=L)


_add("ops.s4d_kernel", _S4_DIMS, ("A", "B", "C", "dt"))(_s4d)


@_add("ops.s4d_kernel_vjp", _S4_DIMS, ("A", "B", "C", "dt"))
def _(r, H, N, channels, L):
    return dict(dout=(r.standard_normal((channels, H, L)), None), **_s4d(r, H, N, channels, L))


@_add("ops.s4d_step_setup", dict(H=2, N=2, channels=1), ("A", "B", "C", "dt"))
def _(r, H, N, channels):
    kw = _s4d(r, H, N, channels, 1)
    del kw["L"]
    return kw


def _s4d_setup(r, H, N):
    return ops.s4d_step_setup(_poles(r, H, N), _c(r, H, N), _c(r, 1, H, N),
                              r.uniform(0.05, 0.2, H))


@_add("ops.s4d_step", dict(batch=2, H=2, N=2), ("dA", "dB", "dC"))
def _(r, batch, H, N):
    dA, dB, dC = _s4d_setup(r, H, N)
    return dict(u=r.standard_normal((batch, H)), state=_c(r, batch, H, N), dA=dA, dB=dB, dC=dC)


@_add("ops.s4d_forward_state", dict(batch=2, H=2, N=2, L=5), ("dA", "dB"), nullable=("state",))
def _(r, batch, H, N, L):
    dA, dB, _ = _s4d_setup(r, H, N)
    return dict(u=r.standard_normal((batch, H, L)), state=_c(r, batch, H, N), dA=dA, dB=dB)


@_add("ops.s4d_forward_state_vjp", dict(batch=2, H=2, N=2, L=5), ("dA", "dB"),
      nullable=("state",))
def _(r, batch, H, N, L):
    dA, dB, _ = _s4d_setup(r, H, N)
    return dict(dout=_c(r, batch, H, N), u=r.standard_normal((batch, H, L)),
                state=_c(r, batch, H, N), dA=dA, dB=dB)


# -- S4 (DPLR) -----------------------------------------------------------------------------------

def _dplr(r, H, N, channels, rank=1):
    return dict(A=_poles(r, H, N), B=_c(r, H, N), C=_c(r, channels, H, N),
                P=0.3 * _c(r, rank, H, N), dt=r.uniform(0.05, 0.2, H))


_DPLR = ("A", "B", "C", "P", "dt")


@_add("ops.dplr_kernel", _S4_DIMS, _DPLR, nullable=("P",), nonflip=("C_is_tilde",))
def _(r, H, N, channels, L):
    return dict(**_dplr(r, H, N, channels), L=L)


@_add("ops.dplr_kernel_vjp", _S4_DIMS, _DPLR, nullable=("P",), nonflip=("C_is_tilde",))
def _(r, H, N, channels, L):
    return dict(dout=(r.standard_normal((channels, H, L)), None), **_dplr(r, H, N, channels), L=L)


@_add("ops.dplr_dense", dict(H=2, N=2), ("A", "P", "B", "dt"), nullable=("P",))
def _(r, H, N):
    kw = _dplr(r, H, N, 1)
    return dict(A=kw["A"], P=kw["P"], B=kw["B"], dt=kw["dt"])


@_add("ops.c_tilde", _S4_DIMS, ("A", "C", "P", "dt"), nullable=("P",))
def _(r, H, N, channels, L):
    kw = _dplr(r, H, N, channels)
    return dict(A=kw["A"], C=kw["C"], P=kw["P"], dt=kw["dt"], L=L)


@_add("ops.c_from_tilde", _S4_DIMS, ("C_tilde", "A", "P", "dt"), nullable=("P",))
def _(r, H, N, channels, L):
    kw = _dplr(r, H, N, channels)
    return dict(C_tilde=kw["C"], A=kw["A"], P=kw["P"], dt=kw["dt"], L=L)


@_add("ops.double_length", _S4_DIMS, ("C_tilde", "A", "P", "dt"), nullable=("P",))
def _(r, H, N, channels, L):
    kw = _dplr(r, H, N, channels)
    return dict(C_tilde=kw["C"], A=kw["A"], P=kw["P"], dt=kw["dt"], l_kernel=L)


@_add("ops.dplr_step_setup", dict(H=2, N=2, channels=1), _DPLR, nullable=("P",),
      nonflip=("C_is_tilde",))
def _(r, H, N, channels):
    return _dplr(r, H, N, channels)


def _dplr_setup(r, H, N):
    return ops.dplr_step_setup(**_dplr(r, H, N, 1))


@_add("ops.dplr_step", dict(batch=2, H=2, N=2))
def _(r, batch, H, N):
    return dict(u=r.standard_normal((batch, H)), state=_c(r, batch, H, 2 * N),
                setup=_dplr_setup(r, H, N))


@_add("ops.dplr_default_state", dict(batch=2, H=2, N=2))
def _(r, batch, H, N):
    return dict(setup=_dplr_setup(r, H, N), batch=batch)


@_add("ops.dplr_forward_state", dict(batch=2, H=2, N=2, L=5), ("dA", "dB"),
      nullable=("state",))
def _(r, batch, H, N, L):
    kw = _dplr(r, H, N, 1)
    dA, dB = ops.dplr_dense(kw["A"], kw["P"], kw["B"], kw["dt"])
    return dict(u=r.standard_normal((batch, H, L)), state=_c(r, batch, H, 2 * N), dA=dA, dB=dB)


# -- kernels, Vandermonde, power, convolutions ---------------------------------------------------

@_add("ops.cauchy", dict(H=2, N=3, L=4), ("v", "w"))
def _(r, H, N, L):
    return dict(v=_c(r, H, N), z=1j * np.linspace(0, 2, L), w=_poles(r, H, N))


@_add("ops.cauchy_vjp", dict(H=2, N=3, L=4), ("v", "w"))
def _(r, H, N, L):
    return dict(dout=_c(r, H, L), **PROBES["ops.cauchy"].build(r, H, N, L))


@_add("ops.log_vandermonde", dict(H=2, N=3, L=5), ("v", "x"))
def _(r, H, N, L):
    return dict(v=_c(r, H, N), x=_poles(r, H, N), L=L)


@_add("ops.log_vandermonde_vjp", dict(H=2, N=3, L=5), ("v", "x"))
def _(r, H, N, L):
    return dict(dout=r.standard_normal((H, L)), v=_c(r, H, N), x=_poles(r, H, N), L=L)


@_add("ops.log_vandermonde_transpose", dict(H=2, N=3, L=5), ("v", "x"))
def _(r, H, N, L):
    return dict(u=r.standard_normal((H, L)), v=_c(r, H, N), x=_poles(r, H, N), L=L)


@_add("ops.log_vandermonde_transpose_vjp", dict(H=2, N=3, L=5), ("v", "x"))
def _(r, H, N, L):
    return dict(dout=_c(r, H, N), u=r.standard_normal((H, L)), v=_c(r, H, N),
                x=_poles(r, H, N), L=L)


def _matrix(r, H, N):
    return 0.5 * r.standard_normal((H, N, N)) / max(N, 1) ** 0.5


@_add("ops.power", dict(H=2, N=3, M=2), ("A",))
def _(r, H, N, M):
    return dict(L=5, A=_matrix(r, H, N), v=r.standard_normal((H, N, M)))


@_add("ops.power_vjp", dict(H=2, N=3, M=2), ("A",))
def _(r, H, N, M):
    return dict(dout=(r.standard_normal((H, N, N)), r.standard_normal((H, N))), L=5,
                A=_matrix(r, H, N), v=r.standard_normal((H, N, M)))


@_add("ops.fft_conv", dict(batch=2, L=6, H_out=2, H_in=3), ("k",))
def _(r, batch, L, H_out, H_in):
    return dict(x=r.standard_normal((batch, L, H_in)), k=r.standard_normal((L, H_out, H_in)))


@_add("ops.fft_conv_vjp", dict(batch=2, L=6, H_out=2, H_in=3), ("k",))
def _(r, batch, L, H_out, H_in):
    return dict(dy=r.standard_normal((batch, L, H_out)), x=r.standard_normal((batch, L, H_in)),
                k=r.standard_normal((L, H_out, H_in)))


@_add("ops.fft_conv_channels", dict(batch=2, H=3, L=6), ("k",))
def _(r, batch, H, L):
    return dict(u=r.standard_normal((batch, H, L)), k=r.standard_normal((H, L)))


@_add("ops.fft_conv_channels_vjp", dict(batch=2, H=3, L=6), ("k",))
def _(r, batch, H, L):
    return dict(dy=r.standard_normal((batch, H, L)), u=r.standard_normal((batch, H, L)),
                k=r.standard_normal((H, L)))


def _ssm_conv(r, batch, L, H_in, N, H_out):
    lam = 0.9 * np.exp(1j * r.uniform(0, np.pi, N))
    return dict(x=r.standard_normal((batch, L, H_in)), K=lam[:, None] ** np.arange(L),
                B_bar=_c(r, N, H_in), C=_c(r, H_out, N))


_CONV_DIMS = dict(batch=2, L=6, H_in=3, N=4, H_out=2)
_add("ops.ssm_conv", _CONV_DIMS, ("K", "B_bar", "C"))(_ssm_conv)
_add("ops.opt_ssm_forward", _CONV_DIMS, ("K", "B_bar", "C"))(_ssm_conv)


@_add("ops.ssm_conv_vjp", _CONV_DIMS, ("K", "B_bar", "C"))
def _(r, batch, L, H_in, N, H_out):
    return dict(dy=r.standard_normal((batch, L, H_out)), **_ssm_conv(r, batch, L, H_in, N, H_out))


_CC_DIMS = dict(batch=2, dim=3, L=5, width=3)


def _cconv(r, batch, dim, L, width):
    return dict(x=r.standard_normal((batch, dim, L)), weight=r.standard_normal((dim, width)),
                bias=r.standard_normal(dim), activation="silu")


@_add("ops.causal_conv1d", _CC_DIMS, ("weight", "bias"))
def _(r, batch, dim, L, width):
    return dict(**_cconv(r, batch, dim, L, width),
                initial_states=r.standard_normal((batch, dim, max(width - 1, 0))))


@_add("ops.causal_conv1d_vjp", _CC_DIMS, ("weight", "bias"))
def _(r, batch, dim, L, width):
    return dict(dout=r.standard_normal((batch, dim, L)), **_cconv(r, batch, dim, L, width),
                initial_states=r.standard_normal((batch, dim, max(width - 1, 0))),
                dfinal_states=r.standard_normal((batch, dim, max(width - 1, 0))))


@_add("ops.causal_conv1d_update", dict(batch=2, dim=3, width=3), ("weight", "bias"), "conv_state")
def _(r, batch, dim, width):
    kw = _cconv(r, batch, dim, 1, width)
    return dict(x=kw.pop("x")[..., 0], conv_state=r.standard_normal((batch, dim, width)), **kw)


# -- discretizations ---------------------------------------------------------------------------

_METHOD_A = {  # a valid A per method (rglru: a gate in (0, 1); no_discretization: A_bar itself)
    "rglru": lambda r, s: r.uniform(0.5, 0.99, s),
    "no_discretization": lambda r, s: r.uniform(0.1, 0.9, s),
}


def _disc_args(method):
    def build(r, H, N):
        A = _METHOD_A.get(method, lambda r, s: -r.uniform(0.5, 2, s))(r, (H, N))
        kw = dict(A=A, delta=r.uniform(0.1, 1, (H, 1)))
        if method == "async_":
            kw["integration_timesteps"] = r.uniform(0.5, 2, (H, 1))
        return kw

    return build


def _disc_vjp_args(method):
    def build(r, H, N):
        return dict(dout=(r.standard_normal((H, N)), r.standard_normal((H, N))),
                    **_disc_args(method)(r, H, N))

    return build


for _m in ("zoh", "bilinear", "dirac", "mamba", "async_", "no_discretization", "s7", "rglru"):
    _add(f"discretization.{_m}", dict(H=2, N=3), ("A",))(_disc_args(_m))
    _add(f"discretization.{_m.rstrip('_')}_vjp", dict(H=2, N=3), ("A",))(_disc_vjp_args(_m))


@_add("discretization.discretize", dict(H=2, N=3), ("A",))
def _(r, H, N):
    return dict(**_disc_args("zoh")(r, H, N), method="zoh")


@_add("discretization.discretize_vjp", dict(H=2, N=3), ("A",))
def _(r, H, N):
    return dict(**_disc_vjp_args("zoh")(r, H, N), method="zoh")


def public_functions() -> dict[str, Callable]:
    """``{"ops.name": f, "discretization.name": f}`` for every function in the two ``__all__``."""
    import inspect

    out = {}
    for mod, label in ((ops, "ops"), (disc, "discretization")):
        for name in mod.__all__:
            f = getattr(mod, name)
            if inspect.isfunction(f):
                out[f"{label}.{name}"] = f
    return out


def probe_for(key: str, f) -> Probe | None:
    """The entry of ``key``, or of another public name bound to the same function object
    (``ops.discretize`` is ``discretization.discretize``)."""
    import inspect

    if key in PROBES:
        return PROBES[key]
    for other, g in public_functions().items():  # unwrap: a routing wrapper is the same op
        if inspect.unwrap(g) is inspect.unwrap(f) and other in PROBES:
            return PROBES[other]
    return None
