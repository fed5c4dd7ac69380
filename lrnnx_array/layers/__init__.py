"""Layers shared by the models and architectures, written against the array API.

``Linear``, ``LayerNorm``, ``RMSNorm``, ``Dropout`` (training mode only, seeded) and the
activations (exact-erf GELU, SiLU, GLU, identity, ... by lrnnx's names through
:func:`get_activation`). All are :class:`lrnnx_array.models._base.Module` subclasses whose
``state_dict()`` keys are torch's (``weight``, ``bias``).

The language-model layers: ``Block`` (add -> norm -> mixer [-> add -> norm -> MLP]),
``GatedMLP``, ``MHA`` (causal softmax attention, GQA/MQA, KV-cache decoding) and ``Embedding``.
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
from .block import Block
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear
from .mha import MHA
from .mlp import GatedMLP
from .norm import LayerNorm, RMSNorm

__all__ = [
    "ACTIVATION_NAMES", "Activation", "Dropout", "LayerNorm", "Linear", "RMSNorm",
    "erf", "erfc", "gelu", "get_activation", "glu", "relu", "sigmoid", "silu", "softplus",
    "Block", "Embedding", "GatedMLP", "MHA",
]
