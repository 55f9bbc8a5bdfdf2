"""What the signed bundle and the sealed export share: their ZIP members, hashes and publishing.

Both are written into a temporary directory beside their final name and appear there in one
`os.replace`, so that on any error nothing is left at the output.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

CHUNK = 1 << 20


def target_path(output: Path, slug: str, day: datetime, suffix: str, overwrite: bool) -> Path:
    """Return where to write: `output`, or `<slug>-<YYYYMMDD><suffix>` in it if a directory."""
    if output.is_dir():
        output = output / f"{slug}-{day:%Y%m%d}{suffix}"
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists already")
    return output


def publish(partial: Path, target: Path) -> None:
    """Make `partial` private, flush it to disk and move it to `target` in one step."""
    # A bundle has names and cities in clear: it is its owner's alone, wherever it is written.
    os.chmod(partial, 0o600)
    with partial.open("rb") as file:
        os.fsync(file.fileno())
    os.replace(partial, target)


def member(name: str, moment: datetime, compress: bool) -> zipfile.ZipInfo:
    """Return the ZIP entry of a file: its name, the export's local time, mode 0644."""
    info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
    # PDF streams are compressed already; deflating them again costs time and saves little.
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def add_file(
    archive: zipfile.ZipFile, name: str, path: Path, moment: datetime, *, compress: bool
) -> str:
    """Copy a file into the ZIP in chunks; return its SHA-256."""
    digest = hashlib.sha256()
    with path.open("rb") as source, archive.open(member(name, moment, compress), "w") as sink:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            sink.write(chunk)
    return digest.hexdigest()


def add_bytes(archive: zipfile.ZipFile, name: str, data: bytes, moment: datetime) -> str:
    """Write bytes into the ZIP, compressed; return their SHA-256."""
    archive.writestr(member(name, moment, compress=True), data)
    return hashlib.sha256(data).hexdigest()


def utc_text(moment: datetime) -> str:
    """Return an aware datetime as UTC to the second: `2021-09-14T04:00:00Z`."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def sha256_file(path: Path) -> str:
    """Return the SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def zip_names(path: Path) -> tuple[str, ...]:
    """Return the names of a ZIP's members, in order."""
    with zipfile.ZipFile(path) as archive:
        return tuple(archive.namelist())
