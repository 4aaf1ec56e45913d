"""Training of one (dataset, method, seed): all positions of every sequence at once, AdamW, early
stopping on validation NDCG@10, and a checkpoint after every epoch so a killed job resumes.

The trainer relies on the architecture contract (seqrec.models.base.SequenceModel): a non-causal
model trains on random prefixes of each sequence, from their last position; the model's
`auxiliary_loss` is added to the next-item loss; a fitted model (pop) is fitted in a single "epoch";
a model that needs item text gets it before training. The architectures listed in
`train.target_domain_stage` (CALRec's two-stage training) are trained by TargetDomainStageTrainer,
which continues, after early stopping, with a stage that fine-tunes on the positives of the target
domains.

Outputs (RunFiles; in the workflow, a run folder of the results layout): the model (the best epoch,
model.pt), the history (one row per epoch), the weights (each domain's loss weight after every epoch,
epoch 0 = initial) and the timing (wall time, time per epoch, time spent on weighting). The
checkpoint exists only while training runs; it is removed when the model is written.
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from seqrec import checkpoint, io, schedule
from seqrec.device import SectionTimer, autocast, configure_threads, pick_device
from seqrec.evaluate import rank_cases
from seqrec.layout import Layout
from seqrec.losses import candidate_log_q, full_softmax_loss, sample_candidates, sampled_softmax_loss
from seqrec.methods import get_method
from seqrec.metrics import ndcg_at_k, recall_at_k
from seqrec.models import architecture_class
from seqrec.models.base import normal_init
from seqrec.sequences import (batches_per_epoch, evaluation_cases, item_train_counts, length_grouped_batches,
                              mean_batch_positions, training_tensors)
from seqrec.weighting import ItemDomains, build_weighting

SHARED_MODEL_ARGS = ("max_len", "d_model", "n_layers", "n_heads", "dropout")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """Holds the model, optimiser, weighting and data of one run on one device.

    A run trains in stages (progress["stage"], from 1): `finished` says when the current stage is
    over, `next_stage` may begin another one (a subclass's hook; here there is none), and `resume`
    restores the stage of a checkpoint.
    """

    def __init__(self, interactions: pd.DataFrame, items: pd.DataFrame, domains: pd.DataFrame,
                 method: str, dataset: str, config: dict, device: torch.device,
                 item_text: torch.Tensor | None = None):
        self.device = device
        self.method = get_method(method)
        n_items = int(items["item"].max())
        architecture = self.method.architecture
        model_class = architecture_class(architecture)
        # The architecture's own section of `train` (e.g. train.sigma) overrides shared settings
        # (n_layers, lr, max_epochs, ...) and adds the model's own hyperparameters.
        own = config["train"].get(architecture, {})
        self.settings = {**config["train"], **own}
        self.model_args = {key: self.settings[key] for key in SHARED_MODEL_ARGS}
        self.model_args.update({key: value for key, value in own.items() if key not in config["train"]})
        self.model_args["n_items"] = n_items
        if model_class.needs_item_text:
            if item_text is None:
                raise ValueError(f"method {method} needs the item text embeddings: run `python -m seqrec text` "
                                 "and pass its output with --text (the workflow's item_text rule does both)")
            self.model_args["text_dim"] = int(item_text.shape[1])
        model = model_class(**self.model_args)
        if self.settings["init_std"] is not None:
            normal_init(model, self.settings["init_std"])
        self.model = model.to(device)
        if model_class.needs_item_text:
            self.model.set_item_text(item_text.to(device))
        self.causal = model_class.causal
        counts = item_train_counts(interactions, n_items)
        self.fitted = model_class.fitted
        if self.fitted:
            self.model.fit(counts)
        self.optimizer = None if self.fitted else torch.optim.AdamW(
            self.model.parameters(), lr=self.settings["lr"], weight_decay=self.settings["weight_decay"])
        self.item_frequency = torch.as_tensor(counts / counts.sum(), dtype=torch.float32, device=device)
        self.domain_names = domains["domain"].tolist()
        self.inputs, self.targets, self.lengths = training_tensors(interactions, self.settings["max_len"], device)
        steps_per_epoch = batches_per_epoch(len(self.lengths), self.settings["batch_size"])
        batch_positions = mean_batch_positions(
            self.targets, self.settings["batch_size"],
            None if self.causal else self.settings["prefixes_per_sequence"])
        self.loss_positions = None if self.settings["loss_normalization"] == "batch" else batch_positions
        self.weighting = build_weighting(self.method.weighting, domains, items, counts, config["sparsity"],
                                         dataset, device, batch_positions)
        self.scheduler = None if self.fitted else schedule.scheduler(
            self.optimizer, steps_per_epoch=steps_per_epoch, settings=self.settings)
        self.valid = evaluation_cases(interactions, "valid", self.settings["max_len"], device)
        self.n_items = n_items
        self.eval_batch_size = config["evaluate"]["batch_size"]

    def finished(self, progress: dict) -> bool:
        """The current stage is over: one pass for a fitted model, else max_epochs or early stopping."""
        if self.fitted:
            return progress["epoch"] >= 1
        return progress["epoch"] >= self.settings["max_epochs"] or progress["stale"] >= self.settings["patience"]

    def next_stage(self, progress: dict) -> bool:
        """Called when a stage is finished: begin another one (and say so) or end the run (False)."""
        return False

    def resume(self, progress: dict) -> None:
        """Before a checkpoint's state is loaded: set up the stage it was saved in."""

    def position_weights(self, targets: torch.Tensor) -> torch.Tensor | None:
        """The loss weight of each target (None: all weigh 1)."""
        return None if self.method.weighting == "generic" else self.weighting.item_weights[targets]

    def loss(self, hidden: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        embeddings = self.model.item_embeddings()
        if self.settings["loss"] == "full_softmax":
            return full_softmax_loss(hidden, targets, embeddings, weights, positions=self.loss_positions)
        n_uniform, n_inbatch = self.settings["n_uniform_negatives"], self.settings["n_inbatch_negatives"]
        candidates = sample_candidates(targets, n_uniform, n_inbatch, self.n_items)
        log_q = candidate_log_q(torch.cat([candidates, targets]), self.item_frequency, targets, n_uniform, n_inbatch)
        return sampled_softmax_loss(hidden, targets, embeddings, candidates, log_q[: len(candidates)],
                                    log_q[len(candidates):], weights, positions=self.loss_positions)

    def epoch_batches(self) -> list[tuple[torch.Tensor, int]]:
        """One epoch's batches of users of similar length, in random order (seqrec.sequences.
        length_grouped_batches): each batch's rows, on the device, and its width, the length of its
        longest sequence, to which train_step cuts it."""
        plan = length_grouped_batches(self.lengths, self.settings["batch_size"])
        # One copy to the device per epoch; the widths come from the host's lengths, without a sync.
        rows = torch.as_tensor(np.concatenate(plan), device=self.device).split([len(b) for b in plan])
        return [(batch_rows, int(self.lengths[b].max())) for batch_rows, b in zip(rows, plan)]

    def train_epoch(self, epoch: int, weighting_timer: SectionTimer) -> float:
        """One pass over the users, in the batches of epoch_batches; returns the mean batch loss (NaN for
        a fitted model)."""
        if self.fitted:
            return float("nan")
        self.model.train()
        batches = self.epoch_batches()
        total = torch.zeros((), device=self.device)
        # disable=None: a progress bar on a terminal only; a job log keeps one line per epoch.
        for batch in tqdm(batches, desc=f"epoch {epoch}", unit="batch", leave=False, mininterval=5,
                          disable=None):
            total += self.train_step(batch, weighting_timer)
        return total.item() / len(batches)

    def random_prefixes(self, inputs: torch.Tensor, targets: torch.Tensor):
        """For a non-causal model: `train.prefixes_per_sequence` random prefixes of each sequence.

        Returns the prefixes (right-padded), each one's target and the index of its last position.
        The prefixes keep the width of `inputs`, the batch's longest sequence: in a batch of similar
        lengths the longest of its prefixes ends close to it (1.4 positions before on average, at
        most 7, on ML-1M- and LastFM-shaped data at max_len 200), and cutting to it would need the
        prefix lengths on the host (a sync every step). Inside the batch the prefixes' lengths vary
        widely; a model that can read them without a sync (SIGMA on a CPU) regroups its rows itself.
        """
        repeats = self.settings["prefixes_per_sequence"]
        inputs, targets = inputs.repeat(repeats, 1), targets.repeat(repeats, 1)
        lengths = targets.ne(0).sum(1)  # positions that have a next item
        last = (torch.rand(len(inputs), device=self.device) * lengths).long()
        positions = torch.arange(inputs.shape[1], device=self.device)
        prefixes = inputs * (positions <= last.unsqueeze(1))
        return prefixes, targets.gather(1, last.unsqueeze(1)).squeeze(1), last

    def train_step(self, batch: tuple[torch.Tensor, int], weighting_timer: SectionTimer) -> torch.Tensor:
        """One optimiser step on a batch (rows, width) of epoch_batches, cut to its width (every position
        of a causal model, random prefixes of a non-causal one); returns the detached loss."""
        rows, width = batch
        inputs, targets = self.inputs[rows, :width], self.targets[rows, :width]
        if not self.causal:
            inputs, targets, _ = self.random_prefixes(inputs, targets)  # each prefix ends at its last real item
        with autocast(self.device):
            hidden = self.model(inputs) if self.causal else self.model(inputs, last_only=True)
            auxiliary = self.model.auxiliary_loss(inputs, hidden)
        if self.causal:
            hidden, targets = hidden.flatten(0, 1), targets.flatten()
        with weighting_timer.section():
            self.weighting.observe(targets)
            weights = self.position_weights(targets)
        loss = self.loss(hidden, targets, weights) + auxiliary
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        return loss.detach()

    def validate(self) -> dict:
        ranks = rank_cases(self.model, self.valid, self.eval_batch_size).float()
        return {"valid_ndcg@10": ndcg_at_k(ranks, 10).mean().item(),
                "valid_recall@10": recall_at_k(ranks, 10).mean().item()}

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "weighting": self.weighting.state_dict(),
                "optimizer": None if self.fitted else self.optimizer.state_dict(),
                "scheduler": None if self.fitted else self.scheduler.state_dict()}

    def load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.weighting.load_state_dict(state["weighting"])
        if not self.fitted:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])


