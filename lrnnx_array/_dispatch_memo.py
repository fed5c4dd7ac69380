"""The dispatch's one per-call memo: what a call's checks decide, keyed on its signature.

Every :class:`~lrnnx_array._dispatch.OpSpec` holds one :class:`CallCache` (``SPEC.calls``). Its
users are the call sites that run once per token per layer in a decode loop:

* the public state updates (``selective_state_update``, ``simplified_state_update``) memoise
  their *plan* (namespace, resolved implementation, compute dtypes) on the call's signature;
* call sites that build an op's canonical arguments themselves (the LTV models' conv update,
  ``S4Kernel.step`` / ``S4DKernel.step``) run the public op on the first call of a signature
  (every check, and its result) and remember the implementation function that
  :meth:`OpSpec.direct <lrnnx_array._dispatch.OpSpec.direct>` gives for it, which later calls of
  the signature call as composites do.

Why a hit may skip the checks: ``SPEC.validate`` without its value checks, an op's shape rules,
its dtype promotion and ``SPEC.resolve`` read only each array argument's type, dtype, shape and
device, the flags' and options' types and values and ``impl``: all of them are in the key, so a
repeat of the key would pass them again with the same outcome. Only a call that passed every
check is stored, so a bad call never hits. What reads values stays per call on a hit:
``check_finite``'s NaN/inf and range checks, and a state's writeability (an array's flag, not
part of its signature).
"""

from __future__ import annotations

import numpy as np


class CallCache:
    """Per-signature memo of what an op's checks decide (the decode-step lever).

    :meth:`key` builds the key (``None`` when some argument is not an array-like with a
    hashable signature: such calls always take the full checks, which word the error);
    :meth:`get` / :meth:`put` hold up to ``maxsize`` entries (cleared when full). A key's
    ``scalars`` say what else the stored value depends on (flags, options, ``impl``, and a tag
    naming the call site when two sites store different things for one op).
    """

    def __init__(self, maxsize: int = 64):
        self._memo: dict = {}
        self._maxsize = maxsize

    @staticmethod
    def key(arrays, scalars=(), _ndarray=np.ndarray):
        """The signature of a call: ``arrays`` in signature order, ``scalars`` its flags and
        options (typed: ``True`` and ``1`` differ).

        A NumPy array's entry is ``(dtype, shape)``, any other array's ``(type, dtype, shape,
        device)``: the lengths differ, so the two never collide, and the common case builds
        the shortest key (this runs per token per layer; 0.4 us less than typing every entry).
        """
        try:
            # list comprehensions: a generator into tuple() cost 0.4 us more per decode call
            return (tuple([None if a is None else
                           (a.dtype, a.shape) if type(a) is _ndarray else
                           (type(a), a.dtype, tuple(a.shape), getattr(a, "device", None))
                           for a in arrays]),
                    scalars, tuple(map(type, scalars)))
        except AttributeError:  # not an array: the full checks word the error
            return None

    def get(self, key):
        """The stored value for ``key``, or None (also for a ``None`` key: none is stored)."""
        try:
            return self._memo.get(key)
        except TypeError:  # an unhashable part (a list option, an exotic dtype or device)
            return None

    def put(self, key, value) -> None:
        if key is None:
            return
        if len(self._memo) >= self._maxsize:
            self._memo.clear()
        try:
            self._memo[key] = value
        except TypeError:
            pass

    def clear(self) -> None:
        self._memo.clear()


