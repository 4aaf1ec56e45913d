"""The notebook step: execute a template with papermill and render it to HTML with nbconvert.

The same as `papermill TEMPLATE OUT -p ...` followed by `jupyter nbconvert --to html --no-input
--no-prompt OUT`: the page reads like a paper's appendix, prose, tables and figures without the
code (which stays in the executed notebook). Both files are written atomically, and a full disk, in
this process or in the notebook's kernel, ends in one line naming the file instead of a traceback.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError
from traitlets.config import Config

from seqrec import io

# How a kernel reports that a cell could not write a file because the disk is full.
_KERNEL_DISK_FULL = re.compile("|".join(rf"\[errno {code}\]" for code in io.DISK_FULL), re.IGNORECASE)


def render_notebook(template: str | os.PathLike, notebook: str | os.PathLike, html: str | os.PathLike,
                    parameters: dict) -> None:
    """Execute `template` with `parameters` into `notebook` (.ipynb), then render it to `html`."""
    try:
        executed = papermill.execute_notebook(str(template), None, parameters=parameters, kernel_name="python3")
    except PapermillExecutionError as err:
        if _KERNEL_DISK_FULL.search(err.evalue):
            raise io.OutputError(f"{notebook}: the notebook could not write its output ({err.evalue}); "
                                 "free space and rerun") from err
        raise
    io.write_text(nbformat.writes(executed), notebook)
    config = Config()
    config.HTMLExporter.exclude_input = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    body, _ = HTMLExporter(config=config).from_notebook_node(executed, {"metadata": {"name": Path(notebook).stem}})
    io.write_text(body, html)
