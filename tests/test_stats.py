import numpy as np
import pandas as pd
import pytest

from seqrec.io import InputError, write_parquet
from seqrec.metrics import case_metrics
from seqrec.stats import LIFT_COLUMNS, SEED_COLUMNS, TableFiles, aggregate, holm, lift_table, seed_table

KS = [10]


def run(ranks, method: str, seed: int, domains=None) -> pd.DataFrame:
    """Per-case results of one (method, seed) with the given 0-based target ranks."""
    ranks = np.asarray(ranks, dtype=np.int64)
    n = len(ranks)
    domains = domains or [["A"] if u % 2 else ["A", "B"] for u in range(n)]
    frame = pd.DataFrame(
        {
            "user": np.arange(n, dtype=np.int64),
            "item": np.arange(n, dtype=np.int64) + 100,
            "rank": ranks,
            "domains": domains,
            "power_domains": [["B"] if u % 3 == 0 else [] for u in range(n)],
        }
    )
    return frame.assign(**case_metrics(ranks, KS), method=method, seed=seed)


def hits(n: int, every: int, also: int | None = None) -> np.ndarray:
    """Rank 0 for users u with u % every == 0 (or == also), rank 100 otherwise."""
    users = np.arange(n)
    hit = (users % every == 0) | (users % every == (also if also is not None else 0))
    return np.where(hit, 0, 100)


def row(table: pd.DataFrame, **keys) -> pd.Series:
    selected = table
    for column, value in keys.items():
        selected = selected[selected[column] == value]
    assert len(selected) == 1, keys
    return selected.iloc[0]


def test_seed_table_mean_and_std_over_seeds():
    # Recall@10 of generic: 0.5 in seed 1 and 1.0 in seed 2 over users 0..3.
    runs = pd.concat([run([0, 50, 0, 50], "generic", 1), run([0, 0, 0, 0], "generic", 2)])
    table = seed_table(runs, KS)
    assert list(table.columns) == SEED_COLUMNS
    overall = row(table, scope="overall", metric="recall", k=10)
    assert overall["mean"] == pytest.approx(0.75)
    assert overall["std"] == pytest.approx(np.std([0.5, 1.0], ddof=1))
    assert (overall["n_seeds"], overall["n_cases"]) == (2, 4)
    # Domain B holds users 0 and 2, both hits in both seeds.
    domain_b = row(table, scope="domain", domain="B", metric="ndcg", k=10)
    assert (domain_b["mean"], domain_b["std"], domain_b["n_cases"]) == (1.0, 0.0, 2)


def test_lift_of_a_method_that_doubles_the_hit_rate():
    n = 600
    runs = pd.concat(
        [run(hits(n, 10), "generic", s) for s in (1, 2)]
        + [run(hits(n, 10, also=1), "fixed", s) for s in (1, 2)]
    )
    table = lift_table(runs, KS, n_bootstrap=500)
    assert list(table.columns) == LIFT_COLUMNS
    for metric in ("recall", "ndcg"):
        lift = row(table, method="fixed", scope="overall", metric=metric)
        assert lift["reference_value"] == pytest.approx(0.1)
        assert lift["value"] == pytest.approx(0.2)
        assert lift["lift"] == pytest.approx(1.0)
        assert 0 < lift["ci_low"] < 1.0 < lift["ci_high"]
        assert lift["p_value"] < 0.05
        assert (lift["n_cases"], lift["reference"]) == (n, "generic")


def test_identical_methods_have_no_lift():
    ranks = np.random.default_rng(0).integers(0, 30, 200)
    runs = pd.concat([run(ranks, m, s) for m in ("generic", "dynamic") for s in (1, 2, 3)])
    table = lift_table(runs, KS, n_bootstrap=200)
    # overall, domains A and B, power B; recall and ndcg each.
    assert len(table) == 4 * 2
    assert (table["lift"] == 0).all()
    assert (table["ci_low"] == 0).all() and (table["ci_high"] == 0).all()
    assert (table["p_value"] == 1.0).all()


def test_lift_is_nan_where_the_reference_never_hits():
    runs = pd.concat([run([50] * 6, "generic", 1), run([50] * 6, "fixed", 1), run([0] + [50] * 5, "dynamic", 1)])
    table = lift_table(runs, KS, n_bootstrap=100)
    same = row(table, method="fixed", scope="overall", metric="recall")
    assert np.isnan(same["lift"]) and same["p_value"] == 1.0
    better = row(table, method="dynamic", scope="overall", metric="recall")
    assert np.isnan(better["lift"]) and better["ci_high"] == np.inf


def test_lift_bootstrap_is_reproducible():
    rng = np.random.default_rng(1)
    runs = pd.concat([run(rng.integers(0, 30, 100), m, 1) for m in ("generic", "fixed")])
    first = lift_table(runs, KS, n_bootstrap=100, seed=3)
    pd.testing.assert_frame_equal(first, lift_table(runs, KS, n_bootstrap=100, seed=3))


