"""The methods of the study, each declared once: architecture, loss weighting, label, colour and
whether it is a baseline. The config schema's method names, the claims' baselines, the figures'
labels and colours and the benchmarks read them from here.

The loss itself (full or sampled softmax) is a training setting shared by all methods
(`train.loss`), so methods differ only in what the paper compares. Every neural baseline also
comes with each weighting of the paper, named `<architecture>+<weighting>` (e.g. `sigma+dynamic`):
the weighting then multiplies that architecture's next-item loss. How a method is trained (fitted
or trained, with item text or without) is its architecture's (seqrec.models.base.SequenceModel).
"""

from __future__ import annotations

from dataclasses import dataclass

from seqrec.models import architecture_class


@dataclass(frozen=True)
class Method:
    name: str
    architecture: str
    weighting: str
    label: str  # as tables and figures name it
    color: str  # its colour in every figure (matplotlib colour)
    description: str
    baseline: bool = False  # a state-of-the-art method the paper compares with
    floor: bool = False  # a floor every model must beat, not a competitor: lift figures leave it out

    @property
    def fitted(self) -> bool:
        """Fitted on the training counts in one pass (pop): no parameters to train, no GPU to hold."""
        return architecture_class(self.architecture).fitted

    @property
    def needs_item_text(self) -> bool:
        """Trained on the item text embeddings of the text step (seqrec.text)."""
        return architecture_class(self.architecture).needs_item_text


WEIGHTING_DESCRIPTIONS = {
    "fixed": "PinnerFormerLite's fixed weight on the target domains",
    "dynamic": "the paper's dynamic domain weights",
}


def baseline(architecture: str, label: str, description: str, colors: tuple[str, str, str]) -> list[Method]:
    """A baseline alone and with each weighting (`<architecture>+fixed`, `+dynamic`), in that order of `colors`."""
    methods = [Method(architecture, architecture, "generic", label, colors[0], description, baseline=True)]
    for (weighting, extra), color in zip(WEIGHTING_DESCRIPTIONS.items(), colors[1:]):
        methods.append(Method(f"{architecture}+{weighting}", architecture, weighting, f"{label} + {weighting}", color,
                              f"{description}; {extra}", baseline=True))
    return methods


_METHODS = [
    Method("pop", "pop", "generic", "Popularity", "#2ca02c",
           "most popular training items, history masked: the floor", floor=True),
    Method("generic", "sasrec", "generic", "Generic", "0.35",
           "one model on all domains, every positive weighs 1"),
    Method("fixed", "sasrec", "fixed", "Fixed (PinnerFormerLite)", "#1f77b4",
           "PinnerFormerLite: one fixed weight on the positives of the target (sparse) domains"),
    Method("dynamic", "sasrec", "dynamic", "Dynamic", "#ff7f0e",
           "the paper: per-domain weights from sparsity, EMA-updated and bounded"),
    *baseline("sigma", "SIGMA", "SIGMA (arXiv 2408.11451): partially flipped Mamba, selective gate and "
              "feature-extract GRU", ("#d62728", "#9467bd", "#8c564b")),
    *baseline("calrec", "CALRec", "CALRec (arXiv 2405.02429), adapted: frozen text encoder, two contrastive "
              "alignment losses, two-stage training", ("#e377c2", "#17becf", "#bcbd22")),
    *baseline("sparseennet", "SparseEnNet", "SparseEnNet (AAAI 2024): SASRec with adversarially generated "
              "augmented views and a contrastive loss", ("#98df8a", "#ff9896", "#c5b0d5")),
]
METHODS = {m.name: m for m in _METHODS}
# The baselines as the paper's claims name them (each without a weighting of ours).
BASELINE_LABELS = {m.name: m.label for m in _METHODS if m.baseline and m.weighting == "generic"}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; valid methods are: {', '.join(METHODS)}")
    return METHODS[name]
