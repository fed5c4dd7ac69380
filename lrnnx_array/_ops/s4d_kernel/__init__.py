"""S4D diagonal kernel (zoh / bilinear) via log-Vandermonde, its state path and step set-up."""

from ._api import (
    DISCRETIZATIONS,
    S4DForwardStateGrads,
    S4DKernelGrads,
    S4DKernelOut,
    S4DStep,
    s4d_kernel,
    s4d_kernel_vjp,
)
from ._state_api import s4d_forward_state, s4d_forward_state_vjp
from ._step_api import s4d_step, s4d_step_setup

__all__ = ["s4d_kernel", "s4d_kernel_vjp", "s4d_step_setup", "s4d_step", "s4d_forward_state",
           "s4d_forward_state_vjp", "S4DKernelOut", "S4DKernelGrads", "S4DForwardStateGrads",
           "S4DStep", "DISCRETIZATIONS"]
