"""The architectures: one module each, every model a seqrec.models.base.SequenceModel (the contract
the trainer and the evaluation rely on: hidden states, item embeddings, scores, auxiliary loss, and
whether it is causal, fitted or needs item text).

The architectures are imported on first use, so a run of one method loads only its own module.
Adding one: its module with a SequenceModel subclass, and its entry below.
"""

from importlib import import_module

ARCHITECTURES = {
    "pop": "seqrec.models.popularity:Popularity",
    "sasrec": "seqrec.models.sasrec:SASRec",
    "sigma": "seqrec.models.sigma:SIGMA",
    "calrec": "seqrec.models.calrec:CALRec",
    "sparseennet": "seqrec.models.sparseennet:SparseEnNet",
}


def architecture_class(architecture: str):
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; valid ones are: {', '.join(ARCHITECTURES)}")
    module, name = ARCHITECTURES[architecture].split(":")
    return getattr(import_module(module), name)


def build_model(architecture: str, **kwargs):
    return architecture_class(architecture)(**kwargs)


def load_model(path, device="cpu"):
    """The trained model saved by seqrec.train as model.pt, in eval mode on `device`."""
    import torch

    from seqrec.io import InputError

    try:
        saved = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError as err:
        raise InputError(f"{path}: model file not found; run the train step first") from err
    except Exception as err:  # torch raises several types for a truncated or foreign file
        raise InputError(f"{path}: not a readable model file ({err}); delete it and rerun training") from err
    model = build_model(saved["architecture"], **saved["model_args"]).to(device)
    model.load_state_dict(saved["state_dict"])
    return model.eval(), saved
