"""Domain statistics and the loss weight of each training positive (docs/weighting.md).

Three weightings share one interface, `Weighting`: `item_weights` is a vector over items (index 0 is
padding) that the training step gathers at the target items, and `observe` sees each batch's
targets. `generic` weighs every positive 1; `fixed` (PinnerFormerLite) weighs the positives of the
target domains by one constant; `dynamic` (the paper) derives a weight per domain from its sparsity
score, keeps it current with an exponential moving average of the domain frequencies seen in the
batches, normalises it (to mean 1 over training positives, or so that the densest domain weighs 1)
and bounds it to [w_min, w_max].
An item in several domains combines its domains' weights (max by default).

Everything runs on the training device without host synchronisation, so dynamic weighting adds a
few small vector operations per step.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from seqrec import io
from seqrec.device import CudaGraphed
from seqrec.layout import Layout

WEIGHTINGS = ("generic", "fixed", "dynamic")
# sparsity.combine: how an item's domain values become its weight, by the identity of each reduction
COMBINE_IDENTITY = {"max": -math.inf, "mean": 0.0, "min": math.inf}


# ---------------------------------------------------------------- domain statistics (pandas side)

def domain_table(interactions: pd.DataFrame, items: pd.DataFrame, sparse_share_threshold: float) -> pd.DataFrame:
    """One row per domain of `items`, measured on the training split of `interactions`.

    interactions: training positives counted once in every domain of their item (multi-label), so
    shares can sum to more than 1. entropy: Shannon entropy (nats) of item popularity inside the
    domain. A domain without training interactions keeps share 0 (its weight is then w_max).
    """
    train = interactions.loc[interactions["split"] == "train", ["user", "item"]]
    item_domains = items[["item", "domains"]].explode("domains").rename(columns={"domains": "domain"})
    per_domain = train.merge(item_domains, on="item")
    n_train, n_users, n_items = len(train), train["user"].nunique(), len(items)

    item_counts = per_domain.groupby(["domain", "item"]).size()
    p = item_counts / item_counts.groupby(level="domain").transform("sum")
    entropy = -(p * np.log(p)).groupby(level="domain").sum()

    table = pd.DataFrame({
        "interactions": per_domain.groupby("domain").size(),
        "items": item_domains.groupby("domain")["item"].nunique(),
        "users": per_domain.groupby("domain")["user"].nunique(),
        "entropy": entropy,
    }).fillna(0).rename_axis("domain").reset_index()
    table[["interactions", "items", "users"]] = table[["interactions", "items", "users"]].astype("int64")
    table["share"] = table["interactions"] / n_train
    table["user_ratio"] = table["users"] / n_users
    table["effective_item_ratio"] = np.exp(table["entropy"]) / n_items
    with np.errstate(divide="ignore"):
        table["inverse_frequency"] = 1.0 / table["share"]
    table["is_sparse"] = table["share"] < sparse_share_threshold
    empty = table.loc[table["interactions"] == 0, "domain"].tolist()
    if empty:
        warnings.warn(f"domains without training interactions get weight w_max: {', '.join(empty)}")
    return table.sort_values("share", ascending=False, ignore_index=True)


def power_users(interactions: pd.DataFrame, items: pd.DataFrame, power_user_share: float) -> pd.DataFrame:
    """(user, domain) pairs where the user has at least `power_user_share` of their training interactions in the domain."""
    train = interactions.loc[interactions["split"] == "train", ["user", "item"]]
    per_domain = train.merge(items[["item", "domains"]].explode("domains"), on="item")
    counts = per_domain.groupby(["user", "domains"]).size().rename("n").reset_index()
    totals = train.groupby("user").size()
    counts["share"] = counts["n"] / counts["user"].map(totals)
    power = counts.loc[counts["share"] >= power_user_share, ["user", "domains"]]
    return power.rename(columns={"domains": "domain"}).reset_index(drop=True)


def fixed_targets(table: pd.DataFrame, configured: list[str] | None, source: str) -> list[str]:
    """The domains the fixed weighting boosts: the configured ones, else the sparse ones."""
    if not configured:
        return table.loc[table["is_sparse"], "domain"].tolist()
    unknown = sorted(set(configured) - set(table["domain"]))
    if unknown:
        raise ValueError(f"{source}: sparsity.fixed.target_domains names unknown domain(s) {unknown}; "
                         f"the dataset's domains are: {', '.join(sorted(table['domain']))}")
    return list(configured)


# ---------------------------------------------------------------- weights (torch side)

def rarity(table: pd.DataFrame, score: str, effective_number_beta: float = 0.9999) -> np.ndarray:
    """r_d, the quantity whose power -alpha is the domain's sparsity score s_d (docs/weighting.md).

    inverse_frequency: the share f_d; user_ratio and entropy: the user ratio and the effective item
    ratio exp(H_d)/items; composite: the geometric mean of those three; log_inverse_frequency:
    1 / log(1 + 1/f_d); effective_number: (1 - beta^n_d) / (1 - beta) with n_d the domain's training
    interactions (Cui et al., CVPR 2019). A domain without interactions has r_d = 0 (weight w_max).
    """
    share = table["share"].to_numpy(np.float64)
    if score == "inverse_frequency":
        return share
    if score == "user_ratio":
        return table["user_ratio"].to_numpy(np.float64)
    if score == "entropy":
        return table["effective_item_ratio"].to_numpy(np.float64)
    if score == "composite":
        parts = table[["share", "user_ratio", "effective_item_ratio"]].to_numpy(np.float64)
        return np.cbrt(parts.prod(axis=1))
    if score == "log_inverse_frequency":
        with np.errstate(divide="ignore"):
            return np.where(share > 0, 1 / np.log1p(1 / np.where(share > 0, share, 1)), 0.0)
    if score == "effective_number":
        n = table["interactions"].to_numpy(np.float64)
        return (1 - effective_number_beta ** n) / (1 - effective_number_beta)
    raise ValueError(f"unknown sparsity score {score!r}")


class ItemDomains:
    """Items' domains as a padded index matrix, with the combination of per-domain values per item."""

    def __init__(self, items: pd.DataFrame, domains: list[str], n_items: int, device: torch.device | str = "cpu"):
        index = {d: i for i, d in enumerate(domains)}
        width = max(1, int(items["domains"].map(len).max()))
        matrix = np.full((n_items + 1, width), len(domains), dtype=np.int64)  # len(domains) = "none"
        for item, names in zip(items["item"].to_numpy(), items["domains"]):
            matrix[item, : len(names)] = [index[d] for d in names]
        self.n_domains = len(domains)
        self.matrix = torch.as_tensor(matrix, device=device)
        present = self.matrix < self.n_domains
        self.has_domain = present.any(1)
        self.domain_count = present.sum(1).clamp_min(1)
        self.multi_hot = torch.zeros(n_items + 1, self.n_domains + 1, device=device)
        self.multi_hot.scatter_(1, self.matrix, 1.0)
        self.multi_hot = self.multi_hot[:, : self.n_domains].contiguous()  # drop the "none" column

    def combine(self, values: torch.Tensor, how: str) -> torch.Tensor:
        """Per-item combination (max, mean or min) of per-domain `values`; items without domains get 1."""
        # The "none" slot holds the identity of the reduction, so no mask is applied per call.
        padded = torch.cat([values, values.new_full((1,), COMBINE_IDENTITY[how])])[self.matrix]
        if how == "mean":
            out = padded.sum(1) / self.domain_count
        else:
            out = padded.amax(1) if how == "max" else padded.amin(1)
        return torch.where(self.has_domain, out, 1.0)

    def domain_counts(self, targets: torch.Tensor) -> torch.Tensor:
        """How many of the (non-padding) `targets` fall in each domain, without a host sync.

        A gather of multi-hot rows and a column sum: unlike a scatter into a handful of domain
        counters, it has no atomic contention on a GPU.
        """
        return self.multi_hot[targets].sum(0)


