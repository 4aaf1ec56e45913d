"""Weights on a hand-computed example (docs/weighting.md has the formulas)."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from seqrec.config import validate_config
from seqrec.weighting import ItemDomains, build_weighting, domain_table, padded_to_power_of_two, power_users

# Items 1: {A}, 2: {B}, 3: {A, B}. Training positives: item 1 six times, items 2 and 3 twice each,
# so A holds 8 of 10 positives (share 0.8) and B holds 4 (share 0.4, multi-label counting).
ITEMS = pd.DataFrame({"item": [1, 2, 3], "domains": [["A"], ["B"], ["A", "B"]]})
TRAIN = [(0, 1), (0, 1), (0, 1), (0, 2), (0, 3), (1, 1), (1, 1), (1, 1), (1, 2), (1, 3)]
INTERACTIONS = pd.DataFrame(
    [(u, i, t, "train") for t, (u, i) in enumerate(TRAIN)] + [(0, 2, 100, "valid"), (0, 3, 101, "test")],
    columns=["user", "item", "timestamp", "split"],
)
COUNTS = np.array([0, 6, 2, 2])


def sparsity(**dynamic):
    # the hand-computed weights below assume inverse frequency and bounds [0.5, 5], whatever the schema's default
    config = validate_config({"sparsity": {"dynamic": {"score": "inverse_frequency", "alpha": 1.0, "w_min": 0.5, **dynamic}, "fixed": {"target_domains": {"toy": ["B"]}}}})
    return config["sparsity"]


def test_domain_table_statistics():
    table = domain_table(INTERACTIONS, ITEMS, sparse_share_threshold=0.5).set_index("domain")
    assert table.loc["A", "interactions"] == 8 and table.loc["B", "interactions"] == 4
    assert table.loc["A", "share"] == pytest.approx(0.8) and table.loc["B", "share"] == pytest.approx(0.4)
    assert table.loc["A", "items"] == 2 and table.loc["A", "users"] == 2
    assert table.loc["A", "entropy"] == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert table.loc["B", "inverse_frequency"] == pytest.approx(2.5)
    assert list(table["is_sparse"]) == [False, True]


def test_dynamic_initial_weights_are_normalised_inverse_frequency():
    table = domain_table(INTERACTIONS, ITEMS, 0.5)
    weighting = build_weighting("dynamic", table, ITEMS, COUNTS, sparsity(), "toy")
    # scores 1/0.8 = 1.25 and 1/0.4 = 2.5; item scores (max) 1.25, 2.5, 2.5;
    # normaliser (6*1.25 + 2*2.5 + 2*2.5) / 10 = 1.75.
    assert weighting.domain_weights().tolist() == pytest.approx([1.25 / 1.75, 2.5 / 1.75])
    assert weighting.item_weights.tolist() == pytest.approx([1.0, 1.25 / 1.75, 2.5 / 1.75, 2.5 / 1.75])
    mean_over_positives = (weighting.item_weights.numpy() * COUNTS).sum() / COUNTS.sum()
    assert mean_over_positives == pytest.approx(1.0)


def test_dynamic_weights_are_bounded():
    table = domain_table(INTERACTIONS, ITEMS, 0.5)
    weighting = build_weighting("dynamic", table, ITEMS, COUNTS, sparsity(w_max=1.2, w_min=0.9), "toy")
    assert weighting.domain_weights().tolist() == pytest.approx([0.9, 1.2])


def test_dynamic_ema_update():
    table = domain_table(INTERACTIONS, ITEMS, 0.5)
    # batches of two positives: the start (training shares) weighs as much as one batch
    weighting = build_weighting("dynamic", table, ITEMS, COUNTS, sparsity(ema_decay=0.5), "toy", batch_positions=2)
    weighting.observe(torch.tensor([2, 2, 0]))  # two positives of B, one padding position
    # positives in A: 0.5*1.6 + 0.5*0 = 0.8, in B: 0.5*0.8 + 0.5*2 = 1.4, in all: 0.5*2 + 0.5*2 = 2;
    # frequencies A 0.4, B 0.7; scores 2.5 and 1/0.7; item scores 2.5, 1/0.7, 2.5;
    # normaliser (15 + 2/0.7 + 5) / 10 = 16/7.
    assert weighting.frequency.tolist() == pytest.approx([0.4, 0.7])
    assert weighting.domain_weights().tolist() == pytest.approx([2.5 * 7 / 16, 10 / 16])
    restored = build_weighting("dynamic", table, ITEMS, COUNTS, sparsity(ema_decay=0.5), "toy", batch_positions=2)
    restored.load_state_dict(weighting.state_dict())
    assert restored.item_weights.tolist() == pytest.approx(weighting.item_weights.tolist())


def test_ema_counts_every_position_alike_whatever_the_size_of_its_batch():
    # Length-grouped batches hold from a few to thousands of positions. Here a batch of one B
    # positive and a batch of nine A positives alternate: B holds 1 of every 10 positions, so its
    # moving frequency must settle near 0.1 (the mean of the two batches' shares would be 0.5).
    table = domain_table(INTERACTIONS, ITEMS, 0.5)
    weighting = build_weighting("dynamic", table, ITEMS, COUNTS, sparsity(ema_decay=0.99), "toy")
    for _ in range(1000):
        weighting.observe(torch.tensor([2]))
        weighting.observe(torch.ones(9, dtype=torch.long))
    # steady state after the A batch: B = beta / (beta + 9), A = 9 / (beta + 9)
    assert weighting.frequency.tolist() == pytest.approx([9 / 9.99, 0.99 / 9.99], abs=1e-4)


def test_a_batch_of_padding_alone_leaves_finite_weights():
    # at ema_decay 0 the moving counts are the batch's own: none at all here
    table = domain_table(INTERACTIONS, ITEMS, 0.5)
    weighting = build_weighting("dynamic", table, ITEMS, COUNTS, sparsity(ema_decay=0.0), "toy")
    weighting.observe(torch.tensor([0, 0]))
    assert torch.isfinite(weighting.item_weights).all()


def test_densest_normalisation_makes_the_densest_domain_weigh_one():
    table = domain_table(INTERACTIONS, ITEMS, 0.5)
    # A is the densest (share 0.8): scores 1.25 and 2.5 are divided by 1.25.
    weighting = build_weighting("dynamic", table, ITEMS, COUNTS, sparsity(normalise="densest"), "toy")
    assert weighting.domain_weights().tolist() == pytest.approx([1.0, 2.0])
    assert weighting.item_weights.tolist() == pytest.approx([1.0, 1.0, 2.0, 2.0])
    # alpha 0.5: (0.8 / 0.4)^0.5; the bounds still apply after the normalisation.
    root = build_weighting("dynamic", table, ITEMS, COUNTS, sparsity(normalise="densest", alpha=0.5), "toy")
    assert root.domain_weights().tolist() == pytest.approx([1.0, math.sqrt(2)])
    bounded = build_weighting("dynamic", table, ITEMS, COUNTS, sparsity(normalise="densest", w_max=1.5), "toy")
    assert bounded.domain_weights().tolist() == pytest.approx([1.0, 1.5])


def test_densest_normalisation_follows_the_ema_of_the_densest_training_domain():
    table = domain_table(INTERACTIONS, ITEMS, 0.5)
    weighting = build_weighting("dynamic", table, ITEMS, COUNTS, sparsity(normalise="densest", ema_decay=0.5), "toy",
                                batch_positions=2)
    weighting.observe(torch.tensor([2, 2, 0]))
    # EMA A 0.4, B 0.7 (as above): scores 2.5 and 1/0.7, divided by A's current score 2.5.
    assert weighting.domain_weights().tolist() == pytest.approx([1.0, 1 / (0.7 * 2.5)])
    assert weighting.item_weights.tolist() == pytest.approx([1.0, 1.0, 1 / (0.7 * 2.5), 1.0])


def test_fixed_and_generic_weights():
    table = domain_table(INTERACTIONS, ITEMS, 0.5)
    fixed = build_weighting("fixed", table, ITEMS, COUNTS, sparsity(), "toy")
    assert fixed.item_weights.tolist() == [1.0, 1.0, 2.0, 2.0]  # item 3 takes max(1, 2)
    # Without configured targets, the sparse domains (share < threshold) are the targets.
    default = build_weighting("fixed", table, ITEMS, COUNTS, sparsity(), "other-dataset")
    assert default.item_weights.tolist() == [1.0, 1.0, 2.0, 2.0]
    generic = build_weighting("generic", table, ITEMS, COUNTS, sparsity(), "toy")
    assert generic.item_weights.tolist() == [1.0] * 4


def test_other_scores_and_combinations():
    table = domain_table(INTERACTIONS, ITEMS, 0.5)
    for score in ("user_ratio", "entropy"):
        weights = build_weighting("dynamic", table, ITEMS, COUNTS, sparsity(score=score), "toy").item_weights
        assert torch.isfinite(weights).all()
    config = sparsity()
    config["combine"] = "mean"
    weighting = build_weighting("dynamic", table, ITEMS, COUNTS, config, "toy")
    w_a, w_b = weighting.domain_weights().tolist()
    assert weighting.item_weights[3].item() == pytest.approx((w_a + w_b) / 2)


def test_unknown_target_domain_is_named():
    table = domain_table(INTERACTIONS, ITEMS, 0.5)
    config = sparsity()
    config["fixed"]["target_domains"]["toy"] = ["Film-Noir"]
    with pytest.raises(ValueError, match="Film-Noir.*domains are: A, B"):
        build_weighting("fixed", table, ITEMS, COUNTS, config, "toy")


def test_domain_without_training_interactions_gets_w_max():
    items = pd.concat([ITEMS, pd.DataFrame({"item": [4], "domains": [["C"]]})], ignore_index=True)
    with pytest.warns(UserWarning, match="C"):
        table = domain_table(INTERACTIONS, items, 0.5)
    weighting = build_weighting("dynamic", table, items, np.append(COUNTS, 0), sparsity(), "toy")
    weights = dict(zip(table["domain"], weighting.domain_weights().tolist()))
    assert weights["C"] == 5.0 and weights["A"] == pytest.approx(1.25 / 1.75)


def test_power_users():
    power = power_users(INTERACTIONS, ITEMS, 0.5)
    # Both users: 4 of 5 training items in A, 2 of 5 in B.
    assert sorted(map(tuple, power.to_numpy())) == [(0, "A"), (1, "A")]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("normalise", ["mean", "densest"])
def test_cuda_graph_update_matches_eager_update(normalise):
    table = domain_table(INTERACTIONS, ITEMS, 0.5)
    config = sparsity(ema_decay=0.7, normalise=normalise)
    graphed = build_weighting("dynamic", table, ITEMS, COUNTS, config, "toy", device="cuda")
    eager = build_weighting("dynamic", table, ITEMS, COUNTS, config, "toy", device="cpu")
    generator = torch.Generator().manual_seed(0)
    for size in (6, 6, 4, 6, 4, 5, 7):  # sizes bucketed to two shapes (8, 4), each captured once
        targets = torch.randint(0, 4, (size,), generator=generator)
        graphed.observe(targets.cuda())
        eager.observe(targets)
        assert graphed.item_weights.cpu().tolist() == pytest.approx(eager.item_weights.tolist(), rel=1e-5)
    assert len(graphed._graphed_update.graphs) == 2


def test_targets_padded_to_a_power_of_two_update_the_weights_alike():
    # What the CUDA path observes: cut batches' many sizes fall into a few, and padding is not counted.
    table = domain_table(INTERACTIONS, ITEMS, 0.5)
    padded = build_weighting("dynamic", table, ITEMS, COUNTS, sparsity(ema_decay=0.7), "toy")
    plain = build_weighting("dynamic", table, ITEMS, COUNTS, sparsity(ema_decay=0.7), "toy")
    targets = torch.tensor([[2, 2, 1], [3, 1, 0]])
    assert padded_to_power_of_two(targets).tolist() == [2, 2, 1, 3, 1, 0, 0, 0]
    padded.observe(padded_to_power_of_two(targets))
    plain.observe(targets.flatten())
    assert padded.item_weights.tolist() == pytest.approx(plain.item_weights.tolist())
    sizes = {len(padded_to_power_of_two(torch.zeros(n, dtype=torch.long))) for n in range(1, 25_601)}
    assert len(sizes) == 16  # 1 .. 32768: a batch of 128 x 200 positions at most


@pytest.mark.parametrize("score, scores", [
    # s_d for A (share 0.8, 8 interactions) and B (share 0.4, 4 interactions), alpha 1
    ("log_inverse_frequency", (math.log(1 + 1 / 0.8), math.log(1 + 1 / 0.4))),
    ("effective_number", (0.5 / (1 - 0.5 ** 8), 0.5 / (1 - 0.5 ** 4))),  # beta 0.5
])
def test_alternative_scores(score, scores):
    table = domain_table(INTERACTIONS, ITEMS, 0.5)
    weighting = build_weighting("dynamic", table, ITEMS, COUNTS, sparsity(score=score, effective_number_beta=0.5), "toy")
    s_a, s_b = scores
    normaliser = (6 * s_a + 2 * max(s_a, s_b) + 2 * max(s_a, s_b)) / 10
    assert weighting.domain_weights().tolist() == pytest.approx([s_a / normaliser, s_b / normaliser], rel=1e-5)


def test_a_changed_normalisation_is_another_run():
    # The checkpoint's description covers the sparsity section: a resumed training never mixes them.
    from seqrec.checkpoint import describe_run

    mean, densest = (validate_config({"sparsity": {"dynamic": {"normalise": n}}}) for n in ("mean", "densest"))
    runs = [describe_run(dataset="toy", method="dynamic", seed=1, config=c, inputs=[]) for c in (mean, densest)]
    assert runs[0]["sparsity"]["dynamic"]["normalise"] == "mean"
    assert runs[0] != runs[1]


@pytest.mark.parametrize("how, expected", [("max", [1.0, 2.0, 4.0, 4.0, 1.0]), ("mean", [1.0, 2.0, 4.0, 3.0, 1.0]),
                                           ("min", [1.0, 2.0, 4.0, 2.0, 1.0])])
def test_an_item_combines_the_values_of_its_domains_and_one_without_domains_weighs_1(how, expected):
    items = pd.DataFrame({"item": [1, 2, 3, 4], "domains": [["A"], ["B"], ["A", "B"], []]})
    domains = ItemDomains(items, ["A", "B"], n_items=4)
    assert domains.combine(torch.tensor([2.0, 4.0]), how).tolist() == expected
