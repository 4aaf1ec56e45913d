"""Training: determinism, resume after a kill mid-epoch, and the files a run leaves."""

import json

import pandas as pd
import pytest
import torch

from seqrec import train as train_module
from seqrec.evaluate import evaluate
from seqrec.models import load_model
from seqrec.train import train


def run(tiny_dataset, out, method="dynamic", seed=1):
    config, data, sparsity = tiny_dataset
    train(data, sparsity, out, "synthetic", method, seed, config, threads=1)
    return pd.read_csv(out / "history.csv")


def test_same_seed_gives_identical_training_and_metrics(tiny_dataset, tmp_path):
    first = run(tiny_dataset, tmp_path / "a")
    second = run(tiny_dataset, tmp_path / "b")
    columns = ["train_loss", "valid_ndcg@10", "valid_recall@10"]
    pd.testing.assert_frame_equal(first[columns], second[columns])
    config, data, sparsity = tiny_dataset
    for name in ("a", "b"):
        evaluate(data, sparsity, tmp_path / name, tmp_path / f"eval-{name}", config, threads=1)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "eval-a" / "metrics.parquet"),
                                  pd.read_parquet(tmp_path / "eval-b" / "metrics.parquet"))


def test_run_outputs(tiny_dataset, tmp_path):
    history = run(tiny_dataset, tmp_path / "run", method="fixed")
    assert list(history["epoch"]) == [1, 2, 3]
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    timing = json.loads((tmp_path / "run" / "timing.json").read_text())
    assert timing["epochs"] == 3 and timing["weighting_seconds"] >= 0 and timing["device"] == "cpu"
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    weights = pd.read_csv(tmp_path / "run" / "weights.csv")
    assert sorted(weights["epoch"].unique()) == [0, 1, 2, 3]  # before training, then every epoch
    assert set(weights["weight"]) == {1.0, 2.0}  # fixed: 2 on the target domains, constant
    model, saved = load_model(tmp_path / "run" / "model.pt")
    assert saved["method"] == "fixed" and saved["best_epoch"] == history["valid_ndcg@10"].idxmax() + 1


def test_dynamic_weights_move_with_the_batches(tiny_dataset, tmp_path):
    run(tiny_dataset, tmp_path / "run", method="dynamic")
    weights = pd.read_csv(tmp_path / "run" / "weights.csv").pivot(index="epoch", columns="domain", values="weight")
    assert not weights.iloc[0].equals(weights.iloc[-1])
    assert weights.min().min() >= 0.5 and weights.max().max() <= 5.0  # the default bounds


def test_killed_job_resumes_where_it_stopped(tiny_dataset, tmp_path, monkeypatch):
    reference = run(tiny_dataset, tmp_path / "reference")

    calls = {"n": 0}
    real_step = train_module.Trainer.train_step

    def dying_step(self, batch, timer):
        calls["n"] += 1
        if calls["n"] == 5:  # mid-way through epoch 2 (4 batches per epoch)
            raise KeyboardInterrupt("killed")
        return real_step(self, batch, timer)

    monkeypatch.setattr(train_module.Trainer, "train_step", dying_step)
    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        run(tiny_dataset, out)
    assert (out / "checkpoint.pt").exists()
    assert not any((out / name).exists() for name in ("model.pt", "history.csv", "timing.json"))

    monkeypatch.setattr(train_module.Trainer, "train_step", real_step)
    resumed = run(tiny_dataset, out)
    assert json.loads((out / "timing.json").read_text())["resumed_after_epoch"] == 1
    columns = ["epoch", "train_loss", "valid_ndcg@10"]
    pd.testing.assert_frame_equal(resumed[columns], reference[columns])
    reference_model, _ = load_model(tmp_path / "reference" / "model.pt")
    resumed_model, _ = load_model(out / "model.pt")
    for a, b in zip(reference_model.state_dict().values(), resumed_model.state_dict().values()):
        assert torch.equal(a, b)


def test_truncated_model_file_gives_clear_error(tiny_dataset, tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x80\x02 not a model")
    with pytest.raises(Exception, match="model.pt: not a readable model file"):
        load_model(path)