class Weighting:
    """Static weights; `observe` does nothing. Used for `generic` and `fixed`."""

    def __init__(self, item_weights: torch.Tensor, per_domain: torch.Tensor):
        self.item_weights, self.per_domain = item_weights, per_domain

    def domain_weights(self) -> torch.Tensor:
        """The current weight of a positive of each domain alone (in the domain table's order)."""
        return self.per_domain

    def observe(self, targets: torch.Tensor) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class DynamicWeighting(Weighting):
    """The paper's weighting: sparsity score, EMA of batch domain frequencies, normalisation, bounds.

    score_d(t) = s_d * (f_d(t) / f_d)^-alpha, with s_d the configured static score (for
    inverse_frequency s_d = f_d^-alpha, so score_d(t) = f_d(t)^-alpha), f_d the training share and
    f_d(t) = n_d(t) / n(t) the moving frequency: n_d(t) = beta * n_d(t-1) + (1 - beta) * (the batch's
    positives in d) and n(t) the same for all its positives, so that every position counts alike
    whatever the size of its batch (length-grouped batches hold from a few hundred to tens of
    thousands). The start, f_d(0) = f_d, weighs as much as a batch of `batch_positions` positions.
    w_d(t) = clip(score_d(t) / c(t), w_min, w_max). normalise "mean": c(t) is the mean of the
    combined score over the training positives (sum_i p_i * combine_{d in D(i)} score_d(t), p_i the
    item's share of training positives), so that before clipping the mean weight of a training
    positive is 1. normalise "densest": c(t) = score_D(t) of the densest domain D (largest training
    share), which weighs 1 and every sparser domain more.
    """

    def __init__(self, domains: ItemDomains, table: pd.DataFrame, item_frequency: torch.Tensor, *,
                 score: str, alpha: float, w_min: float, w_max: float, ema_decay: float, combine: str,
                 normalise: str, batch_positions: float, effective_number_beta: float = 0.9999):
        device = domains.matrix.device
        base = torch.tensor(rarity(table, score, effective_number_beta), dtype=torch.float32, device=device)
        share = torch.tensor(table["share"].to_numpy(np.float64), dtype=torch.float32, device=device)
        self.domains, self.combine, self.alpha = domains, combine, alpha
        self.w_min, self.w_max, self.ema_decay = w_min, w_max, ema_decay
        self.normalise = normalise
        self.densest = int(np.argmax(table["share"].to_numpy()))
        self.item_frequency = item_frequency
        self.has_data = share > 0
        self.static_score = torch.where(base > 0, base.clamp_min(1e-12) ** -alpha, torch.full_like(base, math.inf))
        self.share_floor = share.clamp_min(1e-12)  # the divisor of the EMA ratio
        self.domain_positions = share * batch_positions  # n_d(0)
        self.positions = torch.tensor(float(batch_positions), device=device)  # n(0)
        self.item_weights = self._item_weights()
        # On cuda the ~20 small kernels of an update are replayed as one graph: launching them one
        # by one would cost more than the rest of the weighting (see docs/weighting.md, Cost).
        self._graphed_update = CudaGraphed(self._update,
                                           state=[self.domain_positions, self.positions, self.item_weights])

    @property
    def frequency(self) -> torch.Tensor:
        """f_d(t), the moving frequency of each domain among the training positives."""
        return self.domain_positions / self.positions.clamp_min(1e-12)  # 0 only after a batch of padding at ema_decay 0

    def domain_weights(self) -> torch.Tensor:
        ratio = torch.where(self.has_data, self.frequency.clamp_min(1e-12) / self.share_floor, 1.0)
        score = self.static_score * ratio ** -self.alpha
        return (score / self._normaliser(score)).clamp(self.w_min, self.w_max)

    def _normaliser(self, score: torch.Tensor) -> torch.Tensor:
        """c(t): the mean combined score over training positives, or the densest domain's score."""
        if self.normalise == "mean":
            finite = score.masked_fill(torch.isinf(score), 0.0)
            return (self.item_frequency * self.domains.combine(finite, self.combine)).sum()
        if self.normalise == "densest":
            return score[self.densest]
        raise ValueError(f"unknown normalisation {self.normalise!r} of the dynamic weighting")

    def _item_weights(self) -> torch.Tensor:
        return self.domains.combine(self.domain_weights(), self.combine)

    def observe(self, targets: torch.Tensor) -> None:
        if targets.is_cuda:
            self._graphed_update(padded_to_power_of_two(targets))
        else:
            self._update(targets)

    def _update(self, targets: torch.Tensor) -> None:
        # In place only, so that the CUDA graph replaying it keeps pointing at the live tensors.
        counts = self.domains.domain_counts(targets)  # padding (item 0) has no domain: not counted
        self.domain_positions.mul_(self.ema_decay).add_(counts, alpha=1 - self.ema_decay)
        self.positions.mul_(self.ema_decay).add_(targets.ne(0).sum(), alpha=1 - self.ema_decay)
        self.item_weights.copy_(self._item_weights())

    def state_dict(self) -> dict:
        return {"domain_positions": self.domain_positions.cpu(), "positions": self.positions.cpu()}

    def load_state_dict(self, state: dict) -> None:
        self.domain_positions.copy_(state["domain_positions"])
        self.positions.copy_(state["positions"])
        self.item_weights.copy_(self._item_weights())


