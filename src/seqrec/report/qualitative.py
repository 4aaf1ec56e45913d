"""A qualitative example: for one power user of each dataset's claim domain, the recent history and
the top-k of every method of the run side by side (generic first), scored as the evaluation does.

The user: among the power users of the claim domain (seqrec.claims.claim_domain) whose held-out
test item lies in it, the one with the most training interactions in the domain (ties: the smallest
id). The models: the run's smallest seed. Three tables: the choice per dataset, the history and the
top-k lists.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from seqrec.claims import PAPER_DOMAIN, claim_domain, domain_test_cases
from seqrec.io import read_parquet
from seqrec.models import load_model
from seqrec.report.format import latex_table, tex
from seqrec.report.run import Run
from seqrec.report.tables import Table, artifacts
from seqrec.sequences import SPLIT_ORDER, evaluation_cases

N_HISTORY = 15  # most recent history items shown
DOMAIN_COLOR, HIT_COLOR = "#fbe0cf", "#c7e9c0"


def choose_user(interactions: pd.DataFrame, items: pd.DataFrame, power: pd.DataFrame, domain: str):
    """(user, training interactions in the domain, candidates) by the stated rule; user None if none."""
    in_domain = items.set_index("item")["domains"].map(lambda ds: domain in set(ds))
    candidates = set(power.loc[power["domain"] == domain, "user"])
    test = interactions.loc[(interactions["split"] == "test") & interactions["user"].isin(candidates)]
    eligible = test.loc[test["item"].map(in_domain).fillna(False).astype(bool), "user"]
    if eligible.empty:
        return None, 0, len(candidates)
    train = interactions.loc[(interactions["split"] == "train") & interactions["user"].isin(eligible)]
    counts = train.loc[train["item"].map(in_domain).fillna(False).astype(bool)].groupby("user").size()
    counts = counts.reindex(eligible.unique(), fill_value=0).sort_index(kind="stable")
    user = int(counts.idxmax())  # the first maximum of the sorted index: the smallest id among ties
    return user, int(counts.max()), len(candidates)


class Example:
    """The user chosen in one dataset, with what the tables need about them."""

    def __init__(self, run: Run, dataset: str):
        self.run, self.dataset, self.seed = run, dataset, min(run.seeds)
        self.interactions = read_parquet(run.path("interactions", dataset=dataset))
        items = read_parquet(run.path("items", dataset=dataset))
        domains = run.domains(dataset)
        self.domain = claim_domain(domains, domain_test_cases(self.interactions, items))
        self.share = float(domains.set_index("domain")["share"].get(self.domain, np.nan))
        self.user, self.n_in_domain, self.n_power = (None, 0, 0) if self.domain is None else choose_user(
            self.interactions, items, read_parquet(run.path("power_users", dataset=dataset)), self.domain)
        self.titles = items.set_index("item")["title"].astype(str)
        self.item_domains = items.set_index("item")["domains"].map(lambda ds: [str(d) for d in ds])
        self.in_domain = self.item_domains.map(lambda ds: self.domain in ds)
        self.mine = self.interactions.loc[self.interactions["user"] == self.user]

    @property
    def target(self) -> int:
        return int(self.mine.loc[self.mine["split"] == "test", "item"].iloc[0])

    def summary(self) -> dict:
        how = "the paper's domain" if self.domain == PAPER_DOMAIN else "the sparsest domain with a test case"
        row = {"dataset": self.dataset, "domain": self.domain, "how": how, "share": self.share,
               "power_users": self.n_power, "user": self.user, "seed": self.seed}
        if self.user is not None:
            row.update(in_domain=self.n_in_domain, train=int((self.mine["split"] == "train").sum()),
                       target=self.titles[self.target], target_domains=", ".join(self.item_domains[self.target]))
        return row

    def history(self) -> pd.DataFrame:
        """The last N_HISTORY items before the test item (train, then valid, by time), and the test item."""
        mine = self.mine
        past = mine.loc[mine["split"] != "test"].assign(order=lambda f: f["split"].map(SPLIT_ORDER))
        past = past.sort_values(["order", "timestamp"], kind="stable").tail(N_HISTORY)
        n_past = int((mine["split"] != "test").sum())
        rows = pd.concat([past, mine.loc[mine["split"] == "test"]])
        return pd.DataFrame({
            "dataset": self.dataset, "user": self.user, "domain": self.domain,
            "position": np.arange(n_past - len(past) + 1, n_past + 2), "n_past": n_past,
            "item": rows["item"].to_numpy(),
            "date": pd.to_datetime(rows["timestamp"], unit="s", utc=True).dt.strftime("%Y-%m-%d").to_numpy(),
            "split": rows["split"].to_numpy(),
            "title": self.titles.reindex(rows["item"]).to_numpy(),
            "domains": [", ".join(self.item_domains[i]) for i in rows["item"]],
            "in_domain": self.in_domain.reindex(rows["item"]).to_numpy(),
            "target": rows["split"].eq("test").to_numpy(),
        })

    def top(self) -> pd.DataFrame:
        """Each method's top k for the user, with the target's rank and the evaluation's."""
        lists = []
        for method in self.run.methods:
            model, saved = load_model(self.run.path("model", dataset=self.dataset, method=method, seed=self.seed), "cpu")
            cases = evaluation_cases(self.mine, "test", saved["model_args"]["max_len"])
            ids, scores, rank = top_items(model, cases, self.run.k, self.run.config["evaluate"]["mask_history"])
            evaluated = read_parquet(self.run.path("per_case", dataset=self.dataset, method=method, seed=self.seed),
                                     columns=["user", "rank"]).set_index("user")["rank"]
            lists.append(pd.DataFrame({
                "dataset": self.dataset, "user": self.user, "domain": self.domain, "seed": self.seed, "method": method,
                "rank": np.arange(1, len(ids) + 1), "item": ids, "title": self.titles.reindex(ids).to_numpy(),
                "domains": [", ".join(self.item_domains[i]) for i in ids],
                "in_domain": self.in_domain.reindex(ids).to_numpy(), "hit": ids == self.target, "score": scores,
                "target_rank": rank + 1, "evaluated_rank": int(evaluated.get(self.user, -1)) + 1,
                "n_items": len(self.titles),
            }))
        return pd.concat(lists, ignore_index=True)


