"""Models (lrnnx's ``models``): initialisers in :mod:`lrnnx_array.models.init`."""

# LTI models (lrnnx ``models.lti``). ``S5`` stays in its subpackage: lti and ltv both have one.
from . import lti
from .lti import (
    LRU,
    LTI_LRNN,
    Centaurus,
    CentaurusDWS,
    CentaurusFull,
    CentaurusNeck,
    CentaurusPWNeck,
    S4,
    S4D,
)
from . import ltv  # noqa: E402,F401  (LTV models: Mamba, RGLRU, S5, S7)
