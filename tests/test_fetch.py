"""The fetch and verify steps: members reused without network, archives downloaded or reused, then
extracted; members already there never touched; every known checksum checked, with one clear line."""

import hashlib
import io
import json
import tarfile
import zipfile
from types import SimpleNamespace

import pytest

from seqrec import datasets
from seqrec.datasets import Dataset, Download
from seqrec.fetch import fetch_dataset, verify_dataset
from seqrec.io import InputError

MEMBERS = {"toy/ratings.dat": b"1::10::5::100\n1::11::4::101\n", "toy/movies.dat": b"10::A (1999)::Drama\n"}
OPTIONAL = "toy/extra.dat"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def register(monkeypatch, *downloads, optional=()):
    spec = Dataset("toy", SimpleNamespace(RAW_FILES=list(MEMBERS), OPTIONAL_FILES=list(optional)), downloads,
                   "test licence", "test citation", "test domains",
                   member_sha256={name: hashlib.sha256(data).hexdigest() for name, data in MEMBERS.items()})
    monkeypatch.setitem(datasets.DATASETS, "toy", spec)


@pytest.fixture
def toy(server, tmp_path, monkeypatch):
    """A dataset 'toy' whose zip the local server serves; returns (state, raw_root, archive_root)."""
    state, base = server
    state.files["/toy.zip"] = zipped({**MEMBERS, OPTIONAL: b"extra\n"})
    register(monkeypatch, Download("toy.zip", (f"{base}/toy.zip",), md5=md5(state.files["/toy.zip"]),
                                   members=tuple(MEMBERS)), optional=[OPTIONAL])
    return state, tmp_path / "raw", tmp_path / "archives"


def test_download_then_reuse_without_network(toy, capsys):
    state, raw, archives = toy
    result = fetch_dataset("toy", raw, archives, progress=False)
    assert result["downloaded"] == ["toy.zip"] and len(state.requests) == 1
    assert "test licence" in capsys.readouterr().out  # licence and citation shown before a download
    for name, data in MEMBERS.items():
        assert (raw / "toy" / name).read_bytes() == data
    assert (raw / "toy" / OPTIONAL).read_bytes() == b"extra\n"  # optional members come along
    again = fetch_dataset("toy", raw, archives, progress=False)
    assert again == {"dataset": "toy", "downloaded": [], "extracted": []} and len(state.requests) == 1


def test_members_placed_by_hand_need_no_archive(toy):
    state, raw, archives = toy
    for name, data in MEMBERS.items():
        (raw / "toy" / name).parent.mkdir(parents=True, exist_ok=True)
        (raw / "toy" / name).write_bytes(data)
    assert fetch_dataset("toy", raw, archives, progress=False)["downloaded"] == []
    assert state.requests == [] and not archives.exists()


def test_archive_placed_by_hand_is_extracted_without_download(toy):
    state, raw, archives = toy
    archives.mkdir()
    (archives / "toy.zip").write_bytes(state.files["/toy.zip"])
    result = fetch_dataset("toy", raw, archives, progress=False)
    assert result["downloaded"] == [] and state.requests == []
    assert sorted(result["extracted"]) == sorted(str(raw / "toy" / m) for m in [*MEMBERS, OPTIONAL])


def test_a_wrong_member_is_an_error_not_replaced(toy):
    state, raw, archives = toy
    bad = raw / "toy" / "toy/movies.dat"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"something else\n")
    with pytest.raises(InputError, match="movies.dat"):
        fetch_dataset("toy", raw, archives, progress=False)
    assert bad.read_bytes() == b"something else\n" and state.requests == []


def test_files_that_are_members_themselves_are_downloaded_in_place(server, tmp_path, monkeypatch):
    state, base = server
    for name, data in MEMBERS.items():
        state.files[f"/{name}"] = data
    register(monkeypatch, *(Download(name, (f"{base}/{name}",), md5=md5(data)) for name, data in MEMBERS.items()))
    result = fetch_dataset("toy", tmp_path / "raw", tmp_path / "archives", progress=False)
    assert sorted(result["downloaded"]) == sorted(MEMBERS) and not (tmp_path / "archives").exists()
    for name, data in MEMBERS.items():
        assert (tmp_path / "raw" / "toy" / name).read_bytes() == data


def test_manual_archive_with_an_inner_tar(tmp_path, monkeypatch):
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w") as tf:
        for name, data in MEMBERS.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    outer = zipped({"Toy JSON/toy.tar": tar_buffer.getvalue()})
    inner = Download("Toy JSON/toy.tar", md5=md5(tar_buffer.getvalue()), members=tuple(MEMBERS))
    register(monkeypatch, Download("Toy-JSON.zip", md5=md5(outer), inner=inner, manual_page="https://example.org/terms"))
    archives = tmp_path / "archives"
    with pytest.raises(InputError, match=r"accept its terms at https://example.org/terms, download Toy-JSON.zip"):
        fetch_dataset("toy", tmp_path / "raw", archives, progress=False)
    archives.mkdir()
    (archives / "Toy-JSON.zip").write_bytes(outer)
    fetch_dataset("toy", tmp_path / "raw", archives, progress=False)
    for name, data in MEMBERS.items():
        assert (tmp_path / "raw" / "toy" / name).read_bytes() == data


