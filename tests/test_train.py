"""Training: determinism, resume after a kill mid-epoch, and the files a run leaves."""

import json

import pandas as pd
import pytest
import torch

from seqrec import train as train_module
from seqrec.evaluate import EvalFiles, evaluate
from seqrec.models import load_model
from seqrec.device import SectionTimer
from seqrec.models.sasrec import SASRecEncoder
from seqrec.train import RunFiles, Trainer, train


def run(tiny_dataset, out, method="dynamic", seed=1, **train_settings):
    config, data, sparsity = tiny_dataset
    config = {**config, "train": {**config["train"], **train_settings}}
    train(data / "interactions.parquet", data / "items.parquet", sparsity / "domains.parquet", RunFiles.in_folder(out),
          "synthetic", method, seed, config, threads=1)
    return pd.read_csv(out / "history.csv")


def test_same_seed_gives_identical_training_and_metrics(tiny_dataset, tmp_path):
    first = run(tiny_dataset, tmp_path / "a")
    second = run(tiny_dataset, tmp_path / "b")
    columns = ["train_loss", "valid_ndcg@10", "valid_recall@10"]
    pd.testing.assert_frame_equal(first[columns], second[columns])
    config, data, sparsity = tiny_dataset
    for name in ("a", "b"):
        evaluate(data / "interactions.parquet", data / "items.parquet", sparsity / "power_users.parquet",
                 tmp_path / name / "model.pt", EvalFiles.in_folder(tmp_path / f"eval-{name}"), config, threads=1)
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


# with a schedule, the resumed run must also continue the learning rate where it stopped
@pytest.mark.parametrize("schedule", [{}, {"warmup_epochs": 1.5, "lr_schedule": "cosine"}], ids=["constant", "cosine"])
def test_killed_job_resumes_where_it_stopped(tiny_dataset, tmp_path, monkeypatch, schedule):
    reference = run(tiny_dataset, tmp_path / "reference", **schedule)

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
        run(tiny_dataset, out, **schedule)
    assert (out / "checkpoint.pt").exists()
    assert not any((out / name).exists() for name in ("model.pt", "history.csv", "timing.json"))

    monkeypatch.setattr(train_module.Trainer, "train_step", real_step)
    resumed = run(tiny_dataset, out, **schedule)
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


def trainer_for(tiny_dataset, method, **train_settings):
    config, data, sparsity = tiny_dataset
    config = {**config, "train": {**config["train"], **train_settings}}
    items = pd.read_parquet(data / "items.parquet")
    # CALRec's item tower reads text vectors; random unit vectors stand in for the encoder's.
    item_text = (torch.nn.functional.normalize(torch.randn(int(items["item"].max()) + 1, 8), dim=-1)
                 if method == "calrec" else None)
    return Trainer(pd.read_parquet(data / "interactions.parquet"), items, pd.read_parquet(sparsity / "domains.parquet"),
                   method, "synthetic", config, torch.device("cpu"), item_text)


@pytest.mark.parametrize("method", ["generic", "sigma", "calrec", "sparseennet"])
def test_each_training_batch_is_cut_to_its_longest_sequence(tiny_dataset, method, monkeypatch):
    torch.manual_seed(0)
    trainer = trainer_for(tiny_dataset, method)
    planned, seen = [], []
    plan_epoch = trainer.epoch_batches

    def recorded_batches():
        planned.extend(plan_epoch())
        return planned

    monkeypatch.setattr(trainer, "epoch_batches", recorded_batches)
    trainer.model.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[1]))
    trainer.train_epoch(1, SectionTimer(trainer.device))
    rows = torch.cat([batch_rows for batch_rows, _ in planned])
    assert sorted(rows.tolist()) == list(range(len(trainer.inputs)))  # every user once an epoch
    lengths = trainer.inputs.ne(0).sum(1)
    assert [int(lengths[batch_rows].max()) for batch_rows, _ in planned] == [width for _, width in planned]
    assert seen == [width for _, width in planned]  # the model ran on the cut batches (SIGMA's prefixes too)
    assert min(seen) < trainer.settings["max_len"]


def test_a_cut_batch_has_the_loss_of_the_padded_batch(tiny_dataset):
    torch.manual_seed(0)
    trainer = trainer_for(tiny_dataset, "dynamic", loss="full_softmax")
    trainer.model.eval()  # no dropout, so that the two forward passes compare
    rows, width = min(trainer.epoch_batches(), key=lambda batch: batch[1])
    assert width < trainer.settings["max_len"]

    def loss(width):
        targets = trainer.targets[rows, :width].flatten()
        hidden = trainer.model(trainer.inputs[rows, :width]).flatten(0, 1)
        return trainer.loss(hidden, targets, trainer.weighting.item_weights[targets])

    torch.testing.assert_close(loss(width), loss(trainer.settings["max_len"]))


