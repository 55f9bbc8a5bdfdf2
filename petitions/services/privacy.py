"""Privacy rules that need the application: canonical emails, the app's keyring, masked addresses.

The keyed hashes and the encryption themselves are Flask-free and live in `petitions.crypto`;
this module finds the keyring of the application at work.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from flask import current_app

from petitions.crypto import Keyring
from petitions.outbox_keys import OutboxKeys

#: Providers whose mailboxes ignore dots in the local part.
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def canonical_email(address: str) -> str:
    """Return the form of an address that decides whether two signatures are the same person."""
    address = unicodedata.normalize("NFC", address.strip()).lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise ValueError("not an email address")
    local = local.split("+", 1)[0]
    domain = canonical_domain(domain)
    if domain in DOTLESS_DOMAINS.values():
        local = local.replace(".", "")
    return f"{local}@{domain}"


def canonical_domain(domain: str) -> str:
    """Return the form of an email domain that signatures are grouped and searched by."""
    domain = unicodedata.normalize("NFC", domain.strip()).lower().lstrip("@").rstrip(".")
    return DOTLESS_DOMAINS.get(domain, domain)


def domain_hash(domain: str, ring: Keyring | None = None) -> bytes:
    """Hash an email domain as signatures store it, whatever form the moderator typed."""
    return (ring or keyring()).keyed_hash("email-domain", canonical_domain(domain))


def keyring() -> Keyring:
    """Return the keyring of the current application."""
    return current_app.extensions["petitions.keyring"]


def outbox_keys() -> OutboxKeys:
    """Return the current application's short-lived keys for sealed petitions' outboxes."""
    return current_app.extensions["petitions.outbox_keys"]


@dataclass(frozen=True)
class EmailHashes:
    """What a signature stores in place of its address: the keyed hashes of its canonical form
    (which finds the same person again) and of its domain (which moderators search by)."""

    email: bytes
    domain: bytes


def email_hashes(address: str, ring: Keyring | None = None) -> EmailHashes:
    """Hash an address as every signature stores it; raise ValueError if it is no address."""
    canonical = canonical_email(address)
    ring = ring or keyring()
    return EmailHashes(
        email=ring.keyed_hash("email", canonical),
        domain=domain_hash(canonical.rpartition("@")[2], ring),
    )


def mask_email(address: str) -> str:
    """Show enough of an address to recognise it in a log, not enough to learn it."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"
