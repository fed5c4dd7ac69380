"""Linear time-varying models (lrnnx ``models.ltv``): Mamba, RG-LRU, S5 (Event-SSM), S7."""

from .base import LTV_LRNN
from .mamba import Mamba
from .rglru import RGLRU
from .s5 import S5
from .s7 import S7

__all__ = ["LTV_LRNN", "Mamba", "RGLRU", "S7", "S5"]
