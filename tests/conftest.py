import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import papermill
import pytest

from seqrec.config import validate_config
from seqrec.datasets import synthetic
from seqrec.prepare import prepare
from seqrec.weighting import SparsityFiles, sparsity_step

REPO = Path(__file__).resolve().parents[1]

TINY = {
    "synthetic": {"n_users": 200, "n_items": 150, "n_interactions": 6000, "n_domains": 8},
    "train": {"max_len": 20, "d_model": 16, "n_heads": 2, "n_layers": 1, "max_epochs": 3, "patience": 5,
              "batch_size": 64, "n_uniform_negatives": 32, "n_inbatch_negatives": 32,
              "device": "cpu"},  # CPU runs are bit-for-bit reproducible; GPU checks are separate
}


def write_per_case(results: Path, dataset: str, method: str, seed: int, ranks, domains: list, power: list,
                   rng) -> Path:
    """Write made-up per-case results (one test case per user) where the workflow's evaluate step would."""
    from seqrec.io import write_parquet
    from seqrec.metrics import case_metrics

    frame = pd.DataFrame({
        "user": np.arange(len(ranks), dtype=np.int64),
        "item": rng.integers(0, 500, len(ranks)),
        "rank": np.asarray(ranks).astype(np.int64),
        "domains": domains,
        "power_domains": power,
        **case_metrics(np.asarray(ranks), [5, 10]),
    })
    path = results / dataset / "eval" / method / f"seed{seed}" / "per_case.parquet"
    write_parquet(frame, path)
    return path


@pytest.fixture
def run_notebook(tmp_path, monkeypatch):
    """Execute notebooks/<name>.ipynb with papermill; return the code cells' outputs."""
    # The kernel imports seqrec like every workflow step: through PYTHONPATH.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))

    def run(name: str, parameters: dict) -> list:
        output = tmp_path / f"{name}.ipynb"
        papermill.execute_notebook(str(REPO / "notebooks" / f"{name}.ipynb"), str(output),
                                   parameters=parameters, kernel_name="python3", progress_bar=False)
        executed = nbformat.read(output, as_version=4)
        outputs = [o for cell in executed.cells if cell.cell_type == "code" for o in cell.outputs]
        assert not [o for o in outputs if o.output_type == "error"]
        return outputs

    return run


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A prepared tiny synthetic dataset: (config, data_dir, sparsity_dir)."""
    root = tmp_path_factory.mktemp("tiny")
    config = validate_config(TINY)
    synthetic.write_raw(root / "raw", **config["synthetic"])
    prepare("synthetic", root / "raw", root / "data", k_core=config["prepare"]["k_core"])
    sparsity_step(root / "data" / "interactions.parquet", root / "data" / "items.parquet",
                  SparsityFiles.in_folder(root / "sparsity"), "synthetic", config["sparsity"])
    return config, root / "data", root / "sparsity"


# A local HTTP server on 127.0.0.1 for the download tests (no other network access).

@dataclass
class ServerState:
    """What the server serves and how it misbehaves; tests set the fields."""
    files: dict[str, bytes] = field(default_factory=dict)
    fail_first: int = 0            # answer the first N requests with 500
    cut_after: int | None = None   # on the first request, send only this many body bytes
    no_range: bool = False         # ignore Range headers and answer 200 with the whole file
    requests: list[dict] = field(default_factory=list)  # path and headers of each request seen


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        state: ServerState = self.server.state
        state.requests.append({"path": self.path, **self.headers})
        n = len(state.requests)
        if n <= state.fail_first:
            return self.send_error(500)
        if self.path not in state.files:
            return self.send_error(404)
        data = state.files[self.path]
        start = 0
        if self.headers.get("Range") and not state.no_range:
            start = int(self.headers["Range"].removeprefix("bytes=").removesuffix("-"))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if n == 1 and state.cut_after is not None:
            body = body[:state.cut_after]  # the full length was announced; the connection then closes
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    """Start a threaded HTTP server on a free 127.0.0.1 port; yield (state, base URL)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.state = ServerState()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd.state, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)
