"""Passkeys (WebAuthn) as an organiser's second factor, beside the authenticator app.

The ceremonies are py_webauthn's: this module draws the options, keeps each challenge for one
use within CHALLENGE_AGE, and stores what a verified registration gives. The relying party is
BASE_URL's host and origin, never a request header: a passkey made here answers only this site.
A challenge is kept twice: in the browser's signed session (so the server knows which one the
browser was given) and as a hash in `passkey_challenges`, whose row a guarded DELETE takes:
of two requests with the same challenge, exactly one gets in, and an old cookie sent again finds
no row. A signature counter that does not go up is refused (a cloned authenticator), by
py_webauthn and again by a guarded UPDATE for two requests at once.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from petitions.extensions import db
from petitions.models import Organiser, Passkey, PasskeyChallenge
from petitions.services import audit
from petitions.settings import Settings

#: How long a challenge waits for the browser's answer.
CHALLENGE_AGE = timedelta(minutes=5)
#: How many passkeys one organiser may add.
MOST_PASSKEYS = 10
REGISTER = "register"
SIGN_IN = "sign-in"
#: Giving a passkey again, signed in, before a sensitive action.
CONFIRM = "confirm"
_KNOWN_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)


class Refusal(enum.StrEnum):
    """Why a passkey's answer was refused."""

    #: No challenge, an expired one, or one already taken.
    CHALLENGE = "challenge"
    #: The answer is not one of this organiser's passkeys.
    UNKNOWN = "unknown"
    #: py_webauthn refused it: wrong origin, RP ID, signature, flags, or a malformed answer.
    INVALID = "invalid"
    #: The signature counter did not go up: the passkey may have been copied.
    COUNTER = "counter"
    #: A passkey already registered (here or to someone else), or too many.
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str
    name: str


def relying_party(settings: Settings, name: str) -> RelyingParty:
    """The site as passkeys know it: BASE_URL's host, and its scheme and host as the origin."""
    parts = urlsplit(settings.base_url)
    return RelyingParty(
        id=parts.hostname or "", origin=f"{parts.scheme}://{parts.netloc}", name=name
    )


def passkeys_of(organiser: Organiser) -> list[Passkey]:
    return list(
        db.session.scalars(
            sa.select(Passkey).where(Passkey.organiser_id == organiser.id).order_by(Passkey.id)
        )
    )


def _hash(challenge: bytes) -> bytes:
    return hashlib.sha256(challenge).digest()


def _new_challenge(organiser: Organiser, purpose: str, challenge: bytes, now: datetime) -> None:
    # Challenges that can no longer be taken go as new ones are drawn.
    db.session.execute(
        sa.delete(PasskeyChallenge).where(
            PasskeyChallenge.organiser_id == organiser.id,
            PasskeyChallenge.created_at < now - CHALLENGE_AGE,
        )
    )
    db.session.add(
        PasskeyChallenge(
            organiser_id=organiser.id,
            challenge_hash=_hash(challenge),
            purpose=purpose,
            created_at=now,
        )
    )


def take_challenge(organiser: Organiser, purpose: str, kept: object, now: datetime) -> bytes | None:
    """Take the challenge the browser's session names, once; None if it is gone or too old."""
    if not isinstance(kept, str):
        return None
    try:
        challenge = base64url_to_bytes(kept)
    except ValueError:
        return None
    taken = db.session.execute(
        sa.delete(PasskeyChallenge).where(
            PasskeyChallenge.organiser_id == organiser.id,
            PasskeyChallenge.challenge_hash == _hash(challenge),
            PasskeyChallenge.purpose == purpose,
            PasskeyChallenge.created_at >= now - CHALLENGE_AGE,
        )
    )
    return challenge if taken.rowcount == 1 else None


def _descriptors(organiser: Organiser) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=key.credential_id,
            transports=[
                AuthenticatorTransport(t)
                for t in key.transports.split(",")
                if t in _KNOWN_TRANSPORTS
            ],
        )
        for key in passkeys_of(organiser)
    ]


