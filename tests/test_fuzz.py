"""Bad-input fuzz over every public function of ``lrnnx_array.ops`` and ``.discretization``.

Each function has one valid small call in tests/fuzz_probes.py; every probe here changes one
argument of that call and asserts the project's rules (README "Errors", issue 9):

* ``none``: ``None`` for a required array (or cotangent, setup) raises TypeError naming it;
* ``scalar_list``: a Python scalar or list where an array goes raises TypeError naming it;
* ``int_bool``: an integer or bool array raises TypeError naming it;
* ``flags``: a flag given ``"False"`` or ``1`` raises TypeError naming it; ``np.True_`` and
  ``np.False_`` are accepted;
* ``options``: an unknown ``impl`` or option raises ValueError naming it; a number given as a
  string (``L="2"``) raises TypeError naming it;
* ``nonfinite``: a NaN or inf in a parameter raises ValueError naming it under the default
  ``check_finite=True`` and is accepted with ``check_finite=False``;
* ``float16``: float16 inputs compute and return float32 (complex64);
* ``zero_size``: each size at 0 gives a result or a ValueError naming that size, never another
  exception.

Every probe also asserts that nothing is half-written: an input the call may not write is never
changed, and the in-place state of the decode steps is untouched when the call raises.

``python tests/test_fuzz.py REPORT.md`` runs every probe and writes the failures by function.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fuzz_probes import probe_for, public_functions  # noqa: E402

CLASSES = ("none", "scalar_list", "int_bool", "flags", "options", "nonfinite", "float16",
           "zero_size")

# Words that name a size in messages, besides the size's own name.
SIZE_WORDS = {
    "batch": ("batch", "rows"),
    "L": ("L", "seqlen", "length", "time", "l_kernel", "L'"),
    "H": ("H", "dim", "channel", "channels", "heads"),
    "dim": ("dim", "H", "channel", "channels"),
    "N": ("N", "N/2", "dstate", "d_state", "state", "states"),
    "P": ("P", "state", "states"),
    "M": ("M", "L'", "columns"),
    "channels": ("channels", "channel"),
    "H_in": ("H_in", "channel", "channels"),
    "H_out": ("H_out", "channel", "channels"),
    "width": ("width",),
}
FUNCTIONS = public_functions()


def _names(msg: str, word: str) -> bool:
    return re.search(rf"(?<![\w']){re.escape(word)}(?![\w'])", msg) is not None


def _valid(key):
    probe = probe_for(key, FUNCTIONS[key])
    return probe, probe.build(np.random.default_rng(0), **probe.dims)


def _snapshot(kw):
    return {k: v.copy() for k, v in kw.items() if isinstance(v, np.ndarray)}


def _changed(kw, snap, allowed):
    return [k for k, v in snap.items() if k != allowed and not np.array_equal(
        kw[k], v, equal_nan=True)]


class Run:
    """Calls one function with mutated keyword sets and collects the broken rules."""

    def __init__(self, key):
        self.key = key
        self.f = FUNCTIONS[key]
        self.probe, self.kw = _valid(key)
        self.sig = inspect.signature(self.f).parameters
        self.failures: list[str] = []

    def call(self, what, kw):
        """Run ``f(**kw)``; return (result, exception) after the no-half-written check."""
        snap = _snapshot(kw)
        try:
            out, exc = self.f(**kw), None
        except Exception as e:  # the probes classify every exception
            out, exc = None, e
        bad = _changed(kw, snap, None if exc is not None else self.probe.inplace)
        if bad:
            self.failures.append(f"{what}: {'raised' if exc else 'returned'} and left "
                                 f"{bad} modified")
        return out, exc

    def expect(self, what, kw, etype, name):
        _, exc = self.call(what, kw)
        if exc is None:
            self.failures.append(f"{what}: accepted (expected {etype.__name__} naming {name})")
        elif not isinstance(exc, etype):
            self.failures.append(f"{what}: {type(exc).__name__}: {_short(exc)}")
        elif name and not _names(str(exc), name):
            self.failures.append(f"{what}: {etype.__name__} not naming {name}: {_short(exc)}")

    def accept(self, what, kw):
        _, exc = self.call(what, kw)
        if exc is not None:
            self.failures.append(f"{what}: rejected a valid call: {type(exc).__name__}: "
                                 f"{_short(exc)}")

    def with_(self, **changes):
        return {**self.kw, **changes}


def _short(exc, n=140):
    s = " ".join(str(exc).split())
    return s if len(s) <= n else s[: n - 3] + "..."


def _is_float_array(v):
    return isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.inexact)


def _flags(run):
    return [n for n, p in run.sig.items() if isinstance(p.default, bool)]


def _options(run):
    out = [n for n, p in run.sig.items() if isinstance(p.default, str) and n != "impl"]
    return out + [n for n, v in run.kw.items() if isinstance(v, str) and n not in out]


def _numbers(run):
    nums = [n for n, v in run.kw.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return nums + [n for n, p in run.sig.items() if n not in nums and n not in run.kw
                   and isinstance(p.default, (int, float)) and not isinstance(p.default, bool)]


# -- the rules -----------------------------------------------------------------------------------

def rule_none(run):
    for n, v in run.kw.items():
        if run.sig[n].default is not inspect.Parameter.empty or isinstance(v, (int, float, str)):
            continue
        if n in run.probe.nullable:
            run.accept(f"{n}=None (documented)", run.with_(**{n: None}))
        else:
            run.expect(f"{n}=None", run.with_(**{n: None}), TypeError, n)


def rule_scalar_list(run):
    for n, v in run.kw.items():
        if isinstance(v, np.ndarray):
            run.expect(f"{n}=list", run.with_(**{n: v.tolist()}), TypeError, n)
            run.expect(f"{n}=1.5", run.with_(**{n: 1.5}), TypeError, n)


def rule_int_bool(run):
    for n, v in run.kw.items():
        if _is_float_array(v):
            run.expect(f"{n} int64", run.with_(**{n: np.ones(v.shape, np.int64)}), TypeError, n)
            run.expect(f"{n} bool", run.with_(**{n: np.ones(v.shape, bool)}), TypeError, n)


def rule_flags(run):
    for n in _flags(run):
        run.expect(f'{n}="False"', run.with_(**{n: "False"}), TypeError, n)
        run.expect(f"{n}=1", run.with_(**{n: 1}), TypeError, n)
        value = bool(run.kw.get(n, run.sig[n].default))
        run.accept(f"{n}=np.bool_({value})", run.with_(**{n: np.bool_(value)}))
        if n not in run.probe.nonflip:
            run.accept(f"{n}=np.bool_({not value})", run.with_(**{n: np.bool_(not value)}))


def rule_options(run):
    if "impl" in run.sig:
        run.expect('impl="nosuch"', run.with_(impl="nosuch"), ValueError, "impl")
    for n in _options(run):
        run.expect(f'{n}="nosuch"', run.with_(**{n: "nosuch"}), ValueError, n)
    for n in _numbers(run):
        run.expect(f'{n}="2"', run.with_(**{n: "2"}), TypeError, n)


def rule_nonfinite(run):
    if not run.probe.params:
        return
    if "check_finite" not in run.sig:
        run.failures.append("no check_finite keyword (its parameters "
                            f"{list(run.probe.params)} cannot be value-checked)")
        return
    for n in run.probe.params:
        for bad in (np.nan, np.inf):
            v = run.kw[n].copy()
            v.reshape(-1)[0] = bad
            run.expect(f"{n} with {bad}", run.with_(**{n: v}), ValueError, n)
            run.accept(f"{n} with {bad}, check_finite=False", run.with_(**{n: v},
                                                                          check_finite=False))


def _to_half(v, keep):
    if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.inexact):
        if np.iscomplexobj(v):
            return v.astype(np.complex64)
        return v.astype(np.float32 if keep else np.float16)
    if isinstance(v, tuple):
        items = [_to_half(x, keep) for x in v]
        return type(v)(*items) if hasattr(v, "_fields") else tuple(items)
    return v


def _float_leaves(out):
    if isinstance(out, np.ndarray) and np.issubdtype(out.dtype, np.inexact):
        yield out
    elif isinstance(out, tuple):
        for x in out:
            yield from _float_leaves(x)


def rule_float16(run):
    kw = {n: _to_half(v, n == run.probe.inplace) for n, v in run.kw.items()}
    out, exc = run.call("float16 inputs", kw)
    if exc is not None:
        run.failures.append(f"float16 inputs: {type(exc).__name__}: {_short(exc)}")
        return
    bad = sorted({str(o.dtype) for o in _float_leaves(out)} - {"float32", "complex64"})
    if bad:
        run.failures.append(f"float16 inputs: result dtype {bad} (expected float32/complex64)")


def rule_zero_size(run):
    for dim in run.probe.dims:
        sizes = {**run.probe.dims, dim: 0}
        try:
            kw = run.probe.build(np.random.default_rng(0), **sizes)
        except Exception as exc:  # the valid call's own set-up (e.g. a setup op) rejects it
            kw, what = None, f"{dim}=0 (set-up)"
            _, err = None, exc
        else:
            what = f"{dim}=0"
            _, err = run.call(what, kw)
        if err is None:
            continue
        words = SIZE_WORDS.get(dim, (dim,))
        msg = str(err)
        named = any(_names(msg, w) for w in words) or re.search(r"empty|zero|size 0", msg)
        if not isinstance(err, ValueError):
            run.failures.append(f"{what}: {type(err).__name__}: {_short(err)}")
        elif not named:
            run.failures.append(f"{what}: ValueError not naming {dim}: {_short(err)}")


RULES = {c: globals()[f"rule_{c}"] for c in CLASSES}


def run_rule(key, cls) -> list[str]:
    run = Run(key)
    with np.errstate(all="ignore"):
        RULES[cls](run)
    return run.failures


# -- tests ---------------------------------------------------------------------------------------

def test_every_public_function_has_a_probe():
    missing = [k for k, f in FUNCTIONS.items() if probe_for(k, f) is None]
    assert not missing, f"add a valid-call builder to tests/fuzz_probes.py for {missing}"


@pytest.mark.parametrize("key", sorted(FUNCTIONS))
def test_valid_call_runs(key):
    run = Run(key)
    run.accept("the valid call", run.kw)
    assert not run.failures, "\n".join(run.failures)


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("key", sorted(FUNCTIONS))
def test_bad_input(key, cls):
    if probe_for(key, FUNCTIONS[key]) is None:
        pytest.fail(f"no probe for {key}")
    failures = run_rule(key, cls)
    assert not failures, f"{key} [{cls}]:\n  " + "\n  ".join(failures)


def test_the_rules_can_fail(monkeypatch):
    """A function that accepts None, takes a string flag and half-writes its state is caught."""
    import fuzz_probes

    def sloppy(state, x, *, reverse=False, impl="auto"):
        state[...] += 1  # written before validating: an error leaves it half-written
        if x is None or impl not in ("auto",):
            raise AttributeError("'NoneType' object has no attribute 'ndim'")
        return state * x

    probe = fuzz_probes.Probe(lambda r, n: dict(state=np.zeros(n), x=np.ones(n)), dict(n=2),
                              inplace="state")
    monkeypatch.setitem(FUNCTIONS, "ops.sloppy", sloppy)
    monkeypatch.setitem(fuzz_probes.PROBES, "ops.sloppy", probe)
    none = "\n".join(run_rule("ops.sloppy", "none"))
    assert "x=None: AttributeError" in none and "left ['state'] modified" in none
    assert any('reverse="False": accepted' in f for f in run_rule("ops.sloppy", "flags"))
    assert any('impl="nosuch": AttributeError' in f for f in run_rule("ops.sloppy", "options"))


def write_report(path):
    """Run every probe; write the failures by function and class as Markdown."""
    import datetime
    import subprocess

    rows, total = [], 0
    for key in sorted(FUNCTIONS):
        for cls in CLASSES:
            fails = run_rule(key, cls) if probe_for(key, FUNCTIONS[key]) else ["no probe"]
            total += len(fails)
            rows.extend((key, cls, f) for f in fails)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=Path(__file__).parent).stdout.strip()
    by_fn: dict[str, dict[str, int]] = {}
    for key, cls, _ in rows:
        by_fn.setdefault(key, {}).setdefault(cls, 0)
        by_fn[key][cls] += 1
    lines = [
        "# Fuzz failures (tests/test_fuzz.py)",
        "",
        f"Written by `python tests/test_fuzz.py {path}` on {datetime.date.today()} at commit "
        f"{commit} (working tree, other developers' changes in flight). {len(FUNCTIONS)} public "
        f"functions x {len(CLASSES)} classes; {total} failing probes in "
        f"{len(by_fn)} functions.",
        "",
        "| function | " + " | ".join(CLASSES) + " |",
        "|---|" + "---:|" * len(CLASSES),
    ]
    for key in sorted(by_fn):
        lines.append(f"| {key} | " + " | ".join(str(by_fn[key].get(c, "")) for c in CLASSES)
                     + " |")
    lines += ["", "## Details", ""]
    for key in sorted(by_fn):
        lines.append(f"### {key}")
        for k, cls, f in rows:
            if k == key:
                lines.append(f"- [{cls}] {f}")
        lines.append("")
    Path(path).write_text("\n".join(lines))
    print(f"{total} failing probes in {len(by_fn)} functions; wrote {path}")


if __name__ == "__main__":
    write_report(sys.argv[1] if len(sys.argv) > 1 else "fuzz_failures.md")