def padded_to_power_of_two(targets: torch.Tensor) -> torch.Tensor:
    """The targets, flattened and padded with item 0 (no domain, never counted) to a power of two.

    Batches cut to their longest sequence have hundreds of sizes; a CUDA graph is captured per
    input shape, so bucketing the sizes keeps the graphs (and their memory) to a handful.
    """
    flat = targets.flatten()
    size = 1 << max(len(flat) - 1, 0).bit_length()
    return torch.nn.functional.pad(flat, (0, size - len(flat)))


def build_weighting(kind: str, table: pd.DataFrame, items: pd.DataFrame, item_train_counts: np.ndarray,
                    sparsity_config: dict, dataset: str, device: torch.device | str = "cpu",
                    batch_positions: float = 1.0) -> Weighting:
    """The weighting `kind` (generic, fixed or dynamic) for a dataset, on `device`.

    table: the domain table of `domain_table`; item_train_counts: training positives per item id
    (index 0 = padding, count 0); batch_positions: the mean number of positives a training batch
    holds, how much the training share weighs at the start of the dynamic weighting's moving
    frequencies (it matters only once batches are observed).
    """
    if kind not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {kind!r}; valid ones are: {', '.join(WEIGHTINGS)}")
    n_items = len(item_train_counts) - 1
    domains = ItemDomains(items, table["domain"].tolist(), n_items, device)
    if kind == "generic":
        return Weighting(torch.ones(n_items + 1, device=device), torch.ones(len(table), device=device))
    if kind == "fixed":
        fixed = sparsity_config["fixed"]
        targets = fixed_targets(table, fixed["target_domains"].get(dataset), "config")
        per_domain = torch.tensor([fixed["weight"] if d in targets else 1.0 for d in table["domain"]],
                                  device=device)
        return Weighting(domains.combine(per_domain, sparsity_config["combine"]), per_domain)
    counts = torch.as_tensor(item_train_counts, dtype=torch.float32, device=device)
    dynamic = sparsity_config["dynamic"]
    return DynamicWeighting(domains, table, counts / counts.sum(), score=dynamic["score"],
                            alpha=dynamic["alpha"], w_min=dynamic["w_min"], w_max=dynamic["w_max"],
                            ema_decay=dynamic["ema_decay"], combine=sparsity_config["combine"],
                            normalise=dynamic["normalise"], batch_positions=batch_positions,
                            effective_number_beta=dynamic["effective_number_beta"])



