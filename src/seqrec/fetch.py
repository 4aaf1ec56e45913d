"""The fetch and verify steps of a dataset's raw members under resources/raw/{name}/.

fetch makes the missing members present: each download that provides one is taken from
resources/archives/ (placed by hand, or downloaded there by an earlier run) or fetched from its
mirrors (licence and citation shown first), verified, and the missing members are extracted from
it, through an inner archive where there is one (Yelp's tar inside its zip). Optional members come
along when a download is needed anyway. A member that is already there is never touched.

verify checks every member against its known sha256, however it arrived, and writes the record
that prepare depends on. A wrong file stops the run with one line: the file, both checksums and
where to get a good copy. Nothing is deleted or replaced: the files may be the only copy a user has.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from seqrec import datasets, download
from seqrec.datasets import Dataset, Download
from seqrec.io import InputError, write_json


def _source(spec: Dataset, member: str) -> Download:
    """The download that provides `member`."""
    return next(item for item in spec.downloads if member in item.provides())


def _where(item: Download) -> str:
    return item.urls[0] if item.urls else f"{item.manual_page}, after accepting its terms there"


def _verify_member(spec: Dataset, raw_dir: Path, member: str) -> dict:
    """Digests of a present member, checked against its known sha256 where there is one."""
    path = raw_dir / member
    sha256 = spec.member_sha256.get(member)
    if sha256 is None:
        return download.verify(path)
    item = _source(spec, member)
    inside = f"{member} from a fresh copy of {item.filename}" if item.members or item.inner else "a fresh copy"
    return download.verify(path, sha256=sha256, fix=(
        f"The file is truncated or another release: put {inside} ({_where(item)}) at {path}, then rerun."))


def _refuse_misplaced(spec: Dataset, raw_dir: Path, missing: list[str]) -> None:
    """A missing member whose file sits elsewhere in raw_dir was misplaced; never download it again."""
    for member in missing:
        found = sorted(p for p in raw_dir.rglob(PurePosixPath(member).name) if p.is_file())
        if found:
            item = _source(spec, member)
            layout = f" (members are laid out as inside {item.filename})" if item.members or item.inner else ""
            raise InputError(f"{raw_dir / member}: missing, but {found[0]} is there{layout}: "
                             f"move it to {raw_dir / member} and rerun.")


def _obtain(spec: Dataset, item: Download, dest: Path, progress: bool) -> bool:
    """Make `item` present and verified at `dest`; return whether it was downloaded."""
    if not item.urls:
        if not dest.exists():
            raise InputError(
                f"{dest}: missing. {spec.name} cannot be downloaded automatically: accept its terms "
                f"at {item.manual_page}, download {item.filename} there and put it at {dest} "
                f"(expected md5 {item.md5}), then rerun.")
        download.verify(dest, md5=item.md5, sha256=item.sha256, fix=(
            f"The file is truncated or another release: download {item.filename} again at "
            f"{item.manual_page} (accept its terms there) and put it at {dest}, then rerun."))
        return False
    if not dest.exists():
        print(f"Downloading {item.filename} for {spec.name}.\nLicence: {spec.licence}\n"
              f"Please cite: {spec.citation}", flush=True)
    return download.fetch(list(item.urls), dest, md5=item.md5, sha256=item.sha256, progress=progress)["downloaded"]


def _extract(item: Download, archive: Path, wanted: list[str], optional: list[str],
             raw_dir: Path, archive_root: Path) -> list[Path]:
    if item.inner is None:
        return download.extract(archive, wanted, raw_dir, optional=optional)
    inner = archive_root / item.inner.filename
    if not inner.exists():
        download.extract(archive, [item.inner.filename], archive_root)
    download.verify(inner, md5=item.inner.md5, sha256=item.inner.sha256, fix=(
        f"It is extracted from {archive}: move it away and rerun to extract it again."))
    return _extract(item.inner, inner, wanted, optional, raw_dir, archive_root)


def fetch_dataset(name: str, raw_root: Path = Path("resources/raw"),
                  archive_root: Path = Path("resources/archives"), progress: bool = True) -> dict:
    """Make the missing members of dataset `name` present; return what was done (for the job log)."""
    spec = datasets.get(name)
    raw_dir, archive_root = Path(raw_root) / name, Path(archive_root)
    present = [m for m in spec.raw_files if (raw_dir / m).exists()]
    missing = [m for m in spec.raw_files if m not in present]
    done = {"dataset": name, "downloaded": [], "extracted": []}
    if not missing:
        return done
    if not spec.downloads:
        raise InputError(f"{name} has nothing to download: its raw files {missing} are generated by "
                         "the workflow (rule synthesize).")
    print(f"{name}: fetching {', '.join(missing)}", flush=True)
    _refuse_misplaced(spec, raw_dir, missing)
    for member in present:  # a wrong member stops the run before any download
        _verify_member(spec, raw_dir, member)
    for item in spec.downloads:
        wanted = [m for m in missing if m in item.provides()]
        if not wanted:
            continue
        direct = not item.members and item.inner is None  # the download is the raw member itself
        dest = raw_dir / item.filename if direct else archive_root / item.filename
        if _obtain(spec, item, dest, progress):
            done["downloaded"].append(item.filename)
        if not direct:
            optional = [m for m in spec.optional_files if not (raw_dir / m).exists()]
            done["extracted"] += map(str, _extract(item, dest, wanted, optional, raw_dir, archive_root))
    for member in missing:
        _verify_member(spec, raw_dir, member)
    return done


def verify_dataset(name: str, raw_dir: Path, out: Path) -> dict:
    """Check every raw member of `name` in `raw_dir` against its known sha256 and write the record.

    The record lists each member (the optional ones that are there) with its size, its sha256 and
    whether that was checked against a known checksum (`verified`) or none is known.
    """
    spec, raw_dir = datasets.get(name), Path(raw_dir)
    members = spec.raw_files + [m for m in spec.optional_files if (raw_dir / m).exists()]
    files = {}
    for member in members:
        path = raw_dir / member
        if not path.exists():
            raise InputError(f"{path}: missing. Put it there (laid out as inside the dataset's archive), "
                             f"or run `python -m seqrec fetch --dataset {name}` first.")
        digests = _verify_member(spec, raw_dir, member)
        files[member] = {"bytes": path.stat().st_size, "sha256": digests["sha256"],
                         "verified": member in spec.member_sha256}
        print(f"{name}: {path} sha256 {digests['sha256']} "
              + ("matches the known checksum" if files[member]["verified"] else "(no checksum known)"), flush=True)
    record = {"dataset": name, "files": files}
    write_json(record, out)
    return record
