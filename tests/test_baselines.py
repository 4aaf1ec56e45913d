"""Every method through the shared trainer and evaluation: the loss falls, the same seed gives the
same metrics, weightings combine with the baselines, and every neural baseline beats `pop` on the
synthetic default within the training budget of config/config.yaml."""

import json
from pathlib import Path

import pandas as pd
import torch
import pytest

from seqrec.config import load_config
from seqrec.datasets import synthetic
from seqrec.evaluate import EvalFiles, evaluate
from seqrec.models import load_model
from seqrec.prepare import prepare
from seqrec.text import write_item_embeddings
from seqrec.train import RunFiles, Trainer, train
from seqrec.weighting import SparsityFiles, sparsity_step

NEURAL_BASELINES = ["sigma", "calrec", "sparseennet"]


@pytest.fixture(scope="module")
def tiny_text(tiny_dataset, tmp_path_factory):
    config, data, _ = tiny_dataset
    path = tmp_path_factory.mktemp("text") / "item_embeddings.parquet"
    write_item_embeddings(data / "items.parquet", path, config["text"]["encoder"], config["text"]["batch_size"], "cpu")
    return path


def train_and_evaluate(data, sparsity, run, evaluation, method, seed, config, threads, text):
    train(data / "interactions.parquet", data / "items.parquet", sparsity / "domains.parquet", RunFiles.in_folder(run),
          "synthetic", method, seed, config, threads=threads, text_embeddings=text)
    evaluate(data / "interactions.parquet", data / "items.parquet", sparsity / "power_users.parquet",
             run / "model.pt", EvalFiles.in_folder(evaluation), config, threads=threads)


def run(tiny_dataset, tiny_text, out, method, seed=1):
    config, data, sparsity = tiny_dataset
    train_and_evaluate(data, sparsity, out / "run", out / "eval", method, seed, config, 1, tiny_text)
    return pd.read_csv(out / "run" / "history.csv"), pd.read_parquet(out / "eval" / "metrics.parquet")


@pytest.mark.parametrize("method", NEURAL_BASELINES)
def test_baseline_trains_and_is_deterministic(tiny_dataset, tiny_text, tmp_path, method):
    history, metrics = run(tiny_dataset, tiny_text, tmp_path / "a", method)
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    _, again = run(tiny_dataset, tiny_text, tmp_path / "b", method)
    pd.testing.assert_frame_equal(metrics, again)
    model, saved = load_model(tmp_path / "a" / "run" / "model.pt")
    assert saved["architecture"] == method and type(model).__name__.lower() == method


def test_pop_is_fitted_in_one_pass_and_ranks_by_training_count(tiny_dataset, tiny_text, tmp_path, capsys):
    history, _ = run(tiny_dataset, tiny_text, tmp_path, "pop")
    assert list(history["epoch"]) == [1]
    log = capsys.readouterr().out
    assert "epoch 1: fitted, no training loss  valid NDCG@10" in log and "nan" not in log
    config, data, _ = tiny_dataset
    interactions = pd.read_parquet(data / "interactions.parquet")
    counts = interactions.loc[interactions["split"] == "train", "item"].value_counts()
    model, _ = load_model(tmp_path / "run" / "model.pt")
    scores = model.item_embeddings().squeeze(1)
    assert scores[counts.index[0]] == counts.iloc[0] == scores.max()
    assert scores[0] == 0  # padding is never recommended


def test_a_weighting_reaches_a_baselines_loss(tiny_dataset, tiny_text, tmp_path):
    history, _ = run(tiny_dataset, tiny_text, tmp_path / "weighted", "sparseennet+dynamic")
    plain, _ = run(tiny_dataset, tiny_text, tmp_path / "plain", "sparseennet")
    assert not history["train_loss"].equals(plain["train_loss"])
    weights = pd.read_csv(tmp_path / "weighted" / "run" / "weights.csv")
    assert weights.groupby("domain")["weight"].nunique().max() > 1  # the dynamic weights moved


def test_calrec_runs_its_target_domain_stage(tiny_dataset, tiny_text, tmp_path):
    config, _, _ = tiny_dataset
    history, _ = run(tiny_dataset, tiny_text, tmp_path, "calrec")
    stage = config["train"]["target_domain_stage"]
    assert list(history["stage"]).count(2) == stage["epochs"] > 0
    best = json.loads((tmp_path / "run" / "timing.json").read_text())["best_epoch"]
    assert history.set_index("epoch").loc[best, "stage"] == 2  # the final model comes from stage 2