class TargetDomainStageTrainer(Trainer):
    """CALRec's two-stage training (`train.target_domain_stage`): after stage 1 (all domains, until
    early stopping), stage 2 fine-tunes the best stage-1 model for `epochs` epochs at lr * lr_scale,
    with the positives outside the target domains weighing `other_domain_weight`. The final model is
    the best stage-2 epoch on validation (the two-stage procedure's output, as in CALRec)."""

    def __init__(self, interactions: pd.DataFrame, items: pd.DataFrame, domains: pd.DataFrame, *args, **kwargs):
        super().__init__(interactions, items, domains, *args, **kwargs)
        self.stage = self.settings["target_domain_stage"]
        # [V+1] bool: the item belongs to a target domain (the `fixed_target` column of the domain table).
        item_domains = ItemDomains(items, self.domain_names, self.n_items, self.device)
        target = torch.tensor(domains["fixed_target"].to_numpy(bool), device=self.device)
        self.target_domain_items = item_domains.multi_hot[:, target].sum(1) > 0
        self.stage_weights = None  # per-item loss multipliers of stage 2, once it starts

    def finished(self, progress: dict) -> bool:
        if progress["stage"] == 2:
            return progress["stage_epoch"] >= self.stage["epochs"]
        return super().finished(progress)

    def next_stage(self, progress: dict) -> bool:
        if progress["stage"] == 2:
            return False
        self.model.load_state_dict(progress["best_state"])
        self._start_stage_2()
        progress.update(stage=2, stage_epoch=0, best=None, stale=0)
        print(f"stage 2: fine-tuning on the target domains for {self.stage['epochs']} epochs", flush=True)
        return True

    def resume(self, progress: dict) -> None:
        if progress["stage"] == 2:
            self._start_stage_2()

    def _start_stage_2(self) -> None:
        self.stage_weights = torch.where(self.target_domain_items, 1.0, self.stage["other_domain_weight"])
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.settings["lr"] * self.stage["lr_scale"],
                                           weight_decay=self.settings["weight_decay"])
        # the short fine-tune keeps its rate: train.lr_schedule and warmup_epochs shape stage 1 only
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda step: 1.0)

    def position_weights(self, targets: torch.Tensor) -> torch.Tensor | None:
        weights = super().position_weights(targets)
        if self.stage_weights is None:
            return weights
        stage = self.stage_weights[targets]
        return stage if weights is None else weights * stage


