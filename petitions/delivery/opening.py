"""Opening sealed rows, in the worker processes that `sealed.unseal` starts, or in this one.

This module imports the sealing code and nothing else of ours, so that a spawned worker stays
small: it never loads the PDF, signing or database libraries.
"""

from __future__ import annotations

from petitions.sealing import SealingError, SealingIdentity

#: What a row held besides its id and petition: name, email, city and comment.
Opened = tuple[str | None, str | None, str | None, str | None]
#: A row to open: its number, its signature's public id and its sealed box.
Sealed = tuple[int, str, bytes]

_worker: tuple[SealingIdentity, str] | None = None


def start(identity: SealingIdentity, petition: str) -> None:
    """Keep the organiser's key and the petition's slug in this worker for `open_chunk`."""
    global _worker
    _worker = (identity, petition)


def open_chunk(chunk: list[Sealed]) -> list[Opened]:
    """Open a chunk of rows with the key `start` was given."""
    if _worker is None:
        raise RuntimeError("start() was not called in this process")
    return open_rows(*_worker, chunk)


def open_rows(identity: SealingIdentity, petition: str, chunk: list[Sealed]) -> list[Opened]:
    """Open each row and check it belongs to its signature and petition; raise SealingError."""
    opened = []
    for number, signature_id, sealed in chunk:
        try:
            row = identity.open(sealed, signature_id=signature_id, petition=petition)
        except SealingError as error:
            raise SealingError(f"row {number}: {error}") from None
        opened.append((row.name, row.email, row.city, row.comment))
    return opened