@torch.no_grad()
def top_items(model, cases, n: int, mask_history: bool):
    """The n best items (ids, scores) of the single case and the target's 0-based rank, as rank_cases scores."""
    embeddings = model.item_embeddings().float()
    hidden = model(cases.inputs)
    last = hidden[torch.arange(len(cases.users)), cases.last].float()
    scores = last @ embeddings.T
    target = cases.targets.unsqueeze(1)
    target_score = scores.gather(1, target)
    scores[:, 0] = float("-inf")
    if mask_history:
        scores[0, cases.history_items] = float("-inf")
        scores.scatter_(1, target, target_score)  # a repeated item stays rankable as a target
    rank = int((scores >= target_score).sum(1)[0] - 1)  # pessimistic, like the evaluation
    top = torch.topk(scores[0], min(n, scores.shape[1] - 1))
    return top.indices.numpy(), top.values.numpy(), rank


def examples(run: Run) -> list[Example]:
    return [Example(run, d) for d in run.datasets]


def choice_table(run: Run) -> pd.DataFrame:
    return pd.DataFrame([e.summary() for e in examples(run)])


def history_table(run: Run) -> pd.DataFrame:
    frames = [e.history() for e in examples(run) if e.user is not None]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["dataset", "user"])


def top_table(run: Run) -> pd.DataFrame:
    frames = [e.top() for e in examples(run) if e.user is not None]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["dataset", "user", "method"])


def choice_text(row) -> str:
    """What was chosen in a dataset and why, as markdown."""
    if pd.isna(row["domain"]):
        return "No domain has a test case, so there is no user to show."
    about = f"Domain **{row['domain']}** ({row['how']}, {100 * row['share']:.2g}% of the training interactions"
    if pd.isna(row["user"]):
        whose = f"none of its {row['power_users']} power users has" if row["power_users"] else "it has no power user, so none has"
        return f"{about}): {whose} a held-out test item in it, so there is no user to show by the rule above."
    return (f"{about}, {row['power_users']} power users). User **{int(row['user'])}** has {int(row['in_domain'])} of "
            f"their {int(row['train'])} training interactions in it. Held-out test item: **{row['target']}** "
            f"({row['target_domains']}). Models of seed {row['seed']}.")


def notes(top: pd.DataFrame, k: int) -> str:
    """Under the lists: per method the target's rank and how many of the top k are of the domain."""
    lines = []
    for method, rows in top.groupby("method", sort=False):
        r = rows.iloc[0]
        line = (f"* **{method}**: the test item ranks {r.target_rank:,} of {r.n_items:,} items"
                f"{' (a hit)' if r.target_rank <= k else ''}; {int(rows['in_domain'].sum())} of the top {len(rows)} "
                f"are {r.domain}")
        if r.evaluated_rank not in (0, r.target_rank):  # 0: the user is not in the evaluation's cases
            line += (f" (the evaluation's per_case.parquet says rank {r.evaluated_rank}: scores on another device "
                     "or precision differ slightly)")
        lines.append(line)
    return "\n".join(lines)


def mark(title: str, in_domain: bool, hit: bool) -> str:
    """A title with ASCII markers for the LaTeX tables."""
    return title + (" *" if in_domain else "") + (" (hit)" if hit else "")


