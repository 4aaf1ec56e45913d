"""Reading and atomically writing the files the workflow passes between steps.

Every writer goes through a temporary file in the target folder and renames it into place, so a
failure (or a killed job) never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


class InputError(RuntimeError):
    """A file the user or an earlier step provided is missing or malformed."""


class OutputError(RuntimeError):
    """An output could not be written: its disk is full."""


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_full(path: str | os.PathLike) -> OutputError:
    return OutputError(f"{path}: no space left on its disk, nothing was written; free space and rerun")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    A full disk while writing becomes an OutputError naming `path`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(tmp)
        try:
            yield tmp
            os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are meant to be shared
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as err:
        if err.errno in DISK_FULL:
            raise disk_full(path) from err
        raise


def sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file, read in blocks (raw files can be gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_torch(obj: Any, path: str | os.PathLike) -> None:
    """torch.save, atomically (a model file or checkpoint is never half-written).

    torch reports a failed write, e.g. on a full disk, as a RuntimeError ("PytorchStreamWriter failed
    writing file", "basic_ios::clear: iostream error"); it becomes an OutputError naming the file.
    """
    import torch  # only the training steps need torch

    with atomic_path(path) as tmp:
        try:
            torch.save(obj, tmp)
        except RuntimeError as err:
            reason = str(err).strip().splitlines()[0]
            raise OutputError(f"{path}: could not be written ({reason}), most likely because its disk is full; "
                              "nothing was written; free space and rerun") from err


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def write_csv(frame: pd.DataFrame, path: str | os.PathLike, **kwargs: Any) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, **kwargs)


def write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(obj: Any, path: str | os.PathLike) -> None:
    write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n", path)


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays appear in statistics; JSON wants plain Python values.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def read_parquet(path: str | os.PathLike, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a parquet table, turning a missing or corrupt file into an error that says what to do."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found. Run the workflow step that produces it first.")
    try:
        table = pq.read_table(path, columns=columns)
    except (pa.ArrowInvalid, OSError) as err:
        raise InputError(
            f"{path}: not a readable parquet file ({err}). It is probably truncated: delete it and "
            "rerun the step that produces it (snakemake regenerates missing outputs)."
        ) from err
    return table.to_pandas()


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found. Run the workflow step that produces it first.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: invalid JSON ({err}); delete it and rerun its step.") from err