def write_runs(tmp_path, frames: dict[tuple[str, int], pd.DataFrame]) -> dict:
    paths = {}
    for (method, seed), frame in frames.items():
        paths[(method, seed)] = tmp_path / method / f"seed{seed}" / "per_case.parquet"
        write_parquet(frame.drop(columns=["method", "seed"]), paths[(method, seed)])
    return paths


def test_aggregate_writes_tables(tmp_path):
    n = 60
    frames = {(m, s): run(hits(n, 4 if m == "generic" else 2), m, s) for m in ("generic", "fixed") for s in (1, 2)}
    out = tmp_path / "tables"
    metrics, lifts = aggregate("synthetic", write_runs(tmp_path, frames), TableFiles.in_folder(out), KS,
                               n_bootstrap=100)
    assert sorted(p.name for p in out.iterdir()) == ["lift.csv", "lift.tex", "metrics.csv", "metrics.tex"]
    pd.testing.assert_frame_equal(pd.read_csv(out / "lift.csv"), lifts, check_dtype=False)
    metrics_tex, lift_tex = (out / "metrics.tex").read_text(), (out / "lift.tex").read_text()
    for tex in (metrics_tex, lift_tex):
        assert "\\toprule" in tex and "\\bottomrule" in tex and "NDCG@10" in tex
    assert "$0.2500 \\pm 0.0000$" in metrics_tex
    assert "$+100.0$" in lift_tex


def test_the_validation_split_gets_the_same_tables_under_its_own_names(tmp_path):
    n = 60
    frames = {(m, s): run(hits(n, 4 if m == "generic" else 2), m, s) for m in ("generic", "fixed") for s in (1, 2)}
    paths = write_runs(tmp_path, frames)
    test_tables = aggregate("synthetic", paths, TableFiles.in_folder(tmp_path / "tables"), KS, n_bootstrap=100)
    out = tmp_path / "tables"
    valid_tables = aggregate("synthetic", paths, TableFiles.in_folder(out, "valid"), KS, n_bootstrap=100,
                             split="valid")
    assert sorted(p.name for p in out.glob("valid_*")) == [
        "valid_lift.csv", "valid_lift.tex", "valid_metrics.csv", "valid_metrics.tex"]
    for test_table, valid_table in zip(test_tables, valid_tables):
        pd.testing.assert_frame_equal(test_table, valid_table)  # one builder: the split names only the files
    valid_tex, test_tex = (out / "valid_lift.tex").read_text(), (out / "lift.tex").read_text()
    assert "synthetic, validation split: relative change" in valid_tex
    assert "\\label{tab:synthetic-valid-lift}" in valid_tex
    assert "synthetic, test split: relative change" in test_tex and "\\label{tab:synthetic-lift}" in test_tex
    assert "validation split: Recall@10" in (out / "valid_metrics.tex").read_text()


def test_aggregate_without_the_reference_says_to_add_it(tmp_path):
    paths = write_runs(tmp_path, {("fixed", 1): run([0, 1], "fixed", 1)})
    with pytest.raises(InputError, match="add `generic` to `methods`"):
        aggregate("synthetic", paths, TableFiles.in_folder(tmp_path / "tables"), KS)
    with pytest.raises(InputError, match="add `generic` to `methods`"):
        lift_table(run([0, 1], "fixed", 1), KS)


def test_aggregate_names_files_with_different_users(tmp_path):
    frames = {("generic", 1): run([0, 1, 2], "generic", 1), ("fixed", 1): run([0, 1], "fixed", 1)}
    paths = write_runs(tmp_path, frames)
    with pytest.raises(InputError) as error:
        aggregate("synthetic", paths, TableFiles.in_folder(tmp_path / "tables"), KS)
    assert str(paths[("generic", 1)]) in str(error.value)
    assert str(paths[("fixed", 1)]) in str(error.value)
    assert not (tmp_path / "tables").exists()


def test_holm_on_hand_computed_p_values():
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.06.
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    # 0.2 * 3 = 0.6, 0.6 * 2 = 1.2 -> 1 (capped), 0.9 * 1 -> running max 1.
    np.testing.assert_allclose(holm([0.6, 0.2, 0.9]), [1.0, 0.6, 1.0])
    adjusted = holm([0.02, np.nan, 0.01])  # NaN is neither counted nor adjusted
    np.testing.assert_allclose(adjusted[[0, 2]], [0.02, 0.02])
    assert np.isnan(adjusted[1])
    assert holm([]).shape == (0,)
    np.testing.assert_allclose(holm([0.3]), [0.3])


def test_holm_matches_r_p_adjust():
    # R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "holm") gives 0.05 0.08 0.09 0.09 0.09, and
    # p.adjust(c(0.001, 0.5, 0.02, 0.04), "holm") gives 0.004 0.5 0.06 0.08.
    np.testing.assert_allclose(holm([0.01, 0.02, 0.03, 0.04, 0.05]), [0.05, 0.08, 0.09, 0.09, 0.09])
    np.testing.assert_allclose(holm([0.001, 0.5, 0.02, 0.04]), [0.004, 0.5, 0.06, 0.08])
