"""Raw files placed by hand, through the snakemake command line: kept byte-identical, verified.

The real MovieLens files are copied from the shared dataset folder beside the repository (skipped
when it is absent) into a temporary working directory, laid out as the docs tell a user to.
"""

import gzip
import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="the real MovieLens files are not available")

ML_100K = {"ml-100k/u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
           "ml-100k/u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701"}
ML_1M_RATINGS = "506d64ca44484487c11dc2d9a28de5c54948213e6b96285e298afe28d6ea4e0f"
CONFIG = "datasets: [movielens-100k, movielens-1m]\nmethods: [generic]\nseeds: [1]\n"
PREPARED = "results/{}/data/dataset.json"


def real_bytes(member: str) -> bytes:
    """A member of the real archives, from the shared copy (ML-1M's ratings.dat is gzipped there)."""
    if member == "ml-1m/ratings.dat":
        return gzip.decompress((SHARED / "ml-1m" / "ratings.dat.gz").read_bytes())
    return (SHARED / member).read_bytes()


def place(workdir: Path, relative: str, data: bytes) -> Path:
    path = workdir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def state(paths) -> dict:
    """What must not change about a user's file: its content and its modification time."""
    return {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in paths}


def snakemake(workdir: Path, *args, env: dict | None = None):
    (workdir / "run.yaml").write_text(CONFIG)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
               "--configfile", "run.yaml", "--cores", "2", "--show-failed-logs", *args]
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    return result.returncode, result.stdout + result.stderr


def log(workdir: Path, dataset: str, step: str) -> str:
    return (workdir / "results" / "logs" / dataset / f"{step}.log").read_text()


def placed_ml_100k(workdir: Path) -> list[Path]:
    return [place(workdir, f"resources/raw/movielens-100k/{m}", real_bytes(m)) for m in ML_100K]


@pytest.mark.slow
def test_members_placed_by_hand_are_verified_and_kept_through_forcerun(tmp_path):
    placed = placed_ml_100k(tmp_path)
    before = state(placed)
    target = PREPARED.format("movielens-100k")
    code, output = snakemake(tmp_path, target)
    assert code == 0, output
    assert "fetch_movielens_100k" not in output  # nothing to download: every member is there
    record = (tmp_path / "results/movielens-100k/data/raw_verified.json").read_text()
    for member, sha256 in ML_100K.items():
        assert member in record and sha256 in record
    assert "movielens-100k" in log(tmp_path, "movielens-100k", "verify_raw")
    for forcing in (["--forcerun", "fetch_movielens_100k", "verify_raw"], ["-F"]):
        code, output = snakemake(tmp_path, target, *forcing)
        assert code == 0, output
        assert "verify_raw" in output and "prepare" in output  # verified again and prepared again
        assert state(placed) == before
    # A placed file replaced (here: touched) is verified again, and the dataset prepared again.
    os.utime(placed[0])
    code, output = snakemake(tmp_path, target, "-n")
    assert code == 0 and "verify_raw" in output and "prepare" in output, output


def test_fetched_files_are_then_inputs_like_placed_ones(tmp_path, server):
    # Amazon 2014's members are plain-HTTP downloads; the local server answers as the proxy, so the
    # fetch job really runs, offline. Its files are outputs only while missing: the next run plans
    # nothing (the verification's inputs are the same list), and forcing keeps them as they are.
    state_, base = server
    snap = "http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/"
    for name in ("reviews_Electronics_5.json.gz", "meta_Electronics.json.gz"):
        state_.files[snap + name] = gzip.compress(f"{name} content\n".encode())
    proxy = {"http_proxy": base, "no_proxy": ""}
    target = "results/amazon-electronics-2014/data/raw_verified.json"
    code, output = snakemake(tmp_path, target, "--config", "datasets=['amazon-electronics-2014']", env=proxy)
    assert code == 0, output
    assert "fetch_amazon_electronics_2014" in output and len(state_.requests) == 2
    fetched = sorted((tmp_path / "resources/raw/amazon-electronics-2014").iterdir())
    assert [p.name for p in fetched] == ["meta_Electronics.json.gz", "reviews_Electronics_5.json.gz"]
    before = state(fetched)
    code, output = snakemake(tmp_path, target, "-n", "--config", "datasets=['amazon-electronics-2014']")
    assert code == 0 and "Nothing to be done" in output, output
    code, output = snakemake(tmp_path, target, "-F", "--config", "datasets=['amazon-electronics-2014']", env=proxy)
    assert code == 0 and "fetch_amazon" not in output, output
    assert state(fetched) == before and len(state_.requests) == 2


