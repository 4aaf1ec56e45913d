"""Fetching a dataset archive (verified, resumable, with mirrors) and extracting members from it.

A download goes to `<dest>.part` and is renamed onto `dest` only after its checksum matches, so
nothing unverified ever sits at `dest`. An interrupted download keeps its `.part` and resumes it
with an HTTP Range request on the next try or the next run.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import lzma
import os
import re
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from seqrec import __version__
from seqrec.io import InputError, atomic_path

log = logging.getLogger(__name__)

CHUNK = 1 << 20  # 1 MiB
USER_AGENT = f"seqrec/{__version__} (research artifact for arXiv 2510.04375; python-urllib)"
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


class _Transient(Exception):
    """A failure worth retrying: connection error, timeout, HTTP 5xx, truncated transfer."""


class _MirrorFailed(Exception):
    """This URL cannot deliver the file (HTTP 4xx, or retries exhausted); try the next mirror."""


def fetch(
    urls: list[str],
    dest: Path,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    retries: int = 3,
    timeout: float = 60,
    backoff: float = 1.0,
    progress: bool = True,
) -> dict:
    """Download `dest` from the first of `urls` that works, verify it, and return its digests.

    An existing `dest` is verified and used without any network access. Each URL gets
    `1 + retries` attempts, waiting `backoff * 2**attempt` seconds between them. Returns
    `{"path", "sha256", "md5", "downloaded", "url"}`; with no checksum given, record the
    returned sha256 so later runs can verify.
    """
    dest = Path(dest)
    if dest.exists():
        if md5 is None and sha256 is None:
            # Nothing to verify against: a file the user placed (or an earlier run fetched) is used.
            log.warning("%s: no checksum known; using the existing file unverified", dest)
        where = f"move it away and rerun to download it again from {urls[0]}, or " if urls else ""
        digests = verify(dest, md5=md5, sha256=sha256,
                         fix=f"The file is truncated or another version: {where}put a verified copy at {dest}.")
        return {"path": str(dest), **digests, "downloaded": False, "url": None}
    if not urls:
        raise InputError(f"{dest}: file not found and no URL to download it from; place a copy there.")

    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        try:
            _download(url, part, retries=retries, timeout=timeout, backoff=backoff, progress=progress)
        except _MirrorFailed as err:
            log.warning("%s: %s", url, err)
            failures.append(f"{url}: {err}")
            continue
        digests = _digests(part)
        problem = _mismatch(digests, md5=md5, sha256=sha256)
        if problem:
            part.unlink()
            raise InputError(
                f"{url} -> {dest}: downloaded file failed verification ({problem}). The server's "
                f"file changed or is corrupt: retry later, or place a verified copy at {dest}."
            )
        if md5 is None and sha256 is None:
            log.warning("%s: no checksum known; downloaded file has sha256 %s", dest, digests["sha256"])
        os.replace(part, dest)
        return {"path": str(dest), **digests, "downloaded": True, "url": url}
    raise InputError(
        f"{dest}: could not download from any mirror:\n  " + "\n  ".join(failures)
        + f"\nCheck the network and retry, or place a verified copy at {dest}."
    )


def verify(path: Path, md5: str | None = None, sha256: str | None = None,
           fix: str = "The file is truncated or another version: replace it with a verified copy.") -> dict:
    """Return `{"md5", "sha256"}` of `path`; raise InputError if either given checksum differs.

    The error is one line: the file, both checksums and `fix`, what the user should do. The file
    itself is left as it is (it may be the only copy someone has).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found.")
    digests = _digests(path)
    problem = _mismatch(digests, md5=md5, sha256=sha256)
    if problem:
        raise InputError(f"{path}: checksum mismatch ({problem}). {fix}")
    return digests


