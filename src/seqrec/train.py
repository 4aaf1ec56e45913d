"""Training of one (dataset, method, seed): all positions of every sequence at once, AdamW, early
stopping on validation NDCG@10, and a checkpoint after every epoch so a killed job resumes.

Outputs in the run folder: model.pt (the best epoch), history.csv (one row per epoch),
weights.csv (each domain's loss weight after every epoch, epoch 0 = initial) and timing.json (wall
time, time per epoch, time spent on weighting). checkpoint.pt exists only while
training runs; it is removed when model.pt is written.
"""

from __future__ import annotations

import copy
import random
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from seqrec import io
from seqrec.device import SectionTimer, autocast, configure_threads, pick_device
from seqrec.evaluate import rank_cases
from seqrec.losses import candidate_log_q, full_softmax_loss, sample_candidates, sampled_softmax_loss
from seqrec.methods import get_method
from seqrec.metrics import ndcg_at_k, recall_at_k
from seqrec.models import build_model
from seqrec.sequences import evaluation_cases, item_train_counts, training_tensors
from seqrec.weighting import build_weighting


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """Holds the model, optimiser, weighting and data of one run on one device."""

    def __init__(self, interactions: pd.DataFrame, items: pd.DataFrame, domains: pd.DataFrame,
                 method: str, dataset: str, config: dict, device: torch.device):
        self.settings = config["train"]
        self.device = device
        self.method = get_method(method)
        n_items = int(items["item"].max())
        self.model_args = {key: self.settings[key] for key in ("max_len", "d_model", "n_layers", "n_heads", "dropout")}
        self.model_args["n_items"] = n_items
        self.model = build_model(self.method.architecture, **self.model_args).to(device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.settings["lr"],
                                           weight_decay=self.settings["weight_decay"])
        counts = item_train_counts(interactions, n_items)
        self.item_frequency = torch.as_tensor(counts / counts.sum(), dtype=torch.float32, device=device)
        self.weighting = build_weighting(self.method.weighting, domains, items, counts, config["sparsity"],
                                         dataset, device)
        self.domain_names = domains["domain"].tolist()
        self.inputs, self.targets = training_tensors(interactions, self.settings["max_len"], device)
        self.valid = evaluation_cases(interactions, "valid", self.settings["max_len"], device)
        self.n_items = n_items
        self.eval_batch_size = config["evaluate"]["batch_size"]

    def loss(self, hidden: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        embeddings = self.model.item_embeddings()
        if self.settings["loss"] == "full_softmax":
            return full_softmax_loss(hidden, targets, embeddings, weights)
        n_uniform, n_inbatch = self.settings["n_uniform_negatives"], self.settings["n_inbatch_negatives"]
        candidates = sample_candidates(targets, n_uniform, n_inbatch, self.n_items)
        log_q = candidate_log_q(torch.cat([candidates, targets]), self.item_frequency, targets, n_uniform, n_inbatch)
        return sampled_softmax_loss(hidden, targets, embeddings, candidates, log_q[: len(candidates)],
                                    log_q[len(candidates):], weights)

    def train_epoch(self, epoch: int, weighting_timer: SectionTimer) -> float:
        """One pass over the users in random order; returns the mean batch loss."""
        self.model.train()
        order = torch.randperm(len(self.inputs), device=self.device)
        batches = order.split(self.settings["batch_size"])
        total = torch.zeros((), device=self.device)
        for batch in tqdm(batches, desc=f"epoch {epoch}", unit="batch", leave=False, mininterval=5):
            total += self.train_step(batch, weighting_timer)
        return total.item() / len(batches)

    def train_step(self, batch: torch.Tensor, weighting_timer: SectionTimer) -> torch.Tensor:
        """One optimiser step on the sequences `batch`, every position at once; returns the detached loss."""
        targets = self.targets[batch].flatten()
        with autocast(self.device):
            hidden = self.model(self.inputs[batch]).flatten(0, 1)
        with weighting_timer.section():
            self.weighting.observe(targets)
            weights = None if self.method.weighting == "generic" else self.weighting.item_weights[targets]
        loss = self.loss(hidden, targets, weights)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def validate(self) -> dict:
        ranks = rank_cases(self.model, self.valid, self.eval_batch_size).float()
        return {"valid_ndcg@10": ndcg_at_k(ranks, 10).mean().item(),
                "valid_recall@10": recall_at_k(ranks, 10).mean().item()}

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "weighting": self.weighting.state_dict()}

    def load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.weighting.load_state_dict(state["weighting"])


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def train(data_dir: Path, sparsity_dir: Path, run_dir: Path, dataset: str, method: str, seed: int,
          config: dict, threads: int) -> None:
    """The train step of one (dataset, method, seed)."""
    start_time = time.perf_counter()
    configure_threads(threads)
    seed_everything(seed)
    device = pick_device(config["train"]["device"])
    run_dir = Path(run_dir)
    trainer = Trainer(io.read_parquet(Path(data_dir) / "interactions.parquet"),
                      io.read_parquet(Path(data_dir) / "items.parquet"),
                      io.read_parquet(Path(sparsity_dir) / "domains.parquet"),
                      method, dataset, config, device)
    checkpoint_path = run_dir / "checkpoint.pt"
    # weights: the per-domain weights after every epoch (epoch 0 = before training).
    progress = {"epoch": 0, "history": [], "best": None, "best_state": None, "stale": 0,
                "weights": [trainer.weighting.domain_weights().tolist()]}
    resumed_after = 0
    if checkpoint_path.exists():
        saved = torch.load(checkpoint_path, map_location=device, weights_only=False)
        trainer.load_state(saved["trainer"])
        _set_rng_state(saved["rng"])
        progress = saved["progress"]
        resumed_after = progress["epoch"]
        print(f"resuming {run_dir} after epoch {progress['epoch']} from {checkpoint_path}", flush=True)

    settings = config["train"]
    print(f"training {method} on {dataset} (seed {seed}) on {device}: {len(trainer.inputs)} sequences, "
          f"{trainer.n_items} items", flush=True)
    while progress["epoch"] < settings["max_epochs"] and progress["stale"] < settings["patience"]:
        epoch = progress["epoch"] + 1
        weighting_timer = SectionTimer(device)
        epoch_start = time.perf_counter()
        train_loss = trainer.train_epoch(epoch, weighting_timer)
        train_seconds = time.perf_counter() - epoch_start
        row = {"epoch": epoch, "train_loss": train_loss, **trainer.validate(),
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
        print(f"epoch {epoch}: loss {train_loss:.4f}  valid NDCG@10 {row['valid_ndcg@10']:.4f}  "
              f"Recall@10 {row['valid_recall@10']:.4f}  ({row['epoch_seconds']:.1f}s)", flush=True)
        with io.atomic_path(checkpoint_path) as tmp:
            torch.save({"trainer": trainer.state(), "rng": _rng_state(), "progress": progress}, tmp)

    history = pd.DataFrame(progress["history"])
    with io.atomic_path(run_dir / "model.pt") as tmp:
        torch.save({"architecture": trainer.method.architecture, "model_args": trainer.model_args,
                    "state_dict": progress["best_state"], "method": method, "dataset": dataset, "seed": seed,
                    "best_epoch": int(progress["best"]["epoch"])}, tmp)
    io.write_csv(history, run_dir / "history.csv")
    weights = pd.DataFrame(progress["weights"], columns=trainer.domain_names).rename_axis("epoch")
    io.write_csv(weights.reset_index().melt("epoch", var_name="domain", value_name="weight"),
                 run_dir / "weights.csv")
    train_total = float(history["train_seconds"].sum())
    io.write_json({
        "device": str(device), "threads": threads, "epochs": len(history),
        "best_epoch": int(progress["best"]["epoch"]),
        "wall_seconds": time.perf_counter() - start_time,
        "train_seconds": train_total,
        "seconds_per_epoch": float(history["epoch_seconds"].mean()),
        "weighting_seconds": float(history["weighting_seconds"].sum()),
        "weighting_share_of_training": float(history["weighting_seconds"].sum()) / train_total,
        "resumed_after_epoch": resumed_after,
    }, run_dir / "timing.json")
    checkpoint_path.unlink(missing_ok=True)