def test_synthetic_has_nothing_to_fetch(tmp_path):
    with pytest.raises(InputError, match="generated by the workflow"):
        fetch_dataset("synthetic", tmp_path / "raw", tmp_path / "archives", progress=False)


def place(raw, name: str, data: bytes):
    path = raw / "toy" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_present_member_is_never_touched_when_another_is_fetched(toy):
    state, raw, archives = toy
    placed = place(raw, "toy/movies.dat", MEMBERS["toy/movies.dat"])
    mtime = placed.stat().st_mtime_ns
    result = fetch_dataset("toy", raw, archives, progress=False)
    assert result["extracted"] == [str(raw / "toy" / "toy/ratings.dat"), str(raw / "toy" / OPTIONAL)]
    assert placed.stat().st_mtime_ns == mtime and placed.read_bytes() == MEMBERS["toy/movies.dat"]


def test_a_misplaced_member_is_named_and_nothing_is_downloaded(toy):
    state, raw, archives = toy
    misplaced = place(raw, "ratings.dat", MEMBERS["toy/ratings.dat"])  # not under toy/ as in the archive
    with pytest.raises(InputError) as err:
        fetch_dataset("toy", raw, archives, progress=False)
    assert str(err.value) == (f"{raw / 'toy' / 'toy/ratings.dat'}: missing, but {misplaced} is there (members are "
                              f"laid out as inside toy.zip): move it to {raw / 'toy' / 'toy/ratings.dat'} and rerun.")
    assert state.requests == [] and misplaced.read_bytes() == MEMBERS["toy/ratings.dat"]


def test_verify_writes_the_record_of_every_member(toy):
    state, raw, archives = toy
    for name, data in MEMBERS.items():
        place(raw, name, data)
    place(raw, OPTIONAL, b"extra\n")  # no checksum known: recorded, not verified
    out = raw.parent / "raw_verified.json"
    verify_dataset("toy", raw / "toy", out)
    record = json.loads(out.read_text())
    assert record == {"dataset": "toy", "files": {
        **{name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "verified": True}
           for name, data in MEMBERS.items()},
        OPTIONAL: {"bytes": 6, "sha256": hashlib.sha256(b"extra\n").hexdigest(), "verified": False}}}


def test_a_truncated_member_is_one_line_with_both_checksums_and_where_to_get_it(toy):
    state, raw, archives = toy
    place(raw, "toy/ratings.dat", MEMBERS["toy/ratings.dat"])
    data = MEMBERS["toy/movies.dat"][:5]
    truncated = place(raw, "toy/movies.dat", data)
    with pytest.raises(InputError) as err:
        verify_dataset("toy", raw / "toy", raw.parent / "raw_verified.json")
    url = datasets.get("toy").downloads[0].urls[0]
    assert str(err.value) == (
        f"{truncated}: checksum mismatch (expected sha256 {hashlib.sha256(MEMBERS['toy/movies.dat']).hexdigest()}, "
        f"got {hashlib.sha256(data).hexdigest()}). The file is truncated or another release: put toy/movies.dat "
        f"from a fresh copy of toy.zip ({url}) at {truncated}, then rerun.")
    assert truncated.read_bytes() == data and not (raw.parent / "raw_verified.json").exists()


def test_where_no_download_helps_the_fix_is_the_manual_page(tmp_path, monkeypatch):
    # A dataset fetched by hand (like Yelp): neither message may promise a download.
    register(monkeypatch, Download("Toy-JSON.zip", md5=md5(b"the archive"), members=tuple(MEMBERS),
                                   manual_page="https://example.org/terms"))
    raw, archives = tmp_path / "raw", tmp_path / "archives"
    archive = archives / "Toy-JSON.zip"
    archive.parent.mkdir()
    archive.write_bytes(b"half")
    with pytest.raises(InputError) as err:
        fetch_dataset("toy", raw, archives, progress=False)
    assert str(err.value).endswith(f"The file is truncated or another release: download Toy-JSON.zip again at "
                                   f"https://example.org/terms (accept its terms there) and put it at {archive}, "
                                   "then rerun.")
    for name, data in MEMBERS.items():
        place(raw, name, data[:3])
    with pytest.raises(InputError) as err:
        verify_dataset("toy", raw / "toy", tmp_path / "raw_verified.json")
    assert str(err.value).endswith("put toy/ratings.dat from a fresh copy of Toy-JSON.zip (https://example.org/terms, "
                                   f"after accepting its terms there) at {raw / 'toy' / 'toy/ratings.dat'}, then rerun.")
    assert archive.read_bytes() == b"half"
