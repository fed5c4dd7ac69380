"""Every notebook under notebooks/ executes top to bottom without error, its cells' own asserts
hold, and the ones that plot render their figures (image/png outputs)."""

import importlib.util
import pathlib

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    # a notebook lists the optional packages it needs (torch, scikit-learn, ...) in metadata
    for mod in nb.metadata.get("lrnnx_requires", []):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{path.name} needs {mod}")
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code"), \
        "a code cell did not run"
    plots = any("matplotlib" in c.source for c in nb.cells if c.cell_type == "code")
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    if plots:
        assert figures, f"{path.name} imports matplotlib but rendered no figure"


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ is empty"
    names = {p.name for p in NOTEBOOKS}
    assert {"01_quickstart.ipynb", "02_kernels_and_discretizations.ipynb",
            "03_digits_torch.ipynb", "04_scale_out_dask.ipynb"} <= names
