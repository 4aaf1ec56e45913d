"""Where the tie rule's NDCG@10 goes: the test cases of one method under this project's hash rule and
under the raw file's order (`prepare.ties`, docs/datasets.md "Ties in time"), split by whether the
test item shares its second with another interaction of its user.

    PYTHONPATH=src python benchmarks/tied_cases.py --hash results --file ties-file/results \
        --dataset movielens-1m --method generic --seeds 1 2

`--hash` and `--file` are two results folders of the workflow (the layout of seqrec.layout), the
same config but for `prepare.ties`, e.g. `snakemake --configfile config/cpu-day.yaml` run once as it
is and once with `--config 'prepare={"ties": "file"}' --directory ties-file` (the second working
directory with ML-1M placed in its own resources/, README "Real datasets"). Each case's NDCG@10 is
the mean over `--seeds`.

An untied test item is the user's last interaction under either rule, so those cases have the same
target in both folders and are compared paired (a bootstrap over users, as the aggregate step
does). A tied test item is the rule's pick among the items of the user's last second: the two rules
may pick different items, or the same item after a different history order.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from seqrec.io import InputError, read_parquet
from seqrec.layout import Layout
from seqrec.stats import bootstrap_lifts, percentile_interval

N_BOOTSTRAP = 10_000
RULES = ("hash", "file")


def test_cases(results: Path, dataset: str, method: str, seeds: list[int]) -> pd.DataFrame:
    """Per user: the test item, whether it is tied, and its NDCG@10 averaged over the seeds."""
    layout = Layout(results=results)
    interactions = read_parquet(layout.path("interactions", dataset=dataset))
    test = interactions.loc[interactions["split"] == "test", ["user", "item", "timestamp"]]
    same_second = interactions.merge(test[["user", "timestamp"]], on=["user", "timestamp"])
    tied = same_second.groupby("user").size() > 1
    ndcg = pd.concat([read_parquet(layout.path("per_case", dataset=dataset, method=method, seed=seed))
                      .set_index("user")["ndcg@10"] for seed in seeds], axis=1).mean(axis=1)
    return test.set_index("user")[["item"]].assign(tied=tied, ndcg=ndcg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hash", type=Path, required=True, help="results folder of the hash rule")
    parser.add_argument("--file", type=Path, required=True, help="results folder of `prepare.ties: file`")
    parser.add_argument("--dataset", default="movielens-1m")
    parser.add_argument("--method", default="generic")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    args = parser.parse_args()

    try:
        cases = {rule: test_cases(getattr(args, rule), args.dataset, args.method, args.seeds) for rule in RULES}
    except InputError as error:
        raise SystemExit(f"error: {error}") from None
    both = cases["hash"].merge(cases["file"], left_index=True, right_index=True, suffixes=("_hash", "_file"))
    both["same_target"] = both["item_hash"] == both["item_file"]
    if not both["tied_hash"].equals(both["tied_file"]):
        raise SystemExit("error: the two folders tie different users' test items: are they the same dataset?")
    groups = {
        "all": np.ones(len(both), dtype=bool),
        "untied (same target)": ~both["tied_hash"],
        "tied, same target": both["tied_hash"] & both["same_target"],
        "tied, other target": both["tied_hash"] & ~both["same_target"],
    }
    rng = np.random.default_rng(0)
    print(f"{args.dataset}, {args.method}, seeds {' '.join(map(str, args.seeds))}: test NDCG@10 "
          f"(mean over seeds) under the hash rule and the file's order\n")
    print("| test cases | n | hash | file | file over hash, paired [95% interval] |\n| --- | --- | --- | --- | --- |")
    for name, chosen in groups.items():
        values = both.loc[chosen, ["ndcg_hash", "ndcg_file"]].to_numpy(np.float64)
        means = values.mean(axis=0)
        paired = "unpaired (other targets)"
        if both.loc[chosen, "same_target"].all():
            low, high = percentile_interval(bootstrap_lifts(values, N_BOOTSTRAP, rng), (0.025, 0.975))
            paired = f"{means[1] / means[0] - 1:+.1%} [{low[0]:+.1%}, {high[0]:+.1%}]"
        print(f"| {name} | {len(values):,} | {means[0]:.4f} | {means[1]:.4f} | {paired} |")


if __name__ == "__main__":
    main()
