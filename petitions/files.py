"""Files and directories that hold personal data: readable by the service's own user alone."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIRECTORY = 0o700


def private_directory(path: Path) -> Path:
    """Create `path` and any missing parents 0700; a directory that exists is left as it is."""
    missing = [path, *path.parents]
    missing = [folder for folder in missing if not folder.exists()]
    for folder in reversed(missing):
        # The mode is given at creation, so there is no moment where others may list it.
        with contextlib.suppress(FileExistsError):  # another process made it first
            folder.mkdir(mode=PRIVATE_DIRECTORY)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty and 0600 unless it exists, so a library that opens it keeps the mode."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    return path