@pytest.mark.slow
def test_every_neural_baseline_beats_pop_on_the_synthetic_default(tmp_path_factory):
    """A real assertion on config/config.yaml's data and budget (one seed), the numbers printed."""
    root = tmp_path_factory.mktemp("default")
    config = load_config(Path(__file__).resolve().parents[1] / "config" / "config.yaml")
    synthetic.write_raw(root / "raw", **config["synthetic"])
    prepare("synthetic", root / "raw", root / "data", k_core=config["prepare"]["k_core"])
    sparsity_step(root / "data" / "interactions.parquet", root / "data" / "items.parquet",
                  SparsityFiles.in_folder(root / "sparsity"), "synthetic", config["sparsity"])
    text = root / "item_embeddings.parquet"
    write_item_embeddings(root / "data" / "items.parquet", text, config["text"]["encoder"], config["text"]["batch_size"], "cpu")
    ndcg = {}
    for method in ["pop", *NEURAL_BASELINES]:
        train_and_evaluate(root / "data", root / "sparsity", root / method, root / f"eval-{method}", method, 1, config,
                           2, text)
        metrics = pd.read_parquet(root / f"eval-{method}" / "metrics.parquet")
        overall = metrics.query("scope == 'overall' and metric == 'ndcg' and k == 10")
        ndcg[method] = float(overall["value"].iloc[0])
    print("test NDCG@10 on the synthetic default:", {m: round(v, 4) for m, v in ndcg.items()})
    for method in NEURAL_BASELINES:
        assert ndcg[method] > ndcg["pop"], f"{method} ({ndcg[method]:.4f}) does not beat pop ({ndcg['pop']:.4f})"


def test_non_causal_models_train_on_random_prefixes_from_their_last_position(tiny_dataset):
    config, data, sparsity = tiny_dataset
    trainer = Trainer(pd.read_parquet(data / "interactions.parquet"), pd.read_parquet(data / "items.parquet"),
                      pd.read_parquet(sparsity / "domains.parquet"), "sigma", "synthetic", config, "cpu")
    inputs, targets = trainer.inputs[:16], trainer.targets[:16]
    prefixes, prefix_targets, last = trainer.random_prefixes(inputs, targets)
    repeats = config["train"]["prefixes_per_sequence"]
    assert prefixes.shape == (16 * repeats, inputs.shape[1])
    original_inputs, original_targets = inputs.repeat(repeats, 1), targets.repeat(repeats, 1)
    for row in range(len(prefixes)):
        cut = int(last[row])
        assert original_targets[row, cut] != 0  # the prefix's target is a real next item
        assert torch.equal(prefixes[row, : cut + 1], original_inputs[row, : cut + 1])
        assert not prefixes[row, cut + 1:].any()  # nothing after the cut is visible
        assert prefix_targets[row] == original_targets[row, cut]
    assert len(set(last.tolist())) > 1


def test_calrec_without_item_texts_is_refused(tiny_dataset, tmp_path):
    config, data, sparsity = tiny_dataset
    with pytest.raises(ValueError, match="calrec needs the item text embeddings"):
        train(data / "interactions.parquet", data / "items.parquet", sparsity / "domains.parquet",
              RunFiles.in_folder(tmp_path), "synthetic", "calrec", 1, config, threads=1)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("finished_epochs", [3, 4])  # killed entering stage 2 (3 stage-1 epochs), or inside it
def test_calrec_killed_in_its_second_stage_resumes_where_it_stopped(tiny_dataset, tiny_text, tmp_path, monkeypatch,
                                                                     finished_epochs):
    from seqrec import train as train_module

    reference, _ = run(tiny_dataset, tiny_text, tmp_path / "reference", "calrec")
    batches_per_epoch = 4  # 200 users, batch 64
    calls = {"n": 0}
    real_step = train_module.Trainer.train_step

    def dying_step(self, batch, timer):
        calls["n"] += 1
        if calls["n"] == finished_epochs * batches_per_epoch + 2:
            raise KeyboardInterrupt("killed")
        return real_step(self, batch, timer)

    monkeypatch.setattr(train_module.Trainer, "train_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        run(tiny_dataset, tiny_text, tmp_path / "killed", "calrec")
    saved = torch.load(tmp_path / "killed" / "run" / "checkpoint.pt", weights_only=False)["progress"]
    assert (saved["epoch"], saved["stage"]) == (finished_epochs, 1 if finished_epochs == 3 else 2)
    monkeypatch.setattr(train_module.Trainer, "train_step", real_step)
    resumed, _ = run(tiny_dataset, tiny_text, tmp_path / "killed", "calrec")
    columns = ["epoch", "stage", "train_loss", "valid_ndcg@10"]
    pd.testing.assert_frame_equal(resumed[columns], reference[columns])
