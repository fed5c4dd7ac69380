"""Every discretization lrnnx uses (mirrors ``lrnnx.core.discretization``).

``method(A, delta, integration_timesteps=None) -> (A_bar, gamma_bar)`` and ``method_vjp``.
"""

from ._ops.discretization import (
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
    "discretize", "discretize_vjp", "DiscretizeGrads",
    "zoh", "zoh_vjp", "bilinear", "bilinear_vjp", "dirac", "dirac_vjp", "mamba", "mamba_vjp",
    "async_", "async_vjp", "no_discretization", "no_discretization_vjp", "s7", "s7_vjp",
    "rglru", "rglru_vjp",
]
