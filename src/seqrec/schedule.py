"""The learning-rate schedule of a training run (`train.warmup_epochs`, `train.lr_schedule`).

The rate rises linearly from lr / (warm-up steps) to lr over the first `warmup_epochs` epochs, then
stays at lr (`constant`) or follows a half cosine down to 0 at `max_epochs` (`cosine`). Early
stopping may end a run before the cosine reaches 0: the schedule is a function of the optimiser
step alone, so a resumed run continues it exactly.
"""

from __future__ import annotations

import math

import torch


def lr_multiplier(step: int, *, steps_per_epoch: int, warmup_epochs: float, schedule: str,
                  max_epochs: int) -> float:
    """The factor applied to lr at optimiser step `step` (0 = the first step); `schedule` is one of
    the schema's `train.lr_schedule` values."""
    warmup_steps = round(warmup_epochs * steps_per_epoch)
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    decay_steps = max(1, max_epochs * steps_per_epoch - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def scheduler(optimizer: torch.optim.Optimizer, *, steps_per_epoch: int, settings: dict
              ) -> torch.optim.lr_scheduler.LambdaLR:
    """A scheduler stepped once after every optimiser step; its state is plain values (a checkpoint's)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_multiplier(
        step, steps_per_epoch=steps_per_epoch, warmup_epochs=settings["warmup_epochs"],
        schedule=settings["lr_schedule"], max_epochs=settings["max_epochs"]))