def epoch_losses(trainer):
    """Each batch's loss of one epoch, and each position's unweighted loss, with the model fixed."""
    trainer.model.eval()
    batch_losses, position_losses = [], []
    with torch.no_grad():
        for rows, width in trainer.epoch_batches():
            targets = trainer.targets[rows, :width].flatten()
            hidden = trainer.model(trainer.inputs[rows, :width]).flatten(0, 1)
            batch_losses.append(trainer.loss(hidden, targets, None))
            real = targets.ne(0)
            position_losses.append(torch.nn.functional.cross_entropy(
                hidden[real] @ trainer.model.item_embeddings()[1:].T, targets[real] - 1, reduction="none"))
    return torch.stack(batch_losses), torch.cat(position_losses)


def test_every_training_position_weighs_the_same_whatever_its_batch(tiny_dataset):
    """Batches group users of similar length, so they hold from few to many positions; with
    loss_normalization epoch an epoch's batch losses still add up to the mean over all positions,
    as random batches would, and with batch they do not."""
    torch.manual_seed(0)
    trainer = trainer_for(tiny_dataset, "generic", loss="full_softmax")
    batch_losses, position_losses = epoch_losses(trainer)
    torch.testing.assert_close(batch_losses.mean(), position_losses.mean())
    assert trainer.loss_positions == pytest.approx(len(position_losses) / len(batch_losses))

    torch.manual_seed(0)
    batch_losses, position_losses = epoch_losses(trainer_for(tiny_dataset, "generic", loss="full_softmax",
                                                             loss_normalization="batch"))
    assert abs(batch_losses.mean() - position_losses.mean()) > 1e-3


def test_the_learning_rate_follows_the_schedule_step_by_step(tiny_dataset):
    trainer = trainer_for(tiny_dataset, "generic", warmup_epochs=1, lr_schedule="cosine", max_epochs=3)
    steps_per_epoch = len(trainer.epoch_batches())
    lr = trainer.settings["lr"]
    rates = []
    for _ in range(3):
        for batch in trainer.epoch_batches():
            rates.append(trainer.optimizer.param_groups[0]["lr"])
            trainer.train_step(batch, SectionTimer(trainer.device))
    warmup = [lr * (step + 1) / steps_per_epoch for step in range(steps_per_epoch)]
    assert rates[:steps_per_epoch] == pytest.approx(warmup)
    assert rates[steps_per_epoch] == pytest.approx(lr)  # the top, then the cosine's descent
    assert all(a > b for a, b in zip(rates[steps_per_epoch:], rates[steps_per_epoch + 1:]))
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.0)  # after max_epochs


def test_the_default_schedule_keeps_the_configured_rate(tiny_dataset):
    trainer = trainer_for(tiny_dataset, "generic")
    for batch in trainer.epoch_batches():
        trainer.train_step(batch, SectionTimer(trainer.device))
    assert trainer.optimizer.param_groups[0]["lr"] == trainer.settings["lr"]


def _drawn_weights(model):
    """(name, weight) of every linear and embedding layer large enough to estimate a spread."""
    return [(name, module.weight.detach()) for name, module in model.named_modules()
            if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)) and module.weight.numel() >= 500]


@pytest.mark.parametrize("method", ["generic", "calrec", "sparseennet"])
def test_init_std_draws_every_linear_and_embedding_weight_from_one_normal(tiny_dataset, method):
    torch.manual_seed(0)
    model = trainer_for(tiny_dataset, method, init_std=0.02).model
    weights = _drawn_weights(model)
    assert weights
    for name, weight in weights:
        assert 0.017 < weight.std().item() < 0.023, name
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and module.bias is not None:
            assert not module.bias.any(), name
        if isinstance(module, torch.nn.Embedding) and module.padding_idx is not None:
            assert not module.weight[module.padding_idx].any(), name


def test_without_init_std_each_architecture_keeps_its_own_initialisation(tiny_dataset):
    torch.manual_seed(0)
    model = trainer_for(tiny_dataset, "generic", init_std=None).model
    d_model = model.item_embedding.embedding_dim
    assert abs(model.item_embedding.weight[1:].std().item() - d_model ** -0.5) < 0.2 * d_model ** -0.5
    assert model.backbone.position_embedding.weight.std().item() > 0.5  # PyTorch's N(0, 1)


@pytest.mark.parametrize("block", ["pre_norm", "sasrec"])
def test_train_sasrec_block_chooses_the_block_of_generic(tiny_dataset, block):
    trainer = trainer_for(tiny_dataset, "generic", sasrec={"block": block})
    encoder = trainer.model.backbone.encoder
    assert isinstance(encoder, SASRecEncoder) == (block == "sasrec")
    assert trainer.model_args["block"] == block


@pytest.mark.parametrize("loss_normalization", ["epoch", "batch"])
def test_the_dynamic_weightings_start_weighs_as_much_as_a_mean_batch(tiny_dataset, loss_normalization):
    """The training shares start the moving domain frequencies with the weight of one batch of the
    epoch's mean size, whatever divides the loss."""
    trainer = trainer_for(tiny_dataset, "dynamic", loss_normalization=loss_normalization)
    batches = len(trainer.epoch_batches())
    assert float(trainer.weighting.positions) == pytest.approx(int(trainer.targets.ne(0).sum()) / batches)
    assert trainer.weighting.frequency.tolist() == pytest.approx(
        pd.read_parquet(tiny_dataset[2] / "domains.parquet")["share"].tolist(), rel=1e-6)
