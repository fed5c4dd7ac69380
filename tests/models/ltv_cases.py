"""The LTV model grid shared by the LTV tests: constructor, oracle and whether τ is used."""

import functools

import _ltv_oracles as O
import numpy as np

from lrnnx_array.models.ltv import RGLRU, S5, S7, Mamba

H, N = 8, 4


def _sd(model):
    from lrnnx_array import testing

    return {k: testing.to_numpy(v).astype(np.float64) for k, v in model.state_dict().items()}


def _mamba(disc, **kw):
    def make(**extra):
        return Mamba(H, d_state=N, dt_min=0.1, dt_max=1.0, discretization=disc, **kw, **extra)

    def oracle(m, x, ts):
        return O.mamba(_sd(m), x, d_state=m.d_state, dt_rank=m.dt_rank, disc=disc, ts=ts)

    return make, oracle, True


def _s5(disc, conj_sym, **kw):
    def make(**extra):
        return S5(H, N, discretization=disc, conj_sym=conj_sym, dt_min=0.01, dt_max=0.5, **kw,
                  **extra)

    def oracle(m, x, ts):
        return O.s5(_sd(m), x, disc=disc, conj_sym=conj_sym, step_rescale=m.step_rescale, ts=ts)

    return make, oracle, True


def _rglru(**kw):
    def make(**extra):
        return RGLRU(H, **kw, **extra)

    return make, lambda m, x, ts: O.rglru(_sd(m), x, c=m.c), False


def _s7(**kw):
    def make(**extra):
        return S7(H, N, **kw, **extra)

    return make, lambda m, x, ts: O.s7(_sd(m), x, d_state=N), False


CASES = {
    **{f"mamba-{d}": _mamba(d) for d in ("mamba", "zoh", "bilinear", "dirac")},
    "mamba-options": _mamba("zoh", bias=True, conv_bias=False, d_conv=3, expand=1, dt_rank=3),
    **{f"s5-{d}-{'cs' if cs else 'nocs'}": _s5(d, cs) for d in ("zoh", "bilinear", "dirac")
       for cs in (False, True)},
    "s5-rescale": _s5("zoh", False, step_rescale=2.0),
    "rglru": _rglru(),
    "rglru-options": _rglru(expand=2, c=4.0, bias=True, conv_bias=False, d_conv=3),
    "s7": _s7(),
    "s7-J2": _s7(J=2),
}
# (case, event mode) pairs: event mode only where the model uses τ.
MODES = [
    (c, ev) for c, (_, _, uses) in CASES.items() for ev in ((False, True) if uses else (False,))
]
MODE_IDS = [f"{c}-{'event' if ev else 'normal'}" for c, ev in MODES]


@functools.lru_cache(maxsize=None)
def data(B=2, L=9, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, L, H)), rng.uniform(0.3, 2.0, (B, L))