def trainer_class(method: str, config: dict) -> type[Trainer]:
    """The trainer of `method`: TargetDomainStageTrainer for the architectures of train.target_domain_stage."""
    stage = config["train"]["target_domain_stage"]
    if get_method(method).architecture in stage["architectures"] and stage["epochs"] > 0:
        return TargetDomainStageTrainer
    return Trainer


@dataclass(frozen=True)
class RunFiles:
    """The files the train step writes, and its checkpoint while it runs."""

    model: Path
    history: Path
    timing: Path
    weights: Path
    checkpoint: Path

    @classmethod
    def in_folder(cls, folder: Path) -> RunFiles:
        """The files in `folder`, named as in the results layout."""
        return cls(**{f.name: Path(folder) / Layout().path(f.name).name for f in fields(cls)})


def train(interactions: Path, items: Path, domains: Path, outputs: RunFiles, dataset: str, method: str,
          seed: int, config: dict, threads: int, text_embeddings: Path | None = None) -> None:
    """The train step of one (dataset, method, seed): the prepared interactions and items, the
    sparsity step's domain table and, for a model that needs them, the item text embeddings."""
    start_time = time.perf_counter()
    configure_threads(threads)
    seed_everything(seed)
    device = pick_device(config["train"]["device"])
    item_text = None
    if text_embeddings is not None:
        from seqrec.text import read_item_embeddings

        item_text = read_item_embeddings(text_embeddings)
    trainer = trainer_class(method, config)(io.read_parquet(interactions), io.read_parquet(items),
                                            io.read_parquet(domains), method, dataset, config, device, item_text)
    checkpoint_path = outputs.checkpoint
    inputs = [interactions, items, domains]
    run = checkpoint.describe_run(dataset=dataset, method=method, seed=seed, config=config,
                                  inputs=inputs + ([text_embeddings] if text_embeddings is not None else []))
    # weights: the per-domain weights after every epoch (epoch 0 = before training).
    progress = {"epoch": 0, "stage": 1, "stage_epoch": 0, "history": [], "best": None, "best_state": None,
                "stale": 0, "weights": [trainer.weighting.domain_weights().tolist()]}
    resumed_after = 0
    saved = checkpoint.load(checkpoint_path, run, device)
    if saved is not None:
        progress = saved["progress"]
        trainer.resume(progress)
        trainer.load_state(saved["trainer"])
        checkpoint.set_rng_state(saved["rng"])
        resumed_after = progress["epoch"]
        print(f"resuming {outputs.model.parent} after epoch {progress['epoch']} from {checkpoint_path}", flush=True)

    print(f"training {method} on {dataset} (seed {seed}) on {device}: {len(trainer.inputs)} sequences, "
          f"{trainer.n_items} items", flush=True)
    while not trainer.finished(progress) or trainer.next_stage(progress):
        epoch = progress["epoch"] + 1
        weighting_timer = SectionTimer(device)
        epoch_start = time.perf_counter()
        train_loss = trainer.train_epoch(epoch, weighting_timer)
        train_seconds = time.perf_counter() - epoch_start
        row = {"epoch": epoch, "stage": progress["stage"], "train_loss": train_loss, **trainer.validate(),
               "train_seconds": train_seconds, "weighting_seconds": weighting_timer.total(),
               "epoch_seconds": time.perf_counter() - epoch_start}
        progress["history"].append(row)
        progress["weights"].append(trainer.weighting.domain_weights().tolist())
        if progress["best"] is None or row["valid_ndcg@10"] > progress["best"]["valid_ndcg@10"]:
            progress["best"], progress["stale"] = row, 0
            progress["best_state"] = copy.deepcopy({k: v.cpu() for k, v in trainer.model.state_dict().items()})
        else:
            progress["stale"] += 1
        progress["epoch"] = epoch
        progress["stage_epoch"] += 1
        loss_text = "fitted, no training loss" if trainer.fitted else f"loss {train_loss:.4f}"
        print(f"epoch {epoch}: {loss_text}  valid NDCG@10 {row['valid_ndcg@10']:.4f}  "
              f"Recall@10 {row['valid_recall@10']:.4f}  ({row['epoch_seconds']:.1f}s)", flush=True)
        checkpoint.save(checkpoint_path, run, trainer.state(), progress)

    history = pd.DataFrame(progress["history"])
    io.save_torch({"architecture": trainer.method.architecture, "model_args": trainer.model_args,
                   "state_dict": progress["best_state"], "method": method, "dataset": dataset, "seed": seed,
                   "best_epoch": int(progress["best"]["epoch"])}, outputs.model)
    io.write_csv(history, outputs.history)
    weights = pd.DataFrame(progress["weights"], columns=trainer.domain_names).rename_axis("epoch")
    io.write_csv(weights.reset_index().melt("epoch", var_name="domain", value_name="weight"),
                 outputs.weights)
    train_total = float(history["train_seconds"].sum())
    weighting_total = float(history["weighting_seconds"].sum())
    io.write_json({
        "device": str(device), "threads": threads, "epochs": len(history),
        "best_epoch": int(progress["best"]["epoch"]),
        "wall_seconds": time.perf_counter() - start_time,
        "train_seconds": train_total,
        "seconds_per_epoch": float(history["epoch_seconds"].mean()),
        "weighting_seconds": weighting_total,
        "weighting_share_of_training": weighting_total / train_total if train_total > 0 else 0.0,
        "resumed_after_epoch": resumed_after,
    }, outputs.timing)
    checkpoint_path.unlink(missing_ok=True)
