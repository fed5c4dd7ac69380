"""S4 DPLR kernel (Cauchy + Woodbury), C̃ handling and the dense/linear/diagonal step modes."""

from ._api import DPLRKernelGrads, DPLRKernelOut, dplr_kernel, dplr_kernel_vjp
from ._ctilde_api import c_from_tilde, c_tilde, double_length, dplr_dense
from ._state_api import dplr_forward_state
from ._step_api import (
    STEP_MODES,
    DenseStep,
    DiagonalStep,
    LinearStep,
    dplr_default_state,
    dplr_step,
    dplr_step_setup,
)

__all__ = [
    "dplr_kernel", "DPLRKernelOut", "dplr_kernel_vjp", "DPLRKernelGrads",
    "dplr_dense", "c_tilde", "c_from_tilde", "double_length",
    "dplr_step_setup", "dplr_step", "dplr_default_state", "dplr_forward_state",
    "DenseStep", "LinearStep", "DiagonalStep", "STEP_MODES",
]
