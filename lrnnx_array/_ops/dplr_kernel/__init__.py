"""S4 DPLR kernel (Cauchy + Woodbury), C̃ handling and the dense/linear/diagonal step modes."""

from ._api import (
    STEP_MODES,
    DenseStep,
    DiagonalStep,
    DPLRKernelGrads,
    DPLRKernelOut,
    LinearStep,
    c_from_tilde,
    c_tilde,
    double_length,
    dplr_default_state,
    dplr_dense,
    dplr_forward_state,
    dplr_kernel,
    dplr_kernel_vjp,
    dplr_step,
    dplr_step_setup,
)

__all__ = [
    "dplr_kernel", "DPLRKernelOut", "dplr_kernel_vjp", "DPLRKernelGrads",
    "dplr_dense", "c_tilde", "c_from_tilde", "double_length",
    "dplr_step_setup", "dplr_step", "dplr_default_state", "dplr_forward_state",
    "DenseStep", "LinearStep", "DiagonalStep", "STEP_MODES",
]
