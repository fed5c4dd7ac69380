"""Every discretization lrnnx uses (spec §2).

``method(A, delta, integration_timesteps=None) -> (A_bar, gamma_bar)``, plus ``method_vjp``.
"""

from ._api import (
    DISCRETIZE_FNS,
    DISCRETIZE_VJPS,
    METHODS,
    DiscretizeGrads,
    async_,
    async_vjp,
    bilinear,
    bilinear_vjp,
    dirac,
    dirac_vjp,
    discretize,
    discretize_vjp,
    mamba,
    mamba_vjp,
    no_discretization,
    no_discretization_vjp,
    rglru,
    rglru_vjp,
    s7,
    s7_vjp,
    zoh,
    zoh_vjp,
)

__all__ = [
    "zoh",
    "bilinear",
    "dirac",
    "mamba",
    "async_",
    "no_discretization",
    "s7",
    "rglru",
    "zoh_vjp",
    "bilinear_vjp",
    "dirac_vjp",
    "mamba_vjp",
    "async_vjp",
    "no_discretization_vjp",
    "s7_vjp",
    "rglru_vjp",
    "discretize",
    "discretize_vjp",
    "DiscretizeGrads",
    "DISCRETIZE_FNS",
    "DISCRETIZE_VJPS",
    "METHODS",
]
