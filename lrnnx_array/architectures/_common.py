"""What the architectures share: the mixer registry, an indexed module list, the GPT-2 init."""

from __future__ import annotations

import inspect
import math

import numpy as np

from ..models._base import Module


def mixer_registry() -> dict:
    """Mixer name -> class: lrnnx's eight names, every other model of this package, "attn"."""
    from ..layers.mha import MHA
    from ..models import lti, ltv

    return {
        "LRU": lti.LRU, "S4": lti.S4, "S4D": lti.S4D, "S5": lti.S5,
        "Centaurus": lti.Centaurus, "CentaurusNeck": lti.CentaurusNeck,
        "CentaurusPWNeck": lti.CentaurusPWNeck, "CentaurusDWS": lti.CentaurusDWS,
        "CentaurusFull": lti.CentaurusFull,
        "Mamba": ltv.Mamba, "RGLRU": ltv.RGLRU, "S7": ltv.S7,
        # lrnnx's LM registry has only the LTI S5; the Event-SSM S5 gets its own name here
        "S5LTV": ltv.S5,
        "attn": MHA,
    }


def mixer_class(name):
    reg = mixer_registry()
    if not isinstance(name, str) or name not in reg:
        raise ValueError(f"unknown mixer type {name!r}; available: {sorted(reg)}")
    return reg[name]


def takes(cls, name: str) -> bool:
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False
    return name in params


def takes_any_kwargs(cls) -> bool:
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False
    return any(p.kind is p.VAR_KEYWORD for p in params.values())


class ModuleList(Module):
    """Children named "0", "1", ... (torch's ``nn.ModuleList`` keys)."""

    def __init__(self, modules=(), *, xp=None, device=None):
        super().__init__(xp=xp, device=device)
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> None:
        self._modules[str(len(self._modules))] = module

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, i):
        n = len(self._modules)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {n} modules")
        return self._modules[str(i % n)]


def gpt2_rescale(root: Module, n_layer: int, n_residuals_per_layer: int, rng,
                 rescale_prenorm_residual: bool = True) -> None:
    """GPT-2's depth scaling: every ``out_proj.weight`` and ``fc2.weight`` redrawn from torch's
    Linear init U(+-1/sqrt(fan_in)) and divided by sqrt(n_residuals_per_layer * n_layer)."""
    if not rescale_prenorm_residual:
        return
    scale = 1.0 / math.sqrt(n_residuals_per_layer * n_layer)
    for _, mod in root.named_modules():
        for child_name in ("out_proj", "fc2"):
            child = mod._modules.get(child_name)
            if child is None or "weight" not in child._params:
                continue
            w = child._params["weight"]
            fan_in = w.shape[1]
            bound = 1.0 / math.sqrt(fan_in) if fan_in else 0.0
            new = rng.uniform(-bound, bound, tuple(w.shape)) * scale
            child._params["weight"] = child.asarray(new, dtype=w.dtype)


def zero_biases(module: Module) -> None:
    """Zero every ``bias`` of ``module``'s Linear children (lrnnx's init for MHA and MLP)."""
    from ..layers.linear import Linear

    for _, mod in module.named_modules():
        if isinstance(mod, Linear) and mod.has_bias:
            mod._params["bias"] = mod.asarray(np.zeros(tuple(mod.bias.shape)),
                                              dtype=mod.bias.dtype)


def check_ids(owner, name, ids, ndims):
    """Token ids: an integer array of one of the given ndims."""
    import array_api_compat

    if ids is None:
        raise TypeError(f"{owner}: {name} must be an integer array of token ids, got None")
    try:
        xp = array_api_compat.array_namespace(ids)
    except TypeError as exc:
        raise TypeError(f"{owner}: {name} must be an integer array of token ids, got "
                        f"{type(ids).__name__}") from exc
    if xp.isdtype(ids.dtype, "bool") or not xp.isdtype(ids.dtype, "integral"):
        raise TypeError(f"{owner}: {name} must have an integer dtype, got {ids.dtype}")
    if ids.ndim not in ndims:
        raise ValueError(f"{owner}: {name} must have {' or '.join(map(str, ndims))} dimensions, "
                         f"got shape {tuple(ids.shape)}")
    return ids
