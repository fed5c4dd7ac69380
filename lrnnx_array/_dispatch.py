"""The one dispatch of the functional ops: validate once, resolve once, call one implementation.

Each op family declares one :class:`OpSpec` in its ``_api``: its array arguments (kind, required
or optional, parameter or activation), its flags, options and numbers, and its implementations as
lazily imported ``"module:function"`` names inside the family package, with a predicate per
implementation that says what it supports. A public function is then:

1. ``xp = SPEC.validate(arrays, flags=..., options=..., check_finite=...)``: the declarative
   rules (a required array that is ``None``, a Python scalar or list, an integer or bool array,
   a real-only argument that is complex, a flag that is not a bool, an unknown option), the
   namespace, and the value checks of the parameters when ``check_finite`` is true;
2. the op's own shape rules (in its ``_api``; they are free: no values are read);
3. ``name = SPEC.resolve(impl, xp, dtype)``: the implementation, chosen once;
4. ``SPEC.get(name, "forward")(xp, ...)`` with canonical, already-cast arrays.

Composites (the S4/S4D kernels, VJPs that need other ops) resolve their own implementation once
and take their children's through ``CHILD_SPEC.get(name, fn)``: no re-validation, no
second namespace detection, and no ``impl`` string below the public layer.

Decode steps, called once per token per layer, memoise what 1-3 decide on the call's signature
(``SPEC.calls``, a :class:`~lrnnx_array._dispatch_memo.CallCache`; the rules are in
``_dispatch_memo``): a repeat skips them, and the checks that read values still run.

Routing that later work adds lands in :meth:`OpSpec.resolve` and :func:`namespace_of` only: a
compiled CPU tier (an extra implementation name), torch tensors to the bridge
(``_dispatch_routing``), Dask arrays to the Dask path.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

from . import _backend, _checks
from ._dispatch_memo import CallCache
from ._dispatch_routing import _holds_tensor, route_torch, route_torch_in  # noqa: F401

IMPLS = _backend.IMPLS
_NP_XP = None


def _numpy_xp():
    global _NP_XP
    if _NP_XP is None:
        import array_api_compat.numpy as xp

        _NP_XP = xp
    return _NP_XP


class Arg(NamedTuple):
    """One array argument of an op.

    kind : ``"float"`` (real or complex floating), ``"real"`` (real floating only),
        ``"complex"`` (complex only) or ``"int"`` (an integer index array).
    required : ``None`` raises ``TypeError`` naming the argument.
    param : a parameter (A, B, C, D, biases, step sizes, ...): under ``check_finite=True`` a NaN
        or inf raises ``ValueError`` naming it. Activations (inputs, states, cotangents) are not
        value-checked: a NaN there propagates forward in time only, as in every library.
    """

    name: str
    kind: str = "float"
    required: bool = True
    param: bool = False


_KIND_TEXT = {
    "float": "a floating dtype (float32, float64, complex64, complex128)",
    "real": "a real floating dtype (float32 or float64)",
    "complex": "a complex dtype (complex64 or complex128)",
    "int": "an integer dtype",
}


def namespace_of(arrays: Mapping[str, object]):
    """The array namespace of the non-None values of ``arrays`` (name -> value).

    NumPy-only calls take a fast path (no array-api-compat inspection): decode loops call the
    state updates once per token per layer.
    """
    vals = [v for v in arrays.values() if v is not None]
    if vals and all(type(v) is np.ndarray for v in vals):
        return _numpy_xp()
    names = list(arrays)
    return _backend.namespace(*arrays.values(), names=names)


def check_flag(name: str, value) -> bool:
    """A real bool (NumPy's ``np.bool_`` too); anything else raises ``TypeError``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")


def check_number(name: str, value, *, integer: bool = False, minimum=None, positive=False):
    """A finite real Python/NumPy number (an ``int`` when ``integer``); returns it as int/float."""
    if isinstance(value, (bool, np.bool_)) or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if integer:
        if not hasattr(value, "__index__"):
            raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
        value = int(value.__index__())
    else:
        if not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
    if positive and not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


class OpSpec:
    """The declaration of one op family: arguments, options and implementations.

    Parameters
    ----------
    name : str
        The public name (used in messages).
    package : str
        The family package (``__package__`` of its ``_api``); implementation modules are
        imported relative to it on first use.
    args : sequence of Arg
        The array arguments, in signature order.
    impls : mapping
        ``{"reference": "_ref", "generic": "_generic", "cuda": "_cuda"}``: the module of each
        implementation. Every module exposes the same function names with the same canonical
        signature (``forward(xp, ...)``, ``backward(xp, ...)``, ...), so the public function
        calls ``SPEC.get(SPEC.resolve(impl, xp, dtype), "forward")(xp, ...)`` whatever runs.
    supports : mapping, optional
        ``{impl: predicate(xp, dtype) -> None or reason}``; ``auto`` skips an implementation
        whose predicate gives a reason, and an explicit request for it raises with the reason.
    options : mapping, optional
        ``{name: allowed values}`` for string options.
    auto_skip : mapping, optional
        ``{impl: predicate(xp, dtype, **ctx) -> None or reason}``: where ``auto`` passes over an
        implementation that *can* serve the call because it was measured slower there (an
        explicit request still runs it). ``ctx`` is what the public function passes to
        :meth:`resolve` beyond the dtype (e.g. the state dtype, the row count, the method).
    """

    def __init__(
        self,
        name: str,
        package: str,
        args,
        *,
        impls: Mapping[str, str],
        supports: Mapping[str, Callable] | None = None,
        options: Mapping[str, tuple] | None = None,
        auto_skip: Mapping[str, Callable] | None = None,
    ):
        self.name = name
        self.package = package
        self.args = tuple(args)
        self._by_name = {a.name: a for a in self.args}
        self.impls = dict(impls)
        self.supports = dict(supports or {})
        self.options = dict(options or {})
        self.auto_skip = dict(auto_skip or {})
        self._loaded: dict[tuple[str, str], Callable] = {}
        self.calls = CallCache()  # signature -> what the checks decided (decode steps)

    # -- validation --------------------------------------------------------------------------

    def validate(self, arrays: Mapping[str, object], *, flags=None, options=None,
                 check_finite: bool = True, extra: Mapping[str, Arg] | None = None):
        """Apply the declarative rules to ``arrays`` (name -> value); return the namespace.

        ``extra`` declares arguments that only the VJP has (cotangents).
        """
        spec = self._by_name if not extra else {**self._by_name, **extra}
        for name, value in arrays.items():
            if value is None and spec[name].required:
                raise TypeError(f"{self.name}: {name} is required (an array), got None")
        xp = namespace_of(arrays)
        for name, value in arrays.items():
            if value is not None:
                _check_kind(xp, self.name, spec[name], value)
        for name, value in (flags or {}).items():
            check_flag(name, value)
        check_flag("check_finite", check_finite)
        for name, value in (options or {}).items():
            allowed = self.options[name]
            if not isinstance(value, str) or value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if check_finite:
            self.check_values(xp, arrays, extra)
        return xp

    def check_values(self, xp, arrays: Mapping[str, object], extra=None) -> None:
        """The ``check_finite`` value checks of :meth:`validate` alone (the parameters' NaN/inf);
        a hit in :attr:`calls` runs these every call."""
        spec = self._by_name if not extra else {**self._by_name, **extra}
        for name, value in arrays.items():
            if value is not None and spec[name].param:
                check_finite_array(xp, name, value)

    # -- resolution ----------------------------------------------------------------------------

    def resolve(self, impl: str, xp, dtype=None, **ctx) -> str:
        """The implementation that runs (``auto`` resolved), or an error saying why not.

        ``dtype`` is the compute dtype, for the ``supports`` predicates; ``ctx`` goes to the
        ``auto_skip`` predicates.
        """
        if not isinstance(impl, str) or impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
        if impl in ("auto", "numba") and "numba" in self.impls:
            # The numba CPU tier (issue 13): auto takes it for NumPy inputs when it can serve
            # and was not measured slower for this call.
            picked = self._resolve_numba(impl, xp, dtype)
            skip = self.auto_skip.get("numba")
            if picked is not None and not (impl == "auto" and skip and skip(xp, dtype, **ctx)):
                return picked
        cuda_reason = self._reason("cuda", xp, dtype)
        name = _backend.resolve_impl(
            impl, xp, cuda_supported=cuda_reason is None, what=self.name, reason=cuda_reason
        )
        if name not in self.impls:
            raise ValueError(f"{self.name} has no impl={name!r} (it has {sorted(self.impls)})")
        return name

    def _resolve_numba(self, impl, xp, dtype):
        """``"numba"`` when it serves ``xp``/``dtype``; ``None`` lets ``auto`` fall through."""
        if impl == "auto" and not _backend.is_numpy(xp):
            return None
        from ._ops._shared import numba_support

        reason = numba_support.supports(xp, dtype)
        if reason is None and "numba" in self.supports and dtype is not None:
            reason = self.supports["numba"](xp, dtype)
        if reason is None:
            return "numba"
        if impl == "numba":
            raise ValueError(f"impl='numba' cannot serve {self.name} ({reason})")
        return None

    def get(self, impl: str, fn: str = "forward") -> Callable:
        """Function ``fn`` of implementation ``impl`` (its module is imported once)."""
        key = (impl, fn)
        found = self._loaded.get(key)
        if found is None:
            if impl not in self.impls:
                raise ValueError(f"{self.name} has no impl={impl!r} (it has {sorted(self.impls)})")
            module = importlib.import_module(f"{self.package}.{self.impls[impl]}")
            found = self._loaded[key] = getattr(module, fn)
        return found

    def direct(self, fn: str, dtype, arrays, reals=()):
        """``(implementation function fn of impl="auto", namespace)`` for a call whose
        ``arrays`` already have the compute dtype ``dtype`` (and ``reals`` its real
        counterpart), or ``False``.

        For a call site that builds an op's canonical arguments itself and has just run the
        public op on them (every check): it stores the answer in :attr:`calls` under the call's
        signature and, on a repeat, calls the function as the public op would have (the casts
        the public op makes are then no-ops). ``False`` (another dtype somewhere, a namespace the
        public op routes elsewhere such as torch) means the public op every time.
        """
        present = [a for a in (*arrays, *reals) if a is not None]
        xp = namespace_of(dict(enumerate(present)))
        if not (_backend.is_numpy(xp) or _backend.is_cupy(xp)):
            return False
        rdt = _checks.real_dtype_of(xp, dtype)
        if any(a is not None and a.dtype != dtype for a in arrays) or \
                any(a is not None and a.dtype != rdt for a in reals):
            return False
        return self.get(self.resolve("auto", xp, dtype), fn), xp

    def _reason(self, impl, xp, dtype):
        if impl not in self.impls:
            return f"{self.name} has no CUDA kernel"
        pred = self.supports.get(impl)
        return None if pred is None or dtype is None else pred(xp, dtype)


_KIND_OK: set = set()  # (kind, dtype) pairs already accepted: xp.isdtype costs ~1 us a call,
# and the decode steps validate ~10 arrays per token per layer.


def _check_kind(xp, op: str, arg: Arg, x) -> None:
    key = (arg.kind, type(x.dtype), x.dtype)  # the type first: libraries' dtypes never compare
    if key not in _KIND_OK:
        _check_kind_uncached(xp, op, arg, x)
        _KIND_OK.add(key)


def _check_kind_uncached(xp, op: str, arg: Arg, x) -> None:
    dt = x.dtype
    if arg.kind == "int":
        if not xp.isdtype(dt, "integral"):
            raise TypeError(f"{arg.name} must have {_KIND_TEXT['int']}, got dtype {dt}")
        return
    if xp.isdtype(dt, "real floating"):
        if arg.kind == "complex":
            raise TypeError(f"{arg.name} must have {_KIND_TEXT['complex']}, got dtype {dt}")
        return
    if xp.isdtype(dt, "complex floating"):
        if arg.kind == "real":
            raise TypeError(f"{arg.name} must have {_KIND_TEXT['real']}, got dtype {dt}")
        return
    raise TypeError(f"{arg.name} must have {_KIND_TEXT[arg.kind]}, got dtype {dt}")


def check_finite_array(xp, name: str, x) -> None:
    """Reject NaN/inf in a parameter (reads values: a host sync on GPU; only under check_finite)."""
    # NumPy directly: through the namespace wrapper the check cost 6.1 us on a (16, 128)
    # complex64 parameter vs 3.1 us, most of a 45 us decode step's overhead.
    if type(x) is np.ndarray:
        # once the numba tier is loaded, one compiled pass (numba_support.all_finite); never
        # an import of it from here
        nbs = sys.modules.get("lrnnx_array._ops._shared.numba_support")
        ok = None if nbs is None else nbs.all_finite(x)
        if ok is None:
            ok = np.isfinite(x).all()
    else:
        ok = xp.all(xp.isfinite(x))
    if not bool(ok):
        raise ValueError(
            f"{name} must be finite, got NaN or inf entries (pass check_finite=False to skip "
            "this check)"
        )


def float_dtypes(*names):
    """A ``supports`` predicate: the kernel is instantiated for these dtype names only."""
    allowed = frozenset(names)

    def pred(xp, dtype):
        for n in allowed:
            if getattr(xp, n, None) is not None and dtype == getattr(xp, n):
                return None
        return f"the kernel is instantiated for {sorted(allowed)} only, got {dtype}"

    return pred
