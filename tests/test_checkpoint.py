"""A killed training resumes only the run it belongs to: a changed setting or input, a damaged file or
a crafted pickle sets the checkpoint aside (never deleted) and starts afresh, with one line saying why."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from seqrec import train as train_module
from seqrec.config import merge, validate_config
from seqrec.train import RunFiles, train

ROOT = Path(__file__).resolve().parents[1]


def kill_mid_run(tiny_dataset, out, config=None):
    """Train until the fifth batch (mid-way through epoch 2), then die as a killed job would."""
    default, data, sparsity = tiny_dataset
    calls = {"n": 0}
    real_step = train_module.Trainer.train_step

    def dying_step(self, batch, timer):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt("killed")
        return real_step(self, batch, timer)

    train_module.Trainer.train_step = dying_step
    try:
        with pytest.raises(KeyboardInterrupt):
            train(data / "interactions.parquet", data / "items.parquet", sparsity / "domains.parquet",
                  RunFiles.in_folder(out), "synthetic", "dynamic", 1, config or default, threads=1)
    finally:
        train_module.Trainer.train_step = real_step
    assert (out / "checkpoint.pt").exists()


def rerun(tiny_dataset, out, config):
    _, data, sparsity = tiny_dataset
    train(data / "interactions.parquet", data / "items.parquet", sparsity / "domains.parquet", RunFiles.in_folder(out),
          "synthetic", "dynamic", 1, config, threads=1)
    return pd.read_csv(out / "history.csv")


def set_aside(out: Path) -> list[Path]:
    return sorted(out.glob("checkpoint.set-aside-*.pt"))


def changed(tiny_dataset, **train_settings):
    return validate_config(merge(tiny_dataset[0], {"train": train_settings}))


def test_changed_learning_rate_starts_a_fresh_run_and_keeps_the_old_checkpoint(tiny_dataset, tmp_path, capsys):
    kill_mid_run(tiny_dataset, tmp_path / "run")
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    config = changed(tiny_dataset, lr=0.03)
    resumed = rerun(tiny_dataset, tmp_path / "run", config)
    fresh = rerun(tiny_dataset, tmp_path / "fresh", config)

    log = capsys.readouterr().out
    assert "checkpoint.pt: belongs to another run (changed: train.lr 0.01 -> 0.03)" in log
    assert "starting a fresh run" in log and "resuming" not in log
    [kept] = set_aside(tmp_path / "run")
    assert kept.read_bytes() == before  # set aside byte for byte, not deleted
    assert json.loads((tmp_path / "run" / "timing.json").read_text())["resumed_after_epoch"] == 0
    columns = ["epoch", "train_loss", "valid_ndcg@10"]
    pd.testing.assert_frame_equal(resumed[columns], fresh[columns])  # the new config's run, from scratch


def test_changed_model_width_does_not_crash_the_rerun(tiny_dataset, tmp_path, capsys):
    kill_mid_run(tiny_dataset, tmp_path / "run")
    history = rerun(tiny_dataset, tmp_path / "run", changed(tiny_dataset, d_model=32))
    assert "train.d_model 16 -> 32" in capsys.readouterr().out
    assert list(history["epoch"]) == [1, 2, 3] and len(set_aside(tmp_path / "run")) == 1


def test_changed_training_data_starts_a_fresh_run(tiny_dataset, tmp_path, capsys):
    config, data, sparsity = tiny_dataset
    copy = tmp_path / "data"
    copy.mkdir()
    for name in ("interactions.parquet", "items.parquet"):
        (copy / name).write_bytes((data / name).read_bytes())
    kill_mid_run((config, copy, sparsity), tmp_path / "run")
    interactions = pd.read_parquet(copy / "interactions.parquet")
    interactions.iloc[:-10].to_parquet(copy / "interactions.parquet", index=False)
    rerun((config, copy, sparsity), tmp_path / "run", config)
    assert "changed: inputs.interactions.parquet" in capsys.readouterr().out


def test_unchanged_threads_and_device_setting_still_resume(tiny_dataset, tmp_path, capsys):
    kill_mid_run(tiny_dataset, tmp_path / "run")
    rerun(tiny_dataset, tmp_path / "run", changed(tiny_dataset, threads=2))
    assert "resuming" in capsys.readouterr().out and not set_aside(tmp_path / "run")


def test_truncated_checkpoint_is_set_aside_with_a_message(tiny_dataset, tmp_path, capsys):
    kill_mid_run(tiny_dataset, tmp_path / "run")
    path = tmp_path / "run" / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    history = rerun(tiny_dataset, tmp_path / "run", tiny_dataset[0])
    log = capsys.readouterr().out
    assert f"{path}: unreadable, probably truncated" in log and "starting a fresh run" in log
    assert list(history["epoch"]) == [1, 2, 3] and len(set_aside(tmp_path / "run")) == 1


class RunsCode:
    """Unpickling this object would run a shell command: what a crafted checkpoint does."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_crafted_checkpoint_is_refused_without_running_its_code(tiny_dataset, tmp_path):
    """Through the command line, as the workflow calls it: the pickle's code never runs."""
    config, data, sparsity = tiny_dataset
    run_dir, marker = tmp_path / "run", tmp_path / "code-ran"
    run_dir.mkdir()
    torch.save({"format": 1, "payload": RunsCode(marker)}, run_dir / "checkpoint.pt")
    result = subprocess.run(
        [sys.executable, "-m", "seqrec", "train", "--config", json.dumps(config), "--dataset", "synthetic",
         "--method", "generic", "--seed", "1", "--interactions", str(data / "interactions.parquet"),
         "--items", str(data / "items.parquet"), "--domains", str(sparsity / "domains.parquet"),
         "--model", str(run_dir / "model.pt"), "--history", str(run_dir / "history.csv"),
         "--timing", str(run_dir / "timing.json"), "--weights", str(run_dir / "weights.csv"),
         "--checkpoint", str(run_dir / "checkpoint.pt")],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    assert (f"{run_dir / 'checkpoint.pt'}: refused: not a checkpoint of plain tensors and values"
            in result.stdout)
    assert "Traceback" not in result.stdout + result.stderr
    assert len(set_aside(run_dir)) == 1 and (run_dir / "model.pt").exists()