def choice_latex(run: Run, table: pd.DataFrame) -> str:
    rows = [[tex(v) for v in (r["dataset"], r["domain"], r["user"], r["seed"])] for _, r in table.iterrows()]
    return latex_table(["Dataset"], [("", ["Domain", "User", "Seed"])], [(None, rows)],
                       "The user of the qualitative example of each dataset.", "tab:qualitative-users")


def history_latex(run: Run, table: pd.DataFrame) -> str:
    tables = []
    for dataset, h in table.groupby("dataset", sort=False):
        domain = h["domain"].iloc[0]
        rows = [[str(r.position), r.date, r.split, tex(mark(r.title, r.in_domain, False) + (" (test)" if r.target else "")),
                 tex(r.domains)] for r in h.itertuples()]
        caption = (f"{tex(dataset)}: the last {len(h) - 1} of the {h['n_past'].iloc[0]} history items of user "
                   f"{h['user'].iloc[0]}, oldest first, then the held-out test item (test); * = {tex(domain)}.")
        tables.append(latex_table(["Position"], [("", ["Date", "Split", "Title", "Domains"])], [(None, rows)],
                                  caption, f"tab:{dataset}-qualitative-history"))
    return "\n".join(tables)


def top_latex(run: Run, table: pd.DataFrame) -> str:
    tables, k = [], run.k
    for dataset, t in table.groupby("dataset", sort=False):
        methods = list(pd.unique(t["method"]))
        side = {m: t.loc[t["method"] == m].set_index("rank").reindex(range(1, k + 1)) for m in methods}
        rows = [[str(rank), *(tex(mark(r.loc[rank, "title"], r.loc[rank, "in_domain"] == True, r.loc[rank, "hit"] == True))
                              if isinstance(r.loc[rank, "title"], str) else "-" for r in side.values())]
                for rank in range(1, k + 1)]
        caption = (f"{tex(dataset)}: top {k} of each model for user {t['user'].iloc[0]} (seed {t['seed'].iloc[0]}); "
                   f"* = {tex(t['domain'].iloc[0])}, (hit) = the held-out test item.")
        tables.append(latex_table(["Rank"], [("", methods)], [(None, rows)], caption, f"tab:{dataset}-qualitative-top"))
    return "\n".join(tables)


def styled(frame: pd.DataFrame, colors: pd.DataFrame, caption: str):
    return (frame.style.hide(axis="index")
            .apply(lambda _: colors.map(lambda c: f"background-color: {c}" if c else ""), axis=None)
            .set_properties(**{"text-align": "left"})
            .set_table_styles([{"selector": "th", "props": "text-align: left"}])
            .set_caption(caption))


def history_styler(history: pd.DataFrame):
    shown = history[["position", "date", "split", "title", "domains"]].reset_index(drop=True)
    shade = [HIT_COLOR if t else DOMAIN_COLOR if d else "" for t, d in zip(history["target"], history["in_domain"])]
    colors = pd.DataFrame({c: shade for c in shown.columns})
    n_past = history["n_past"].iloc[0]
    return styled(shown, colors, f"History of user {history['user'].iloc[0]}: the last {len(history) - 1} of {n_past} "
                                 f"items, then the held-out test item (orange: {history['domain'].iloc[0]}; green: the test item)")


def top_styler(top: pd.DataFrame, k: int):
    """Ranks as rows, one title column and one domains column per method, domain items and hits shaded."""
    wide, colors = pd.DataFrame({"rank": range(1, k + 1)}), pd.DataFrame({"rank": [""] * k})
    for method in pd.unique(top["method"]):
        rows = top.loc[top["method"] == method].set_index("rank").reindex(range(1, k + 1))
        hits, own = rows["hit"].eq(True).to_numpy(), rows["in_domain"].eq(True).to_numpy()
        wide[f"{method}: title"] = [("✓ " if h else "") + (t if isinstance(t, str) else "–") for t, h in zip(rows["title"], hits)]
        wide[f"{method}: domains"] = rows["domains"].fillna("–").to_numpy()
        shade = [HIT_COLOR if h else DOMAIN_COLOR if d else "" for h, d in zip(hits, own)]
        colors[f"{method}: title"] = colors[f"{method}: domains"] = shade
    return styled(wide, colors, f"Top {k} for user {top['user'].iloc[0]} (orange: {top['domain'].iloc[0]}; green ✓: the held-out "
                                "test item)")


_INPUTS = artifacts("interactions", "items", "domains", "power_users", "model", "per_case")
TABLES = {
    "qualitative": Table(_INPUTS, choice_table, choice_latex),
    "qualitative_history": Table(_INPUTS, history_table, history_latex),
    "qualitative_top": Table(_INPUTS, top_table, top_latex),
}
