"""The checkpoint of a training run: what lets a killed job resume exactly, and only the same run.

`checkpoint.pt` holds the trainer's state, the random number generators and the progress of the
run, next to a description of everything that determines the run: dataset, method, seed, the
sha256 of every input file and the config sections the trainer reads (`train`, `sparsity`,
`evaluate`; not `train.threads` or `train.device`, which change where a run computes, not what).

It is read with `torch.load(weights_only=True)`: tensors and plain Python values only, so a file
someone hands over cannot run code. A checkpoint that describes another run (a changed setting or
input), or that cannot be read, is set aside under a new name, never deleted, and the run starts
afresh; the job log says which file, why, and what changed.
"""

from __future__ import annotations

import datetime
import pickle
import random
from pathlib import Path

import numpy as np
import torch

from seqrec import __version__, io

FORMAT = 2  # 2: the dynamic weighting keeps moving positive counts (1: moving frequencies)
CONFIG_SECTIONS = ("train", "sparsity", "evaluate")
NOT_DETERMINING = ("threads", "device")  # train keys that change where a run computes, not what


def describe_run(*, dataset: str, method: str, seed: int, config: dict, inputs: list[Path]) -> dict:
    """Everything that determines a run, as plain values: compared key by key on resume."""
    sections = {name: config[name] for name in CONFIG_SECTIONS}
    sections["train"] = {k: v for k, v in sections["train"].items() if k not in NOT_DETERMINING}
    return {"seqrec": __version__, "dataset": dataset, "method": method, "seed": seed, **sections,
            "inputs": {Path(path).name: io.sha256(path) for path in inputs}}


def rng_state() -> dict:
    """The state of every random number generator, as tensors and plain values."""
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached_gaussian],
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, position, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: Path, run: dict, trainer_state: dict, progress: dict) -> None:
    """Write the checkpoint atomically: a kill during the write leaves the previous one intact."""
    io.save_torch({"format": FORMAT, "run": run, "trainer": trainer_state, "rng": rng_state(),
                   "progress": progress}, path)


def load(path: Path, run: dict, device: torch.device) -> dict | None:
    """The checkpoint at `path` if it belongs to `run`; None when there is none or it was set aside."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:
        return _set_aside(path, "refused: not a checkpoint of plain tensors and values (damaged, or "
                                "holding objects that could run code when loaded)")
    except (RuntimeError, EOFError, OSError) as err:
        return _set_aside(path, f"unreadable, probably truncated by a kill or a full disk ({err})")
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        return _set_aside(path, "written by another version of seqrec")
    changes = _differences(saved["run"], run)
    if changes:
        return _set_aside(path, "belongs to another run (changed: " + "; ".join(changes) + ")")
    return saved


def _set_aside(path: Path, reason: str) -> None:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.stem}.set-aside-{stamp}{path.suffix}")
    path.rename(aside)
    print(f"{path}: {reason}. Set aside as {aside.name} (not deleted); starting a fresh run.", flush=True)
    return None


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """`key: old -> new` for every leaf that differs between two run descriptions."""
    changes = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key, "(absent)"), new.get(key, "(absent)")
        if isinstance(a, dict) and isinstance(b, dict):
            changes += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            changes.append(f"{prefix}{key} {_short(a)} -> {_short(b)}")
    return changes


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 24 else text[:12] + "..."

