"""Sequence encoders: item sequences [B, L] in, a hidden state per position [B, L, d] out.

Every architecture exposes `item_embeddings()` ([V+1, d], row 0 = padding) so that scores over all
items are `hidden @ item_embeddings().T` and the losses of seqrec.losses apply unchanged.
"""

from seqrec.models.sasrec import SASRec

ARCHITECTURES = {"sasrec": SASRec}


def build_model(architecture: str, **kwargs):
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; valid ones are: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[architecture](**kwargs)


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
