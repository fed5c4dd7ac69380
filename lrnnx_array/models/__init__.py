"""Models (lrnnx's ``models``): :mod:`~lrnnx_array.models.lti` (S4, S4D, S5, LRU, Centaurus),
:mod:`~lrnnx_array.models.ltv` (Mamba, RGLRU, S5, S7), initialisers in
:mod:`lrnnx_array.models.init`.

``S5`` stays in its subpackages (``lti.S5`` and ``ltv.S5``, as in lrnnx): both have one.
"""

from . import lti, ltv
from .lti import (
    LRU,
    LTI_LRNN,
    S4,
    S4D,
    Centaurus,
    CentaurusDWS,
    CentaurusFull,
    CentaurusNeck,
    CentaurusPWNeck,
)
from .ltv import LTV_LRNN, RGLRU, S7, Mamba

__all__ = [
    "lti", "ltv",
    "LTI_LRNN", "S4", "S4D", "LRU", "Centaurus", "CentaurusNeck", "CentaurusPWNeck",
    "CentaurusDWS", "CentaurusFull",
    "LTV_LRNN", "Mamba", "RGLRU", "S7",
]