@dataclass(frozen=True)
class SparsityFiles:
    """The files the sparsity step writes."""

    domains: Path  # the domain table (parquet), read by every training
    table: Path  # the same table as csv, for readers
    power_users: Path

    @classmethod
    def in_folder(cls, folder: str | os.PathLike) -> SparsityFiles:
        """The files in `folder`, named as in the results layout."""
        layout = Layout()
        names = {"domains": "domains", "table": "domains_csv", "power_users": "power_users"}
        return cls(**{field: Path(folder) / layout.path(name).name for field, name in names.items()})


def sparsity_step(interactions_path: str | os.PathLike, items_path: str | os.PathLike, outputs: SparsityFiles,
                  dataset: str, sparsity_config: dict) -> pd.DataFrame:
    """The sparsity step: the domain table (parquet and csv) and the power users.

    The domain table carries the statistics and each weighting's weight for a positive of that
    domain alone (for dynamic: the initial weight, before any EMA update).
    """
    interactions = io.read_parquet(interactions_path)
    items = io.read_parquet(items_path)
    table = domain_table(interactions, items, sparsity_config["sparse_share_threshold"])
    targets = fixed_targets(table, sparsity_config["fixed"]["target_domains"].get(dataset), "config")
    table["fixed_target"] = table["domain"].isin(targets)
    table["weight_generic"] = 1.0
    table["weight_fixed"] = np.where(table["fixed_target"], sparsity_config["fixed"]["weight"], 1.0)
    counts = np.bincount(interactions.loc[interactions["split"] == "train", "item"],
                         minlength=int(items["item"].max()) + 1)
    dynamic = build_weighting("dynamic", table, items, counts, sparsity_config, dataset)
    table["weight_dynamic"] = dynamic.domain_weights().numpy()
    io.write_parquet(table, outputs.domains)
    io.write_csv(table, outputs.table)
    power = power_users(interactions, items, sparsity_config["power_user_share"])
    io.write_parquet(power, outputs.power_users)
    return table
