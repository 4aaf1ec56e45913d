"""The learning-rate schedule: a linear warm-up, then constant or a half cosine to 0 at max_epochs."""

import pytest

from seqrec.schedule import lr_multiplier


def multipliers(schedule, warmup_epochs, steps_per_epoch=4, max_epochs=3):
    return [lr_multiplier(step, steps_per_epoch=steps_per_epoch, warmup_epochs=warmup_epochs,
                          schedule=schedule, max_epochs=max_epochs) for step in range(steps_per_epoch * max_epochs)]


def test_without_warmup_the_constant_schedule_is_one_throughout():
    assert multipliers("constant", 0) == [1.0] * 12


def test_warmup_rises_linearly_to_one_then_stays():
    assert multipliers("constant", 1) == [0.25, 0.5, 0.75, 1.0] + [1.0] * 8


def test_fractional_warmup_counts_steps():
    assert multipliers("constant", 0.5) == [0.5, 1.0] + [1.0] * 10


def test_cosine_falls_from_one_through_a_half_to_zero_at_max_epochs():
    # 4 warm-up steps, then 8 decay steps: step 4 is the top, step 8 half-way, step 12 would be 0
    values = multipliers("cosine", 1)
    assert values[:5] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert values[8] == pytest.approx(0.5)
    assert lr_multiplier(12, steps_per_epoch=4, warmup_epochs=1, schedule="cosine", max_epochs=3) == pytest.approx(0.0)
    assert lr_multiplier(40, steps_per_epoch=4, warmup_epochs=1, schedule="cosine", max_epochs=3) == pytest.approx(0.0)