def registration_options(organiser: Organiser, rp: RelyingParty, now: datetime) -> tuple[str, str]:
    """Draw options for adding a passkey: (their JSON for the browser, the challenge to keep)."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=organiser.email,
        user_id=f"organiser:{organiser.id}".encode(),
        user_display_name=organiser.name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(organiser),
    )
    _new_challenge(organiser, REGISTER, options.challenge, now)
    return options_to_json(options), bytes_to_base64url(options.challenge)


def authentication_options(
    organiser: Organiser, rp: RelyingParty, now: datetime, purpose: str = SIGN_IN
) -> tuple[str, str]:
    """Draw options for giving one of the organiser's passkeys: (JSON, the challenge to keep)."""
    options = generate_authentication_options(
        rp_id=rp.id,
        allow_credentials=_descriptors(organiser),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    _new_challenge(organiser, purpose, options.challenge, now)
    return options_to_json(options), bytes_to_base64url(options.challenge)


def _transports(credential: str) -> str:
    try:
        given = json.loads(credential).get("response", {}).get("transports", [])
    except (ValueError, AttributeError):
        return ""
    if not isinstance(given, list):
        return ""
    return ",".join(sorted({t for t in given if isinstance(t, str) and t in _KNOWN_TRANSPORTS}))


def register(
    organiser: Organiser,
    credential: str,
    challenge: bytes,
    rp: RelyingParty,
    name: str,
    now: datetime,
) -> Passkey | Refusal:
    """Verify the browser's answer to the registration options and keep the passkey."""
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    except (InvalidRegistrationResponse, ValueError, TypeError, KeyError):
        return Refusal.INVALID
    taken = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Passkey)
        .where(Passkey.credential_id == verified.credential_id)
    )
    if taken or len(passkeys_of(organiser)) >= MOST_PASSKEYS:
        return Refusal.DUPLICATE
    passkey = Passkey(
        organiser_id=organiser.id,
        name=name,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=_transports(credential)[:200],
        created_at=now,
    )
    db.session.add(passkey)
    db.session.flush()
    audit.record("passkey_added", actor=organiser, passkey=passkey.id)
    return passkey


def _credential_id(credential: str) -> bytes | None:
    try:
        raw = json.loads(credential).get("rawId")
        return base64url_to_bytes(raw) if isinstance(raw, str) else None
    except (ValueError, AttributeError):
        return None


def authenticate(
    organiser: Organiser, credential: str, challenge: bytes, rp: RelyingParty, now: datetime
) -> Passkey | Refusal:
    """Verify an assertion of one of the organiser's passkeys against the challenge taken."""
    credential_id = _credential_id(credential)
    passkey = (
        db.session.scalar(
            sa.select(Passkey).where(
                Passkey.organiser_id == organiser.id, Passkey.credential_id == credential_id
            )
        )
        if credential_id is not None
        else None
    )
    if passkey is None:
        return Refusal.UNKNOWN
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
        )
    except InvalidAuthenticationResponse as error:
        return Refusal.COUNTER if "sign count" in str(error) else Refusal.INVALID
    except (ValueError, TypeError, KeyError):
        return Refusal.INVALID
    new_count = verified.new_sign_count
    # Of two answers at once, only one moves the counter on (a counter of 0 stays 0: passkeys
    # that keep none).
    moved = db.session.execute(
        sa.update(Passkey)
        .where(
            Passkey.id == passkey.id,
            sa.or_(
                Passkey.sign_count < new_count, sa.and_(Passkey.sign_count == 0, new_count == 0)
            ),
        )
        .values(sign_count=new_count, last_used_at=now)
    )
    if moved.rowcount != 1:
        return Refusal.COUNTER
    return passkey


def remove(organiser: Organiser, passkey_id: int) -> bool:
    """Remove one of the organiser's passkeys; False if it is not theirs (or gone)."""
    gone = db.session.execute(
        sa.delete(Passkey).where(Passkey.id == passkey_id, Passkey.organiser_id == organiser.id)
    )
    if gone.rowcount == 1:
        audit.record("passkey_removed", actor=organiser, passkey=passkey_id)
        return True
    return False
