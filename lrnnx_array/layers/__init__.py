"""Layers shared by the models and architectures, written against the array API.

``Linear``, ``LayerNorm``, ``RMSNorm``, ``Dropout`` (training mode only, seeded) and the
activations (exact-erf GELU, SiLU, GLU, identity, ... by lrnnx's names through
:func:`get_activation`). All are :class:`lrnnx_array.models._base.Module` subclasses whose
``state_dict()`` keys are torch's (``weight``, ``bias``).
"""

from .activations import (
    ACTIVATION_NAMES,
    Activation,
    erf,
    erfc,
    gelu,
    get_activation,
    glu,
    relu,
    sigmoid,
    silu,
    softplus,
)
from .dropout import Dropout
from .linear import Linear
from .norm import LayerNorm, RMSNorm

__all__ = [
    "ACTIVATION_NAMES", "Activation", "Dropout", "LayerNorm", "Linear", "RMSNorm",
    "erf", "erfc", "gelu", "get_activation", "glu", "relu", "sigmoid", "silu", "softplus",
]
