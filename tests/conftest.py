import pytest

from seqrec.config import validate_config
from seqrec.datasets import synthetic
from seqrec.prepare import prepare
from seqrec.weighting import sparsity_step

TINY = {
    "synthetic": {"n_users": 200, "n_items": 150, "n_interactions": 6000, "n_domains": 8},
    "train": {"max_len": 20, "d_model": 16, "n_heads": 2, "n_layers": 1, "max_epochs": 3, "patience": 5,
              "batch_size": 64, "n_uniform_negatives": 32, "n_inbatch_negatives": 32,
              "device": "cpu"},  # CPU runs are bit-for-bit reproducible; GPU checks are separate
}


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A prepared tiny synthetic dataset: (config, data_dir, sparsity_dir)."""
    root = tmp_path_factory.mktemp("tiny")
    config = validate_config(TINY)
    synthetic.write_raw(root / "raw", **config["synthetic"])
    prepare("synthetic", root / "raw", root / "data", k_core=config["prepare"]["k_core"])
    sparsity_step(root / "data", root / "sparsity", "synthetic", config["sparsity"])
    return config, root / "data", root / "sparsity"