def extract(archive: Path, members: list[str], dest_dir: Path, optional: list[str] = ()) -> list[Path]:
    """Extract the named members of a .zip or .tar[.gz] to `dest_dir/member`, each atomically.

    `optional` members are extracted too when the archive has them, and skipped otherwise.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    for member in [*members, *optional]:
        path = PurePosixPath(member)
        if not path.parts or path.is_absolute() or ".." in path.parts:  # would write outside dest_dir
            raise InputError(f"{archive}: refusing to extract {member!r}: not a relative path in the archive")
    if not archive.exists():
        raise InputError(f"{archive}: archive not found; download it first.")
    try:
        if archive.name.endswith(".zip"):
            return _extract_zip(archive, members, dest_dir, optional)
        if archive.name.endswith(_TAR_SUFFIXES):
            return _extract_tar(archive, members, dest_dir, optional)
    except (zipfile.BadZipFile, tarfile.ReadError, tarfile.CompressionError, EOFError, zlib.error,
            gzip.BadGzipFile, lzma.LZMAError) as err:
        raise InputError(
            f"{archive}: corrupt or truncated archive ({err}); replace it with a verified copy."
        ) from err
    raise InputError(f"{archive}: unsupported archive format (expected .zip or {', '.join(_TAR_SUFFIXES)})")


def _download(url: str, part: Path, *, retries: int, timeout: float, backoff: float, progress: bool) -> None:
    """Bring `part` to the complete content of `url`, retrying transient failures."""
    for attempt in range(retries + 1):
        try:
            _transfer(url, part, timeout=timeout, progress=progress)
            return
        except _Transient as err:
            if attempt == retries:
                raise _MirrorFailed(f"{err} (gave up after {retries + 1} attempts)") from err
            delay = backoff * 2**attempt
            log.warning("%s: %s; retrying in %.1f s", url, err, delay)
            time.sleep(delay)


def _transfer(url: str, part: Path, *, timeout: float, progress: bool) -> None:
    """One attempt: resume `part` from its current size, or start it when there is none."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()
        if err.code == 416 and offset:
            # The .part reaches (or passes) the end of the file: complete, or stale and too long.
            if _range_total(err.headers.get("Content-Range")) == offset:
                return
            part.unlink()
            return _transfer(url, part, timeout=timeout, progress=progress)
        if err.code >= 500:
            raise _Transient(f"HTTP {err.code} {err.reason}") from err
        raise _MirrorFailed(f"HTTP {err.code} {err.reason}") from err
    except (http.client.HTTPException, OSError) as err:  # URLError and timeouts are OSErrors
        raise _Transient(f"connection failed: {err}") from err

    with response:
        if response.status == 206:
            start = _range_start(response.headers.get("Content-Range"))
            if start != offset:
                part.unlink()
                raise _Transient(f"server resumed at byte {start}, not {offset}; restarting")
        else:
            offset = 0  # the server ignored the Range header and sends the whole file
        length = response.headers.get("Content-Length")
        expected = offset + int(length) if length is not None else None
        received = offset
        with open(part, "ab" if offset else "wb") as out, tqdm(
            total=expected, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
            desc=part.name.removesuffix(".part"), file=sys.stderr, leave=False,
            disable=None if progress else True,  # None: a bar on a terminal only, none in a job log
        ) as bar:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (http.client.HTTPException, OSError) as err:  # reset, timeout mid-body
                    raise _Transient(f"transfer interrupted at byte {received}: {err}") from err
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    # urllib does not flag a connection closed early, so compare with Content-Length ourselves.
    if expected is not None and received < expected:
        raise _Transient(f"transfer truncated at byte {received} of {expected}")


def _range_start(content_range: str | None) -> int | None:
    """The first byte of `Content-Range: bytes START-END/TOTAL`."""
    match = re.match(r"bytes (\d+)-", content_range or "")
    return int(match.group(1)) if match else None


def _range_total(content_range: str | None) -> int | None:
    """The total size in `Content-Range: bytes .../TOTAL` (as sent with a 416)."""
    match = re.search(r"/(\d+)\s*$", content_range or "")
    return int(match.group(1)) if match else None


def _digests(path: Path) -> dict:
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            md5.update(chunk)
            sha256.update(chunk)
    return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest()}


def _mismatch(digests: dict, *, md5: str | None, sha256: str | None) -> str | None:
    """Describe which given checksums differ from `digests`, or None if all match."""
    problems = [
        f"expected {name} {want.lower()}, got {digests[name]}"
        for name, want in (("md5", md5), ("sha256", sha256))
        if want is not None and want.lower() != digests[name]
    ]
    return "; ".join(problems) or None


def _missing(archive: Path, missing: list[str], names: list[str]) -> InputError:
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    return InputError(f"{archive}: no member {', '.join(missing)} in the archive; it contains {shown}")


def _extract_zip(archive: Path, members: list[str], dest_dir: Path, optional: list[str]) -> list[Path]:
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        missing = [m for m in members if m not in set(names)]
        if missing:
            raise _missing(archive, missing, names)
        members = [*members, *(o for o in optional if o in set(names))]
        targets = []
        for member in members:
            with zf.open(member) as src, atomic_path(dest_dir / member) as tmp, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            targets.append(dest_dir / member)
    return targets


def _extract_tar(archive: Path, members: list[str], dest_dir: Path, optional: list[str]) -> list[Path]:
    wanted = {*members, *optional}
    names = []
    # One pass over the archive: a compressed tar cannot seek, so looking members up one by one
    # would decompress it again for each.
    with tarfile.open(archive) as tf:
        for info in tf:
            names.append(info.name)
            if info.name not in wanted:
                continue
            try:
                info = tarfile.data_filter(info, str(dest_dir))
            except tarfile.FilterError as err:
                raise InputError(f"{archive}: refusing to extract {info.name}: {err}") from err
            if not info.isfile():
                raise InputError(f"{archive}: member {info.name} is not a regular file")
            with tf.extractfile(info) as src, atomic_path(dest_dir / info.name) as tmp, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
    missing = [m for m in members if m not in set(names)]
    if missing:
        raise _missing(archive, missing, names)
    return [dest_dir / m for m in [*members, *(o for o in optional if o in set(names))]]
