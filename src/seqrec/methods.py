"""The methods of the study: a method is an architecture, a loss weighting and a loss.

The loss itself (full or sampled softmax) is a training setting shared by all methods
(`train.loss`), so methods differ only in what the paper compares.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    name: str
    architecture: str
    weighting: str
    description: str


METHODS = {
    m.name: m
    for m in [
        Method("generic", "sasrec", "generic", "one model on all domains, every positive weighs 1"),
        Method("fixed", "sasrec", "fixed",
               "PinnerFormerLite: one fixed weight on the positives of the target (sparse) domains"),
        Method("dynamic", "sasrec", "dynamic",
               "the paper: per-domain weights from sparsity, EMA-updated and bounded"),
    ]
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; valid methods are: {', '.join(METHODS)}")
    return METHODS[name]
