"""The model base: parameters as a dict of arrays named like lrnnx's ``state_dict()`` keys.

A :class:`Module` owns parameters (trainable arrays), buffers (persistent or not) and child
modules; ``state_dict()`` flattens them with lrnnx's dotted keys in registration order, and
``load_state_dict``/``from_state_dict`` load any mapping of name -> array-like (NumPy arrays, CuPy
arrays, or torch tensors, converted without importing torch here). Parameters are checked once
(shape, dtype, finiteness) when they are set or loaded, so forwards call the ops with
``check_finite=False``: no value check (and no device sync) per call.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping

import numpy as np


def _default_xp(xp):
    if xp is None:
        import array_api_compat.numpy as np_xp

        return np_xp
    if getattr(xp, "__name__", "") in ("numpy", "cupy", "torch"):
        # torch too (issue 17): its array-API face (array_api_compat.torch); the model's ops
        # reach the torch bridge through lrnnx_array.ops
        import array_api_compat

        return array_api_compat.array_namespace(xp.empty(0))
    return xp


def _as_leaf(value):
    """torch parameters are leaf tensors that require grad (torch.optim takes parameters())."""
    is_tensor = type(value).__module__.split(".")[0] == "torch"
    if is_tensor and (value.is_floating_point() or value.is_complex()):
        if value.is_leaf and value.requires_grad:
            return value  # already one (an optimizer may hold this very object)
        return value.detach().requires_grad_(True)
    return value


def as_host_array(value, name: str) -> np.ndarray:
    """A NumPy copy of a checkpoint entry (NumPy, CuPy, torch tensor, list); raises by name."""
    if value is None:
        raise TypeError(f"state_dict entry {name!r} is None, expected an array")
    mod = type(value).__module__.split(".")[0]
    if mod == "torch":
        value = value.detach().cpu().resolve_conj()
        # numpy() refuses bfloat16/float16 only on old torch; complex views stay as stored.
        return value.numpy()
    if mod == "cupy":
        return value.get()
    return np.asarray(value)


def _param_token(value):
    """What identifies the contents of one parameter array without holding a copy of it.

    torch tensors carry a version counter that every in-place change (an optimizer step, a
    ``copy_``) bumps; host arrays (NumPy, array_api_strict) get a CRC of their bytes, read in
    place: parameters are small next to a kernel, so this costs microseconds per forward. None
    for device arrays (CuPy): checking their contents would cost a device-to-host copy and a
    synchronisation per parameter, more than rebuilding the kernel, so they are not cached.
    """
    mod = type(value).__module__.split(".")[0]
    if mod == "torch":
        return ("v", int(value._version))
    host = getattr(value, "_array", value)  # array_api_strict wraps a NumPy array
    if not isinstance(host, np.ndarray):
        return None
    host = np.ascontiguousarray(host)
    return ("crc", host.dtype.str, host.shape, zlib.crc32(memoryview(host).cast("B")))


def _grad_live(values) -> bool:
    """True when a torch forward would record a graph through these (a cached result would then
    be backpropagated twice)."""
    for v in values:
        if type(v).__module__.split(".")[0] == "torch" and getattr(v, "requires_grad", False):
            import torch

            return bool(torch.is_grad_enabled())
    return False


class KernelCache:
    """Results derived from parameters (kernels, C̃), reused in eval mode while the parameters
    are unchanged.

    An entry is valid for a ``key`` (length, rate, dtype...) and the exact parameter arrays it
    was computed from: the same objects (held here, so their ids cannot be reused by new
    arrays), with the same contents (:func:`_param_token`). A load, ``.to``, an assignment or an
    in-place update (NumPy or torch) therefore recomputes. Nothing is cached in training mode,
    while torch would record gradients through the parameters, or for device arrays whose
    contents cannot be checked cheaply (CuPy); ``clear()`` drops everything. Kept NumPy arrays
    are read-only (they are handed out again).
    """

    def __init__(self):
        self._entries: dict = {}  # kind -> (key, arrays, tokens, value): the latest one only

    def clear(self) -> None:
        self._entries.clear()

    def get(self, module, kind: str, key, params, compute):
        """``compute()``, or its value from the last call with this ``kind``, ``key`` and
        ``params`` (a sequence of the arrays the result depends on)."""
        params = tuple(params)
        if module.training or _grad_live(params):
            return compute()
        tokens = tuple(_param_token(p) for p in params)
        if None in tokens:
            return compute()
        hit = self._entries.get(kind)
        if hit is not None:
            k, arrays, toks, value = hit
            if k == key and toks == tokens and len(arrays) == len(params) and \
                    all(a is b for a, b in zip(arrays, params)):
                return value
        value = compute()
        _freeze(value)
        self._entries[kind] = (key, params, tokens, value)
        return value


def _freeze(value) -> None:
    """Make kept NumPy results read-only: they are handed out again, so a caller's in-place
    write would change later forwards (it raises instead)."""
    for v in value if isinstance(value, tuple) else (value,):
        host = getattr(v, "_array", v)
        if isinstance(host, np.ndarray):
            host.flags.writeable = False


class Module:
    """Base class of every model and layer (``xp=`` and ``device=`` say where arrays live)."""

    def __init__(self, *, xp=None, device=None):
        object.__setattr__(self, "_params", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_persistent", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "xp", _default_xp(xp))
        object.__setattr__(self, "device", device)
        object.__setattr__(self, "training", True)

    # -- registration ------------------------------------------------------------------------

    def asarray(self, value, dtype=None):
        """``value`` as an array of this module's namespace and device."""
        xp = self.xp
        if self.device is not None:
            return xp.asarray(value, dtype=dtype, device=self.device)
        return xp.asarray(value, dtype=dtype)

    def register_parameter(self, name: str, value) -> None:
        self._params[name] = _as_leaf(self.asarray(value))

    def register_buffer(self, name: str, value, persistent: bool = True) -> None:
        self._buffers[name] = None if value is None else self.asarray(value)
        if persistent:
            self._persistent.add(name)
        else:
            self._persistent.discard(name)

    def __setattr__(self, name, value):
        if name in self._params:
            self._params[name] = _as_leaf(value)
        elif name in self._buffers:
            self._buffers[name] = value
        else:
            if isinstance(value, Module):
                self._modules[name] = value
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only called when normal lookup fails: parameters, buffers and children.
        for store in ("_params", "_buffers", "_modules"):
            d = self.__dict__.get(store)
            if d is not None and name in d:
                return d[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    # -- traversal -----------------------------------------------------------------------------

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}{name}.")

    def named_parameters(self) -> Iterator[tuple[str, object]]:
        """Each parameter once, under its first name (aliases such as S4's ``layer.kernel.*``
        are the same arrays: listed twice, an optimizer would step them twice)."""
        seen = set()
        for prefix, mod in self.named_modules():
            for name, value in mod._params.items():
                if id(value) in seen:
                    continue
                seen.add(id(value))
                yield prefix + name, value

    def parameters(self) -> list:
        return [v for _, v in self.named_parameters()]

    def state_dict(self) -> dict:
        """lrnnx's keys, in registration order: own parameters, persistent buffers, children."""
        out = {}
        for prefix, mod in self.named_modules():
            for name, value in mod._params.items():
                out[prefix + name] = value
            for name, value in mod._buffers.items():
                if name in mod._persistent and value is not None:
                    out[prefix + name] = value
        return out

    def _slot(self, key: str):
        """(module, store, name) that holds the flattened ``key``."""
        *path, name = key.split(".")
        mod = self
        for p in path:
            mod = mod._modules.get(p)
            if mod is None:
                return None
        for store in (mod._params, mod._buffers):
            if name in store:
                return mod, store, name
        return None

    def load_state_dict(self, state_dict: Mapping, strict: bool = True) -> None:
        """Load lrnnx-named arrays; shapes must match, values are cast to each entry's dtype.

        Every value is checked before anything is written, so a failed load changes nothing.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict must be a mapping, got {type(state_dict).__name__}")
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        staged = []
        for key, value in state_dict.items():
            if key not in own:
                continue
            host = as_host_array(value, key)
            cur = own[key]
            if tuple(host.shape) != tuple(cur.shape):
                raise ValueError(
                    f"state_dict entry {key!r} has shape {tuple(host.shape)}, "
                    f"expected {tuple(cur.shape)}"
                )
            if host.dtype.kind in "fc" and not np.all(np.isfinite(host)):
                raise ValueError(f"state_dict entry {key!r} has NaN or inf entries")
            staged.append((key, self.asarray(host, dtype=cur.dtype)))
        for key, arr in staged:
            mod, store, name = self._slot(key)
            store[name] = _as_leaf(arr) if store is mod._params else arr
        self._drop_kernel_caches()
        self._after_load()

    def _drop_kernel_caches(self) -> None:
        """Free kept kernels (they would be recomputed anyway: their arrays were replaced)."""
        for _, mod in self.named_modules():
            cache = mod.__dict__.get("_kernel_cache")
            if cache is not None:
                cache.clear()

    def _after_load(self) -> None:
        """Hook for models that derive cached quantities from their parameters."""

    @classmethod
    def from_state_dict(cls, state_dict: Mapping, *, strict: bool = True, **kwargs):
        """Build with ``kwargs`` (lrnnx's constructor arguments), then load ``state_dict``."""
        model = cls(**kwargs)
        model.load_state_dict(state_dict, strict=strict)
        return model

    # -- placement and mode --------------------------------------------------------------------

    def to(self, xp=None, device=None, dtype=None):
        """Move every array to namespace ``xp`` / ``device`` (and cast floats to ``dtype``)."""
        new_xp = _default_xp(xp) if xp is not None else self.xp
        for _, mod in self.named_modules():
            object.__setattr__(mod, "xp", new_xp)
            object.__setattr__(mod, "device", device)
            for store in (mod._params, mod._buffers):
                for name, value in list(store.items()):
                    if value is None:
                        continue
                    host = as_host_array(value, name)
                    cast = host.dtype
                    if dtype is not None and host.dtype.kind == "f":
                        cast = np.dtype(dtype)
                    elif dtype is not None and host.dtype.kind == "c":
                        # float64 makes complex parameters complex128 (lrnnx's .double() does not)
                        cast = np.result_type(np.dtype(dtype), np.complex64)
                    arr = mod.asarray(host.astype(cast))
                    store[name] = _as_leaf(arr) if store is mod._params else arr
        self._drop_kernel_caches()
        return self

    def train(self, mode: bool = True):
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"mode must be a bool, got {type(mode).__name__}")
        for _, mod in self.named_modules():
            object.__setattr__(mod, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError
