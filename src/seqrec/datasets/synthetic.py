"""The embedded synthetic dataset: sparse item domains, long-tailed popularity, sequences.

Generative process (all draws from one `numpy.random.Generator`, so a seed fixes the data):

- Domains are ordered densest first; domain d has base share proportional to
  exp(-domain_share_decay * d). The catalogue is split over primary domains proportionally to the
  square root of the base shares (catalogue sizes vary less than traffic, as in MovieLens).
- Inside its primary domain an item of popularity rank r has weight r^-zipf_exponent. An item also
  belongs to 0-2 secondary domains, drawn among the *denser* domains (a Film-Noir film is often also
  a Crime film, rarely the other way round), which keeps the sparse domains sparse.
- Every item has up to three fixed successors in its primary domain, drawn by popularity.
- A user's domain mixture is a Dirichlet draw around the base shares. A power user puts 85-98% of
  it on one domain of the sparser half (chosen proportionally to base share, so the sparsest domains
  do not become dense through their fans), and has a sequence short enough not to exhaust it.
- Sequence lengths are log-normal (at least 5, at most half the catalogue), scaled so that they
  sum to exactly `n_interactions`.
- Each step follows, with probability `sequential_strength`, a not yet seen successor of the
  previous item; otherwise it draws a domain from the user's mixture and an item from that domain
  by popularity. No user meets an item twice, as in the real datasets.
- Timestamps are integer seconds, strictly increasing per user.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from seqrec.datasets.base import RawTables
from seqrec.io import InputError, read_parquet, write_parquet

RAW_FILES = ["interactions.parquet", "items.parquet"]

# Densest first; beyond this list domains are called Domain-NN.
GENRES = [
    "Drama", "Comedy", "Action", "Horror", "Thriller", "Romance", "Adventure", "Crime", "Sci-Fi",
    "Children", "Fantasy", "Mystery", "Animation", "Western", "Film-Noir", "Documentary",
    "Musical", "War", "Biography", "Sport", "History", "Family", "Music", "Short", "News",
]

MIN_LENGTH = 5
N_SUCCESSORS = 3
SUCCESSOR_CHUNK = 256  # rows of a domain whose successors are drawn at once
SECONDARY_COUNT_PROBS = [0.45, 0.4, 0.15]  # probability of 0, 1 and 2 secondary domains
USER_CONCENTRATION = 10.0  # Dirichlet concentration of a user's mixture around the base shares
MIXTURE_FLOOR = 0.05  # part of every mixture kept at the base shares: no domain is impossible
POWER_CONCENTRATION = (0.85, 0.98)
POWER_DOMAIN_USE = 0.8  # a power user's sequence is cut to see at most this share of its domain
LENGTH_SIGMA = 1.0
MAX_REJECTIONS = 8  # redraws of an already seen item before sampling among unseen items exactly
START_TIME = 1_000_000_000
START_SPAN_S = 3 * 365 * 86_400
MEAN_GAP_S = 4 * 3_600


def domain_names(n_domains: int) -> list[str]:
    """Readable names of the domains, densest first."""
    return [GENRES[d] if d < len(GENRES) else f"Domain-{d + 1:02d}" for d in range(n_domains)]


def generate(
    n_users: int = 3000,
    n_items: int = 1500,
    n_interactions: int = 150000,
    n_domains: int = 15,
    zipf_exponent: float = 1.0,
    domain_share_decay: float = 0.4,
    power_user_fraction: float = 0.1,
    sequential_strength: float = 0.6,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (interactions[user, item, timestamp], items[item, title, domains])."""
    if n_items < n_domains:
        raise ValueError(
            f"synthetic: n_items ({n_items}) must be at least n_domains ({n_domains}).")
    rng = np.random.default_rng(seed)
    base = np.exp(-domain_share_decay * np.arange(n_domains))
    base /= base.sum()

    counts = _items_per_domain(base, n_items)
    # Items are generated in "slot" order (by primary domain, then popularity rank) and receive
    # shuffled ids at the end, so an id says nothing about domain or popularity.
    slot_domain = np.repeat(np.arange(n_domains), counts)
    block_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n_items) - block_start[slot_domain]
    weight = (rank + 1.0) ** -zipf_exponent
    within = weight / np.bincount(slot_domain, weights=weight)[slot_domain]
    secondary = _secondary_domains(rng, slot_domain, base)
    successors = _successors(rng, block_start, counts, weight)
    slot_item = rng.permutation(n_items)

    mix, power, focus, concentration = _user_mixtures(rng, n_users, base, power_user_fraction)
    cap = np.full(n_users, n_items // 2)
    cap[power] = np.maximum(MIN_LENGTH, POWER_DOMAIN_USE * counts[focus] // concentration)
    lengths = _lengths(rng.lognormal(0.0, LENGTH_SIGMA, n_users), cap, n_interactions)

    slots = _walk(rng, lengths, mix, slot_domain, within, successors, sequential_strength)
    interactions = pd.DataFrame({
        "user": np.repeat(np.arange(n_users, dtype=np.int64), lengths),
        "item": slot_item[slots].astype(np.int64),
        "timestamp": _timestamps(rng, lengths),
    })

    names = domain_names(n_domains)
    items = pd.DataFrame({
        "item": slot_item.astype(np.int64),
        "title": [f"{names[d]} #{r + 1}" for d, r in zip(slot_domain, rank)],
        "domains": [[names[d]] + [names[s] for s in extra]
                    for d, extra in zip(slot_domain, secondary)],
    }).sort_values("item", ignore_index=True)
    return interactions, items


def write_raw(out_dir: str | os.PathLike, **params) -> None:
    """Generate the dataset with `params` (see `generate`) and write RAW_FILES into `out_dir`."""
    interactions, items = generate(**params)
    write_parquet(interactions, Path(out_dir) / "interactions.parquet")
    write_parquet(items, Path(out_dir) / "items.parquet")


def load_raw(raw_dir: str | os.PathLike, options: dict | None = None) -> RawTables:
    """Read the tables written by `write_raw` (`options` are unused: the data has no bad lines)."""
    tables = []
    for name, columns in [("interactions.parquet", ["user", "item", "timestamp"]),
                          ("items.parquet", ["item", "title", "domains"])]:
        path = Path(raw_dir) / name
        frame = read_parquet(path)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}; delete it and "
                             "rerun the step that synthesizes the dataset.")
        tables.append(frame)
    return RawTables(interactions=tables[0], items=tables[1], item_file="items.parquet")


