"""fetch / verify / extract against a local HTTP server on 127.0.0.1 (no other network access)."""

from __future__ import annotations

import hashlib
import io
import logging
import random
import signal
import tarfile
import zipfile
from pathlib import Path

import pytest

from seqrec.download import extract, fetch, verify
from seqrec.io import InputError

# Incompressible members, so truncating a compressed archive cuts into member data.
MEMBERS = {
    "ml-1m/ratings.dat": random.Random(1).randbytes(40_000),
    "ml-1m/movies.dat": random.Random(2).randbytes(30_000),
    "ml-1m/README": b"readme\n",
}
FAST = {"timeout": 5, "backoff": 0, "progress": False}


class _Hung(BaseException):
    """Not an Exception, so fetch's retry logic cannot swallow it."""


@pytest.fixture(autouse=True)
def time_limit():
    """Fail any test that runs longer than 20 s instead of hanging the suite."""
    def hung(signum, frame):
        raise _Hung("test took longer than 20 s")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def make_zip(path: Path) -> bytes:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ml-1m/", b"")  # an explicit folder entry, as real archives have
        for name, data in MEMBERS.items():
            zf.writestr(name, data)
    return path.read_bytes()


def make_tar_gz(path: Path) -> bytes:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in MEMBERS.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path.read_bytes()


