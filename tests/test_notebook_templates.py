"""Every notebook template: a parameters cell first (the run's config file, the results and figures
folders), no outputs committed."""

import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
PARAMETERS = {"config_path", "results_dir", "figures_dir"}  # what the notebook step passes


def test_every_paper_notebook_is_here():
    assert len(NOTEBOOKS) == 12  # the eleven of the paper plus the per-domain results view


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_template(name):
    notebook = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / f"{name}.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    names = {node.targets[0].id for node in ast.parse(code[0].source).body}
    assert names == PARAMETERS, f"{name}: parameters {sorted(names ^ PARAMETERS)} differ from the notebook step's"
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