def _items_per_domain(base: np.ndarray, n_items: int) -> np.ndarray:
    """Catalogue size of each domain: proportional to sqrt(base share), at least one item."""
    target = np.sqrt(base) / np.sqrt(base).sum() * (n_items - len(base))
    counts = 1 + np.floor(target).astype(np.int64)
    remainder = n_items - counts.sum()
    counts[np.argsort(np.floor(target) - target, kind="stable")[:remainder]] += 1
    return counts


def _secondary_domains(rng: np.random.Generator, slot_domain: np.ndarray,
                       base: np.ndarray) -> list[np.ndarray]:
    """0-2 secondary domains per item, among denser domains, drawn proportionally to base share."""
    n_items, n_domains = len(slot_domain), len(base)
    n_extra = np.minimum(rng.choice(3, size=n_items, p=SECONDARY_COUNT_PROBS), slot_domain)
    # Exponential keys divided by the weights: the smallest k keys are a weighted sample of k
    # without replacement (Efraimidis-Spirakis).
    keys = rng.exponential(size=(n_items, n_domains)) / base
    keys[np.arange(n_domains) >= slot_domain[:, None]] = np.inf
    order = np.argsort(keys, axis=1)[:, :2]
    return [order[i, :k] for i, k in enumerate(n_extra)]