def digests(data: bytes) -> dict:
    return {"md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest()}


@pytest.fixture
def archive(tmp_path) -> bytes:
    return make_zip(tmp_path / "source.zip")


def test_download_verifies_and_second_call_is_offline(server, archive, tmp_path):
    state, base = server
    state.files["/ml-1m.zip"] = archive
    dest = tmp_path / "archives" / "ml-1m.zip"
    result = fetch([f"{base}/ml-1m.zip"], dest, **digests(archive), timeout=5, backoff=0)
    assert result == {"path": str(dest), **digests(archive), "downloaded": True, "url": f"{base}/ml-1m.zip"}
    assert dest.read_bytes() == archive
    assert not dest.with_name("ml-1m.zip.part").exists()
    assert "seqrec" in state.requests[0]["User-Agent"]

    again = fetch([f"{base}/ml-1m.zip"], dest, **digests(archive), **FAST)
    assert again["downloaded"] is False and again["url"] is None
    assert len(state.requests) == 1


def test_without_checksum_returns_sha256_and_logs(server, archive, tmp_path, caplog):
    state, base = server
    state.files["/a.zip"] = archive
    with caplog.at_level(logging.WARNING, logger="seqrec.download"):
        result = fetch([f"{base}/a.zip"], tmp_path / "a.zip", **FAST)
    assert result["sha256"] == digests(archive)["sha256"]
    assert "no checksum known" in caplog.text


def test_wrong_checksum_leaves_nothing(server, archive, tmp_path):
    state, base = server
    state.files["/a.zip"] = archive[::-1]  # the server's file changed
    dest = tmp_path / "a.zip"
    with pytest.raises(InputError) as err:
        fetch([f"{base}/a.zip"], dest, sha256=digests(archive)["sha256"], **FAST)
    message = str(err.value)
    assert str(dest) in message and f"{base}/a.zip" in message
    assert digests(archive)["sha256"] in message and digests(archive[::-1])["sha256"] in message
    assert "verified copy" in message
    assert not dest.exists() and not dest.with_name("a.zip.part").exists()


def test_truncated_transfer_is_resumed_with_range(server, archive, tmp_path):
    state, base = server
    state.files["/a.zip"] = archive
    state.cut_after = 10_000
    result = fetch([f"{base}/a.zip"], tmp_path / "a.zip", md5=digests(archive)["md5"], **FAST)
    assert result["downloaded"] and (tmp_path / "a.zip").read_bytes() == archive
    assert [r.get("Range") for r in state.requests] == [None, "bytes=10000-"]


def test_server_errors_are_retried(server, archive, tmp_path):
    state, base = server
    state.files["/a.zip"] = archive
    state.fail_first = 2
    fetch([f"{base}/a.zip"], tmp_path / "a.zip", **digests(archive), retries=3, **FAST)
    assert len(state.requests) == 3


def test_retries_are_bounded(server, archive, tmp_path):
    state, base = server
    state.files["/a.zip"] = archive
    state.fail_first = 100
    with pytest.raises(InputError, match="HTTP 500"):
        fetch([f"{base}/a.zip"], tmp_path / "a.zip", retries=1, **FAST)
    assert len(state.requests) == 2


def test_client_error_is_not_retried(server, tmp_path):
    state, base = server
    with pytest.raises(InputError, match=rf"{base}/gone.zip: HTTP 404"):
        fetch([f"{base}/gone.zip"], tmp_path / "a.zip", retries=3, **FAST)
    assert len(state.requests) == 1


def test_second_mirror_is_used_when_first_404s(server, archive, tmp_path):
    state, base = server
    state.files["/mirror/a.zip"] = archive
    urls = [f"{base}/a.zip", f"{base}/mirror/a.zip"]
    result = fetch(urls, tmp_path / "a.zip", **digests(archive), **FAST)
    assert result["url"] == urls[1]
    assert [r["path"] for r in state.requests] == ["/a.zip", "/mirror/a.zip"]


def test_server_without_range_support_restarts(server, archive, tmp_path):
    state, base = server
    state.files["/a.zip"] = archive
    state.no_range = True
    (tmp_path / "a.zip.part").write_bytes(b"junk from an older attempt")
    fetch([f"{base}/a.zip"], tmp_path / "a.zip", **digests(archive), **FAST)
    assert (tmp_path / "a.zip").read_bytes() == archive
    assert state.requests[0]["Range"] == "bytes=26-"


def test_existing_part_is_resumed(server, archive, tmp_path):
    state, base = server
    state.files["/a.zip"] = archive
    (tmp_path / "a.zip.part").write_bytes(archive[:5000])
    fetch([f"{base}/a.zip"], tmp_path / "a.zip", **digests(archive), **FAST)
    assert (tmp_path / "a.zip").read_bytes() == archive
    assert [r["Range"] for r in state.requests] == ["bytes=5000-"]


def test_complete_part_answered_416_is_used(server, archive, tmp_path):
    state, base = server
    state.files["/a.zip"] = archive
    (tmp_path / "a.zip.part").write_bytes(archive)
    fetch([f"{base}/a.zip"], tmp_path / "a.zip", **digests(archive), **FAST)
    assert (tmp_path / "a.zip").read_bytes() == archive
    assert len(state.requests) == 1


def test_stale_part_longer_than_file_is_restarted(server, archive, tmp_path):
    state, base = server
    state.files["/a.zip"] = archive
    (tmp_path / "a.zip.part").write_bytes(archive + b"extra")
    fetch([f"{base}/a.zip"], tmp_path / "a.zip", **digests(archive), **FAST)
    assert (tmp_path / "a.zip").read_bytes() == archive
    assert [r.get("Range") for r in state.requests] == [f"bytes={len(archive) + 5}-", None]


def test_existing_dest_with_wrong_checksum_is_kept_and_reported(server, archive, tmp_path):
    state, base = server
    state.files["/a.zip"] = archive
    dest = tmp_path / "a.zip"
    dest.write_bytes(b"not the archive")
    with pytest.raises(InputError) as err:
        fetch([f"{base}/a.zip"], dest, sha256=digests(archive)["sha256"], **FAST)
    message = str(err.value)
    assert str(dest) in message and f"move it away and rerun to download it again from {base}/a.zip" in message
    assert "delete" not in message
    assert digests(archive)["sha256"] in message and digests(b"not the archive")["sha256"] in message
    assert dest.read_bytes() == b"not the archive"
    assert state.requests == []


def test_verify(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert verify(path, **digests(b"abc")) == digests(b"abc")
    with pytest.raises(InputError, match="expected md5"):
        verify(path, md5=digests(b"abd")["md5"])


def test_verify_names_both_checksums_and_the_fix_in_one_line(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    with pytest.raises(InputError) as err:
        verify(path, sha256=digests(b"abd")["sha256"], fix="Put a fresh copy there.")
    message = str(err.value)
    assert message == (f"{path}: checksum mismatch (expected sha256 {digests(b'abd')['sha256']}, "
                       f"got {digests(b'abc')['sha256']}). Put a fresh copy there.")
    assert path.read_bytes() == b"abc"


@pytest.mark.parametrize("make", [make_zip, make_tar_gz], ids=["zip", "tar.gz"])
def test_extract_named_members(tmp_path, make):
    name = "a.zip" if make is make_zip else "a.tar.gz"
    make(tmp_path / name)
    wanted = ["ml-1m/ratings.dat", "ml-1m/movies.dat"]
    out = tmp_path / "raw"
    (out / "ml-1m").mkdir(parents=True)
    (out / "ml-1m" / "movies.dat").write_bytes(b"stale")  # present members are overwritten
    assert extract(tmp_path / name, wanted, out) == [out / m for m in wanted]
    for member in wanted:
        assert (out / member).read_bytes() == MEMBERS[member]
    assert not (out / "ml-1m" / "README").exists()
    assert sorted(p.name for p in (out / "ml-1m").iterdir()) == ["movies.dat", "ratings.dat"]


@pytest.mark.parametrize("make", [make_zip, make_tar_gz], ids=["zip", "tar.gz"])
def test_extract_missing_member(tmp_path, make):
    path = tmp_path / ("a.zip" if make is make_zip else "a.tar.gz")
    make(path)
    with pytest.raises(InputError) as err:
        extract(path, ["ml-1m/users.dat"], tmp_path / "raw")
    message = str(err.value)
    assert str(path) in message and "ml-1m/users.dat" in message and "ml-1m/ratings.dat" in message


@pytest.mark.parametrize("make", [make_zip, make_tar_gz], ids=["zip", "tar.gz"])
def test_extract_truncated_archive(tmp_path, make):
    path = tmp_path / ("a.zip" if make is make_zip else "a.tar.gz")
    data = make(path)
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputError, match="corrupt or truncated archive .*replace it with a verified copy") as err:
        extract(path, ["ml-1m/ratings.dat", "ml-1m/movies.dat"], tmp_path / "raw")
    assert str(path) in str(err.value)
    assert not (tmp_path / "raw" / "ml-1m" / "movies.dat").exists()


def test_a_download_into_a_job_log_has_no_progress_bar(server, archive, tmp_path, capsys):
    """A job's log is a file, not a terminal: no carriage-return progress bar lands in it."""
    state, base = server
    state.files["/ml-1m.zip"] = archive
    fetch([f"{base}/ml-1m.zip"], tmp_path / "ml-1m.zip", **digests(archive), timeout=5, backoff=0)
    assert "\r" not in capsys.readouterr().err
