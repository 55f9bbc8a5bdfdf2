"""Inclusion receipts: a signer's code, its leaf in each bundle's Merkle tree, and their checks.

Flask-free, so that `flask receipts verify` and anyone's copy of this file check a receipt with
nothing of the server. The formulas, which docs/verifying-a-receipt.md gives for other tools:

- the **code** is 24 characters of lowercase base32 (a-z, 2-7): the first 15 bytes of
  HMAC-SHA256(HASH_KEY, "receipt-code" 0x00 signature's public id). Unguessable without the
  server's hash key, and the server can show it again (the thank-you page) without storing it;
- the **leaf** is the RFC 6962 leaf hash SHA-256(0x00 || data) of the ASCII text
  `petitions-receipt-v1:<the petition's public id>:<code>`. It tells nothing about the signer,
  and the signer recomputes it from the code and the public id printed on the petition's page;
- a **paper line's leaf** is SHA-256(0x00 || data) of `petitions-paper-v1:<the petition's public
  id>:<the sheet's check code, upper case, no dash>:<the line's number>`.
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
#: A line of a paper sheet: its sheet's check code (as printed, without the dash) and its number.
PAPER_LEAF_FORMAT = "petitions-paper-v1:{petition}:{check_code}:{line}"
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


def paper_leaf(petition_public_id: str, check_code: str, line: int) -> bytes:
    """Return the leaf of line `line` of the paper sheet whose check code is `check_code`.

    Whoever holds the sheet computes it from what is printed on it and the petition's public id.
    """
    code = check_code.replace("-", "").strip().upper()
    data = PAPER_LEAF_FORMAT.format(petition=petition_public_id, check_code=code, line=int(line))
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
    #: The signature's place in the export's tree, as the receipt gives it; None when not in it.
    leaf_index: int | None = None

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
                leaf_index=export["leaf_index"] if included else None,
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


# What `flask receipts verify` says: plain text, one line per export, kept here beside the check
# so that the command line adds only reading the file and the exit status.


def _hex_root(text: str) -> str:
    """Return a root given by hand as 64 lowercase hex digits, or raise ReceiptError."""
    root = "".join(text.split()).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", root):
        raise ReceiptError("the root to insist on is not a SHA-256 in hex (64 digits)")
    return root


#: How much of a text field of the file a line shows.
_SHOWN_CHARACTERS = 64


def _shown(text: str) -> str:
    """Show a text field of the file safely in a terminal: a receipt may come from anyone, and
    a newline or an escape sequence in it must not forge a line or move the cursor."""
    text = text[:_SHOWN_CHARACTERS]
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def describe_export(export: ExportCheck) -> str:
    """Say in one line what a receipt proves of one export."""
    where = f"{_shown(export.kind)} export of {_shown(export.exported_at)}"
    if not export.included:
        return f"{where}: not included (tree of {export.tree_size}, root {export.root})"
    verdict = "proof holds" if export.proof_holds else "PROOF FAILS"
    place = f"included at index {export.leaf_index} of {export.tree_size}"
    return f"{where}: {place}, root {export.root}: {verdict}"


@dataclass(frozen=True)
class Verdict:
    """The lines to print and, when the receipt does not hold, the one line that says why."""

    lines: tuple[str, ...]
    failure: str | None

    @property
    def ok(self) -> bool:
        return self.failure is None


def _failure(check: ReceiptCheck, root: str | None, tree_size: int | None) -> str | None:
    if not check.leaf_matches:
        return "the receipt's leaf is not the leaf of its code and petition id: it was altered"
    failed = [export for export in check.exports if not export.ok]
    if failed:
        first = failed[0]
        return (
            f"the proof does not hold for the {_shown(first.kind)} export of "
            f"{_shown(first.exported_at)}"
        )
    if root is None:
        return None
    matching = [export for export in check.exports if export.root == root]
    if tree_size is not None:
        matching = [export for export in matching if export.tree_size == tree_size]
    if not matching:
        size = "" if tree_size is None else f" and size {tree_size}"
        return f"no export of this receipt has the root {root}{size}"
    if not any(export.proof_holds for export in matching):
        return f"the export with the root {root} does not include this signature"
    return None


def verdict(check: ReceiptCheck, root: str | None = None, tree_size: int | None = None) -> Verdict:
    """Judge a checked receipt, insisting, if given, on an export with this root (and size)."""
    if tree_size is not None and root is None:
        raise ReceiptError("a tree size is checked together with a root: give the root too")
    wanted = None if root is None else _hex_root(root)
    if not check.leaf_matches:  # nothing else in the file can be trusted: say only that
        return Verdict((), _failure(check, wanted, tree_size))
    lines = [describe_export(export) for export in check.exports]
    if not check.exports:
        lines.append("no export yet: the signature is in no bundle so far")
    lines.append(f"status: {_shown(check.status)}")
    failure = _failure(check, wanted, tree_size)
    if failure is None and wanted is not None:
        lines.append(f"root {wanted}: an export with this root includes the signature")
    return Verdict(tuple(lines), failure)