def _successors(rng: np.random.Generator, block_start: np.ndarray, counts: np.ndarray,
                weight: np.ndarray) -> np.ndarray:
    """Up to N_SUCCESSORS other slots of the same domain per slot, by popularity; -1 pads."""
    successors = np.full((len(weight), N_SUCCESSORS), -1, dtype=np.int64)
    for lo, n in zip(block_start, counts):
        k = min(N_SUCCESSORS, n - 1)
        if k == 0:
            continue
        # Rows in chunks, so memory stays bounded by SUCCESSOR_CHUNK rows of the largest domain
        # (consecutive draws from rng give the same numbers as one draw of all rows).
        for row in range(0, n, SUCCESSOR_CHUNK):
            rows = np.arange(row, min(row + SUCCESSOR_CHUNK, n))
            keys = rng.exponential(size=(len(rows), n)) / weight[lo:lo + n]
            keys[np.arange(len(rows)), rows] = np.inf
            successors[lo + rows, :k] = lo + np.argpartition(keys, k - 1, axis=1)[:, :k]
    return successors


def _user_mixtures(rng: np.random.Generator, n_users: int, base: np.ndarray,
                   power_user_fraction: float) -> tuple[np.ndarray, ...]:
    """Domain mixture per user; returns (mixtures, power users, their domains, concentrations)."""
    mix = rng.dirichlet(USER_CONCENTRATION * base, size=n_users)
    mix = (1 - MIXTURE_FLOOR) * mix + MIXTURE_FLOOR * base
    power = rng.choice(n_users, size=round(power_user_fraction * n_users), replace=False)
    pool = np.arange(len(base) // 2, len(base))
    focus = rng.choice(pool, size=len(power), p=base[pool] / base[pool].sum())
    concentration = rng.uniform(*POWER_CONCENTRATION, size=len(power))
    mix[power] *= (1 - concentration)[:, None]
    mix[power, focus] += concentration
    return mix, power, focus, concentration


def _lengths(raw: np.ndarray, cap: np.ndarray, total: int) -> np.ndarray:
    """Integer lengths MIN_LENGTH + s * raw, capped, with s chosen so that they sum to `total`."""
    if not MIN_LENGTH * len(raw) <= total <= cap.sum():
        raise ValueError(
            f"synthetic: n_interactions ({total}) must lie between {MIN_LENGTH} per user "
            f"({MIN_LENGTH * len(raw)}) and {cap.sum()} (users see at most half of the items, "
            "power users less); change n_interactions, n_users or n_items.")
    lo, hi = 0.0, cap.max() / raw.min()
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.minimum(cap, MIN_LENGTH + mid * raw).sum() < total else (lo, mid)
    exact = np.minimum(cap, MIN_LENGTH + hi * raw)
    lengths = np.floor(exact).astype(np.int64)
    # The fractional parts sum to at least the deficit, so the users rounded up are below cap.
    lengths[np.argsort(lengths - exact, kind="stable")[:total - lengths.sum()]] += 1
    return lengths


class _SeenSlots:
    """Which slots each user has seen, one bit per (user, slot): at Yelp's shape (280,000 users,
    95,000 items) a byte per pair would need 25 GiB, a bit 3.1 GiB."""

    def __init__(self, n_users: int, n_slots: int):
        self.n_slots = n_slots
        self.bits = np.zeros((n_users, (n_slots + 7) // 8), dtype=np.uint8)

    def contains(self, users: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """Whether users[i] has seen slots[i] (the two broadcast against each other); a negative
        slot (a missing successor) reads some other bit, so callers mask it."""
        return (self.bits[users, slots >> 3] >> (slots & 7)) & 1 == 1

    def add(self, users: np.ndarray, slots: np.ndarray) -> None:
        """Mark slots[i] as seen by users[i]; each user appears at most once."""
        self.bits[users, slots >> 3] |= (1 << (slots & 7)).astype(np.uint8)

    def rows(self, users: np.ndarray) -> np.ndarray:
        """The seen slots of `users` as a boolean matrix, one row per user."""
        return np.unpackbits(self.bits[users], axis=1, count=self.n_slots,
                             bitorder="little").astype(bool)


def _walk(rng: np.random.Generator, lengths: np.ndarray, mix: np.ndarray, slot_domain: np.ndarray,
          within: np.ndarray, successors: np.ndarray, strength: float) -> np.ndarray:
    """The slot sequences of all users, concatenated in user order; no user sees a slot twice.

    All users advance one step at a time together, so each step is a handful of array operations.
    """
    n_users, n_slots = len(lengths), len(slot_domain)
    mix_cum = np.cumsum(mix, axis=1)
    mix_cum /= mix_cum[:, -1:]
    # Domain d's cumulative popularity occupies (2d, 2d + 1]: a draw 2d + u with u in (0, 1] lands
    # in domain d whatever the rounding.
    item_cum = np.cumsum(within)
    block_end = np.flatnonzero(np.diff(slot_domain, append=slot_domain[-1] + 1))
    item_cum -= np.concatenate([[0.0], item_cum[block_end[:-1]]])[slot_domain]
    item_cum[block_end] = 1.0
    item_cum += 2.0 * slot_domain

    seen = _SeenSlots(n_users, n_slots)

    def draw_domain(users: np.ndarray) -> np.ndarray:
        return (mix_cum[users] < 1.0 - rng.random((len(users), 1))).sum(axis=1)

    def draw_item(domains: np.ndarray) -> np.ndarray:
        return np.searchsorted(item_cum, 2.0 * domains + 1.0 - rng.random(len(domains)))

    def draw_unseen(users: np.ndarray) -> np.ndarray:
        # The domain is drawn once and kept, so rejections do not shift the user's domain mixture.
        domains = draw_domain(users)
        slots = draw_item(domains)
        for _ in range(MAX_REJECTIONS):
            taken = seen.contains(users, slots)
            if not taken.any():
                return slots
            slots[taken] = draw_item(domains[taken])
        taken = np.flatnonzero(seen.contains(users, slots))
        if len(taken):
            # Exact sampling among the unseen slots of the domain, or of the user's whole
            # distribution where the user has seen the entire domain.
            unseen = ~seen.rows(users[taken])
            p = (slot_domain == domains[taken, None]) * within * unseen
            exhausted = p.sum(axis=1) == 0
            p[exhausted] = mix[users[taken[exhausted]]][:, slot_domain] * within * unseen[exhausted]
            cum = np.cumsum(p, axis=1)
            slots[taken] = (cum < cum[:, -1:] * (1.0 - rng.random((len(taken), 1)))).sum(axis=1)
        return slots

    start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    out = np.empty(lengths.sum(), dtype=np.int64)
    prev = np.zeros(n_users, dtype=np.int64)
    by_length = np.argsort(-lengths, kind="stable")
    n_active = np.searchsorted(-lengths[by_length], -np.arange(lengths.max()), side="left")
    for t, n in enumerate(n_active):
        users = by_length[:n]
        slots = np.full(n, -1)
        if t > 0:
            follow = np.flatnonzero(rng.random(n) < strength)
            candidates = successors[prev[users[follow]]]
            free = (candidates >= 0) & ~seen.contains(users[follow][:, None], candidates)
            pick = np.where(free, rng.random(candidates.shape), 2.0).argmin(axis=1)
            rows = np.arange(len(follow))
            ok = free[rows, pick]
            slots[follow[ok]] = candidates[rows, pick][ok]
        fresh = slots < 0
        slots[fresh] = draw_unseen(users[fresh])
        seen.add(users, slots)
        prev[users] = slots
        out[start[users] + t] = slots
    return out


def _timestamps(rng: np.random.Generator, lengths: np.ndarray) -> np.ndarray:
    """Strictly increasing integer seconds per user: a random start, then gaps of at least 1 s."""
    steps = 1 + rng.exponential(MEAN_GAP_S, size=lengths.sum()).astype(np.int64)
    start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    steps[start] = rng.integers(0, START_SPAN_S, size=len(lengths))
    total = np.cumsum(steps)
    return START_TIME + total - np.repeat(total[start] - steps[start], lengths)
