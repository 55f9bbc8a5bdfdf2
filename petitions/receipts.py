"""Inclusion receipts: a signer's code, its leaf in each bundle's Merkle tree, and their checks.

Flask-free, so that `flask receipts verify` and anyone's copy of this file check a receipt with
nothing of the server. The formulas, which docs/verifying-a-receipt.md gives for other tools:

- the **code** is 24 characters of lowercase base32 (a-z, 2-7): the first 15 bytes of
  HMAC-SHA256(HASH_KEY, "receipt-code" 0x00 signature's public id). Unguessable without the
  server's hash key, and the server can show it again (the thank-you page) without storing it;
- the **leaf** is the RFC 6962 leaf hash SHA-256(0x00 || data) of the ASCII text
  `petitions-receipt-v1:<the petition's public id>:<code>`. It tells nothing about the signer,
  and the signer recomputes it from the code and the public id printed on the petition's page.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from petitions.merkle import leaf_hash, verify_inclusion

CODE_LENGTH = 24
CODE_PATTERN = re.compile(r"[a-z2-7]{24}")
LEAF_FORMAT = "petitions-receipt-v1:{petition}:{code}"
TREE = "rfc6962-sha256"
_CODE_BYTES = 15

if TYPE_CHECKING:  # the check of a receipt, offline, needs no keys and no database
    from petitions.crypto import Keyring


def receipt_code(keyring: Keyring, signature_public_id: str) -> str:
    """Return the receipt code of the signature with this public id."""
    digest = keyring.keyed_hash("receipt-code", signature_public_id)[:_CODE_BYTES]
    return base64.b32encode(digest).decode("ascii").lower()


def is_receipt_code(text: str) -> bool:
    return CODE_PATTERN.fullmatch(text) is not None


def receipt_leaf(petition_public_id: str, code: str) -> bytes:
    """Return the leaf hash that the signature with `code` has in its petition's trees."""
    data = LEAF_FORMAT.format(petition=petition_public_id, code=code)
    return leaf_hash(data.encode("ascii"))


class ReceiptError(ValueError):
    """A receipt file that is not a receipt: one line for the command line."""


@dataclass(frozen=True)
class ExportCheck:
    """What one export's part of a receipt proves."""

    exported_at: str
    kind: str
    tree_size: int
    root: str
    included: bool
    #: None when the signature is not in this export; else whether its proof holds.
    proof_holds: bool | None

    @property
    def ok(self) -> bool:
        return self.proof_holds is not False


@dataclass(frozen=True)
class ReceiptCheck:
    petition_id: str
    status: str
    leaf_matches: bool
    exports: tuple[ExportCheck, ...]

    @property
    def ok(self) -> bool:
        return self.leaf_matches and all(export.ok for export in self.exports)


def _hex_hash(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ReceiptError(f"{what} is not a SHA-256 in hex")
    return bytes.fromhex(value)


def check_inclusion(
    leaf: bytes, leaf_index: Any, tree_size: Any, audit_path: Any, root: bytes
) -> bool:
    """Tell whether an export's proof, as the receipt gives it, puts `leaf` under `root`."""
    if not isinstance(leaf_index, int) or not isinstance(tree_size, int):
        raise ReceiptError("leaf_index and tree_size are whole numbers")
    if not isinstance(audit_path, list):
        raise ReceiptError("audit_path is a list of hashes")
    path = [_hex_hash(node, "a node of audit_path") for node in audit_path]
    return verify_inclusion(leaf, leaf_index, tree_size, path, root)


def check_receipt(document: Any) -> ReceiptCheck:
    """Check a receipt as `GET /petitions/<slug>/receipts/<code>.json` gives it.

    The leaf is recomputed from the code and the petition's public id, and every export's proof
    is checked against that export's root. Raises ReceiptError for what is not a receipt.
    """
    if not isinstance(document, dict):
        raise ReceiptError("a receipt is a JSON object")
    code, petition_id = document.get("code"), document.get("petition_id")
    if not isinstance(code, str) or not is_receipt_code(code):
        raise ReceiptError("code is not a receipt code (24 characters, a-z and 2-7)")
    if not isinstance(petition_id, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", petition_id):
        raise ReceiptError("petition_id is not a petition's public id")
    leaf = receipt_leaf(petition_id, code)
    exports = document.get("exports", [])
    if not isinstance(exports, list):
        raise ReceiptError("exports is a list")
    checks = []
    for export in exports:
        if not isinstance(export, dict):
            raise ReceiptError("each export is a JSON object")
        root = _hex_hash(export.get("root"), "an export's root")
        size = export.get("tree_size")
        included = export.get("leaf_index") is not None
        holds = (
            check_inclusion(leaf, export["leaf_index"], size, export.get("audit_path"), root)
            if included
            else None
        )
        checks.append(
            ExportCheck(
                exported_at=str(export.get("exported_at", "")),
                kind=str(export.get("kind", "")),
                tree_size=size if isinstance(size, int) else -1,
                root=root.hex(),
                included=included,
                proof_holds=holds,
            )
        )
    return ReceiptCheck(
        petition_id=petition_id,
        status=str(document.get("status", "")),
        leaf_matches=document.get("leaf") == leaf.hex(),
        exports=tuple(checks),
    )


def load_receipt(text: str) -> ReceiptCheck:
    """Parse and check a receipt file's text."""
    try:
        document = json.loads(text)
    except ValueError:
        raise ReceiptError("not JSON: save the receipt's .json address as it is") from None
    return check_receipt(document)
