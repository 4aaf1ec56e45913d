"""The methods of the study: a method is an architecture and a loss weighting.

The loss itself (full or sampled softmax) is a training setting shared by all methods
(`train.loss`), so methods differ only in what the paper compares. Every neural baseline also
comes with each weighting of the paper, named `<architecture>+<weighting>` (e.g. `sigma+dynamic`):
the weighting then multiplies that architecture's next-item loss.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    name: str
    architecture: str
    weighting: str
    description: str

    @property
    def fitted(self) -> bool:
        """Fitted on the training counts in one pass (pop): no parameters to train, no GPU to hold."""
        return self.architecture == "pop"

    @property
    def needs_item_text(self) -> bool:
        """Trained on the item text embeddings of the text step (seqrec.text)."""
        return self.architecture == "calrec"


BASELINES = {
    "sigma": "SIGMA (arXiv 2408.11451): partially flipped Mamba, selective gate and feature-extract GRU",
    "calrec": "CALRec (arXiv 2405.02429), adapted: frozen text encoder, two contrastive alignment losses, "
              "two-stage training",
    "sparseennet": "SparseEnNet (AAAI 2024): SASRec with adversarially generated augmented views and a "
                   "contrastive loss",
}
WEIGHTING_DESCRIPTIONS = {
    "fixed": "PinnerFormerLite's fixed weight on the target domains",
    "dynamic": "the paper's dynamic domain weights",
}


def _methods() -> list[Method]:
    methods = [
        Method("pop", "pop", "generic", "most popular training items, history masked: the floor"),
        Method("generic", "sasrec", "generic", "one model on all domains, every positive weighs 1"),
        Method("fixed", "sasrec", "fixed",
               "PinnerFormerLite: one fixed weight on the positives of the target (sparse) domains"),
        Method("dynamic", "sasrec", "dynamic",
               "the paper: per-domain weights from sparsity, EMA-updated and bounded"),
    ]
    for architecture, description in BASELINES.items():
        methods.append(Method(architecture, architecture, "generic", description))
        for weighting, extra in WEIGHTING_DESCRIPTIONS.items():
            methods.append(Method(f"{architecture}+{weighting}", architecture, weighting, f"{description}; {extra}"))
    return methods


METHODS = {m.name: m for m in _methods()}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; valid methods are: {', '.join(METHODS)}")
    return METHODS[name]
