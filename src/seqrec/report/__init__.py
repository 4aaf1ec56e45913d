"""The report layer: the tables of the paper computed from a run's outputs, their formatting, the
figures, and what the notebooks read.

`Run` is a finished workflow run (its validated config and its results layout). Each table of the
paper is computed by one module here (`seqrec.report.tables` names them) and written as csv + tex
by the workflow's `report` step (`python -m seqrec report`); the notebooks read the tables back
with `Run.table`, draw the figures with the same modules and `seqrec.report.figures`, and explain.
Numbers are written by `seqrec.report.format`.
"""

from seqrec.report.run import Run

__all__ = ["Run"]
