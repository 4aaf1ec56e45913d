"""Every notebook template: a parameters cell first, helpers hidden in the HTML, no outputs committed."""

import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# The parameters (results directory, datasets, methods, seeds, K); the datasets notebook
# describes data only, so methods, seeds and K do not apply to it.
PAPER_PARAMETERS = {"results_dir", "figures_dir", "datasets", "methods", "seeds", "k"}
DATA_PARAMETERS = {"results_dir", "figures_dir", "datasets"}


def test_every_paper_notebook_is_here():
    assert len(NOTEBOOKS) == 12  # the eleven of the paper plus the per-domain results view


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_template(name):
    notebook = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / f"{name}.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    names = {node.targets[0].id for node in ast.parse(code[0].source).body}
    expected = DATA_PARAMETERS if name == "datasets" else PAPER_PARAMETERS - ({"methods", "seeds"} if name == "results" else set())
    assert expected <= names, f"{name}: parameters {sorted(expected - names)} missing"
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    assert any("remove_input" in cell.metadata.get("tags", []) for cell in code)
