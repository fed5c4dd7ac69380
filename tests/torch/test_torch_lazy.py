"""torch stays optional: importing the library (and the bridge package) never imports it.

These run without torch too: that is the case they guard.
"""

import subprocess
import sys


def _modules_after(code: str) -> str:
    probe = code + "; print(','.join(m for m in ('torch', 'cupy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", "import sys; " + probe], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def test_import_lrnnx_array_keeps_torch_out():
    assert _modules_after("import lrnnx_array, lrnnx_array.ops") == ""


def test_import_the_bridge_package_keeps_torch_out():
    # the lrnnx names and the table import without torch; torch comes with the first tensor
    assert _modules_after(
        "import lrnnx_array.torch as b; b.selective_scan_fn; b.LRNNX_NAMES; "
        "import lrnnx_array.torch._functions, lrnnx_array.torch._convert"
    ) == ""


def test_numpy_calls_do_not_import_torch():
    assert _modules_after(
        "import numpy as np, lrnnx_array.ops as o; o.diag_scan(np.ones(3), np.ones(3))"
    ) == ""