def test_each_fetch_job_fetches_its_own_dataset(tmp_path):
    # One member of each dataset is missing and a wrong archive was placed: each fetch job must
    # open its own dataset's archive (offline, it stops there) and leave every placed file alone.
    placed = [place(tmp_path, "resources/raw/movielens-100k/ml-100k/u.item", real_bytes("ml-100k/u.item")),
              place(tmp_path, "resources/raw/movielens-1m/ml-1m/movies.dat", real_bytes("ml-1m/movies.dat")),
              place(tmp_path, "resources/archives/ml-100k.zip", b"not the ml-100k archive"),
              place(tmp_path, "resources/archives/ml-1m.zip", b"not the ml-1m archive")]
    before = state(placed)
    code, output = snakemake(tmp_path, "--keep-going", *(PREPARED.format(d) for d in ("movielens-100k", "movielens-1m")))
    assert code != 0
    for dataset, archive, other in (("movielens-100k", "ml-100k.zip", "ml-1m"), ("movielens-1m", "ml-1m.zip", "ml-100k")):
        text = log(tmp_path, dataset, "fetch")
        assert f"resources/archives/{archive}: checksum mismatch" in text and other not in text, text
        assert "Traceback" not in text
    assert state(placed) == before


def test_a_misplaced_member_is_named_before_any_download(tmp_path):
    # u.data put directly under resources/raw/movielens-100k/ instead of ml-100k/ as in the archive.
    placed = [place(tmp_path, "resources/raw/movielens-100k/u.data", real_bytes("ml-100k/u.data")),
              place(tmp_path, "resources/raw/movielens-100k/ml-100k/u.item", real_bytes("ml-100k/u.item"))]
    before = state(placed)
    code, output = snakemake(tmp_path, PREPARED.format("movielens-100k"), env={"https_proxy": "http://127.0.0.1:9"})
    assert code != 0
    expected = ("resources/raw/movielens-100k/ml-100k/u.data: missing, but resources/raw/movielens-100k/u.data "
                "is there (members are laid out as inside ml-100k.zip): move it to "
                "resources/raw/movielens-100k/ml-100k/u.data and rerun.")
    assert expected in output and "Traceback" not in output
    assert state(placed) == before


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_missing_member_offline_is_a_clear_error_and_keeps_the_others(tmp_path):
    placed = [place(tmp_path, "resources/raw/movielens-100k/ml-100k/u.item", real_bytes("ml-100k/u.item"))]
    before = state(placed)
    # Every connection goes to a closed local port: the machine is offline.
    offline = {"https_proxy": f"http://127.0.0.1:{closed_port()}", "no_proxy": ""}
    code, output = snakemake(tmp_path, PREPARED.format("movielens-100k"), env=offline)
    assert code != 0
    assert ("resources/archives/ml-100k.zip: could not download from any mirror" in output
            and "or place a verified copy at resources/archives/ml-100k.zip" in output), output
    assert "Traceback" not in log(tmp_path, "movielens-100k", "fetch")
    assert state(placed) == before


def test_a_truncated_member_stops_before_prepare_and_is_kept(tmp_path):
    ratings = real_bytes("ml-1m/ratings.dat")
    placed = [place(tmp_path, "resources/raw/movielens-1m/ml-1m/ratings.dat", ratings[: len(ratings) // 2]),
              place(tmp_path, "resources/raw/movielens-1m/ml-1m/movies.dat", real_bytes("ml-1m/movies.dat"))]
    before = state(placed)
    truncated = hashlib.sha256(placed[0].read_bytes()).hexdigest()
    target = PREPARED.format("movielens-1m")
    code, output = snakemake(tmp_path, target)
    assert code != 0
    lines = [line for line in output.splitlines() if "ml-1m/ratings.dat: checksum mismatch" in line]
    assert len(set(lines)) == 1, output
    line = lines[0]
    assert "resources/raw/movielens-1m/ml-1m/ratings.dat" in line
    assert truncated in line and ML_1M_RATINGS in line
    assert "https://files.grouplens.org/datasets/movielens/ml-1m.zip" in line and "downloaded again" not in line
    assert "Traceback" not in log(tmp_path, "movielens-1m", "verify_raw")
    assert not (tmp_path / target).exists()
    assert state(placed) == before
    # The fix the line gives: a good copy put at the same path; the next run prepares all the data.
    placed[0].write_bytes(ratings)
    code, output = snakemake(tmp_path, target)
    assert code == 0, output
    assert '"n_interactions": 999611' in (tmp_path / target).read_text()
