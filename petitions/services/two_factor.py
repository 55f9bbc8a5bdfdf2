"""The organisers' second factor: an authenticator app (TOTP, RFC 6238) and recovery codes.

The codes themselves are pyotp's; this module decides which code is accepted. A TOTP code is
accepted for its own 30-second step and one step either side (clocks drift), and only for a
step later than the last one accepted, which a guarded UPDATE settles: of two requests with the
same code, exactly one gets in. A recovery code is accepted once, by the same kind of UPDATE.
Secrets are stored encrypted under DATA_KEYS; recovery codes only as keyed hashes.
"""

from __future__ import annotations

import base64
import enum
import hmac
import secrets
from datetime import datetime

import pyotp
import sqlalchemy as sa

from petitions.extensions import db
from petitions.models import Organiser, Passkey, PasskeyChallenge, RecoveryCode, TotpFactor
from petitions.services import audit
from petitions.services.privacy import keyring

#: How many recovery codes an organiser is given at a time.
RECOVERY_CODE_COUNT = 10
#: Steps either side of the current one whose codes are still accepted (30 s each).
DRIFT_STEPS = 1
#: 10 random bytes: 16 base32 letters, 80 bits, out of reach of guessing even with the hash key.
_RECOVERY_BYTES = 10
_DIGITS = 6


class Verdict(enum.StrEnum):
    """What became of a code given as a second factor."""

    ACCEPTED = "accepted"
    WRONG = "wrong"
    #: A TOTP code of a step already used (a replay, or the same code typed twice).
    REPLAYED = "replayed"
    #: A recovery code that was already used.
    USED = "used"


def factor_of(organiser: Organiser) -> TotpFactor | None:
    """Return the organiser's authenticator, turned on or being set up, or None."""
    return db.session.get(TotpFactor, organiser.id)


def is_on(organiser: Organiser) -> bool:
    """Tell whether the organiser's sign-in asks for a second factor."""
    factor = factor_of(organiser)
    return factor is not None and factor.enabled_at is not None


def pending_secret(organiser: Organiser, now: datetime) -> str:
    """Return the secret being set up, drawing one the first time: reloading the page shows the
    same one, so an app that already read it still matches."""
    factor = factor_of(organiser)
    if factor is not None and factor.enabled_at is not None:
        raise ValueError("the second factor is already on")
    if factor is None:
        factor = TotpFactor(organiser_id=organiser.id, secret=pyotp.random_base32(), created_at=now)
        db.session.add(factor)
        db.session.flush()
    return factor.secret


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """Return the otpauth:// address an authenticator app reads (as text or as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def _digits(code: str) -> str | None:
    """Return the six ASCII digits of a typed TOTP code (spaces allowed), or None."""
    compact = "".join(code.split())
    if len(compact) == _DIGITS and compact.isascii() and compact.isdigit():
        return compact
    return None


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """Return the time-step whose code this is, within the drift allowed, or None."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(now, counter_offset=offset), code):
            return current + offset
    return None


def turn_on(organiser: Organiser, code: str, now: datetime) -> list[str] | None:
    """Turn the factor being set up on if the code comes from its secret; return the new
    recovery codes (to be shown once), or None for a wrong code."""
    factor = factor_of(organiser)
    digits = _digits(code)
    if factor is None or factor.enabled_at is not None or digits is None:
        return None
    step = _matching_step(factor.secret, digits, now)
    if step is None:
        return None
    factor.enabled_at, factor.last_step = now, step
    audit.record("two_factor_on", actor=organiser)
    return _replace_recovery_codes(organiser, now)


def _recovery_hash(code: str) -> bytes:
    return keyring().keyed_hash("recovery-code", code)


def _clean_recovery(code: str) -> str:
    """Compare recovery codes without their hyphens, spaces or case, as people copy them."""
    return "".join(code.replace("-", " ").split()).lower()


def _new_recovery_code() -> str:
    letters = base64.b32encode(secrets.token_bytes(_RECOVERY_BYTES)).decode("ascii").lower()
    return "-".join(letters[i : i + 4] for i in range(0, len(letters), 4))


def _replace_recovery_codes(organiser: Organiser, now: datetime) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.organiser_id == organiser.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(
        RecoveryCode(
            organiser_id=organiser.id, code_hash=_recovery_hash(_clean_recovery(c)), created_at=now
        )
        for c in codes
    )
    db.session.flush()
    return codes


def new_recovery_codes(organiser: Organiser, now: datetime) -> list[str]:
    """Replace every recovery code of the organiser with ten new ones, to be shown once."""
    audit.record("recovery_codes_new", actor=organiser)
    return _replace_recovery_codes(organiser, now)


def recovery_codes_left(organiser: Organiser) -> int:
    """Count the organiser's recovery codes not used yet."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.organiser_id == organiser.id, RecoveryCode.used_at.is_(None))
    )


def _take_step(organiser: Organiser, step: int) -> bool:
    """Record a step as used unless it or a later one was: True for the one request that did."""
    result = db.session.execute(
        sa.update(TotpFactor)
        .where(
            TotpFactor.organiser_id == organiser.id,
            TotpFactor.enabled_at.is_not(None),
            sa.or_(TotpFactor.last_step.is_(None), TotpFactor.last_step < step),
        )
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _use_recovery_code(organiser: Organiser, code: str, now: datetime) -> Verdict:
    digest = _recovery_hash(_clean_recovery(code))
    mine = (RecoveryCode.organiser_id == organiser.id, RecoveryCode.code_hash == digest)
    result = db.session.execute(
        sa.update(RecoveryCode)
        .where(*mine, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        audit.record("recovery_code_used", actor=organiser, left=recovery_codes_left(organiser))
        return Verdict.ACCEPTED
    used = db.session.scalar(sa.select(RecoveryCode.id).where(*mine))
    return Verdict.USED if used is not None else Verdict.WRONG


def check_code(organiser: Organiser, code: str, now: datetime) -> Verdict:
    """Judge a second factor given by the organiser: a code of their app, or a recovery code."""
    factor = factor_of(organiser)
    if factor is None or factor.enabled_at is None:
        return Verdict.WRONG
    digits = _digits(code)
    if digits is None:
        return _use_recovery_code(organiser, code, now)
    step = _matching_step(factor.secret, digits, now)
    if step is None:
        return Verdict.WRONG
    accepted = _take_step(organiser, step)
    db.session.expire(factor)
    return Verdict.ACCEPTED if accepted else Verdict.REPLAYED


def _remove(organiser: Organiser) -> bool:
    """Delete the organiser's authenticator, recovery codes and passkeys (which stand beside
    the app, never alone); tell whether one was on."""
    was_on = is_on(organiser)
    db.session.execute(sa.delete(Passkey).where(Passkey.organiser_id == organiser.id))
    db.session.execute(
        sa.delete(PasskeyChallenge).where(PasskeyChallenge.organiser_id == organiser.id)
    )
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.organiser_id == organiser.id))
    db.session.execute(sa.delete(TotpFactor).where(TotpFactor.organiser_id == organiser.id))
    db.session.expire_all()
    return was_on


def turn_off(organiser: Organiser) -> None:
    """Turn the organiser's second factor off (they have just given it)."""
    _remove(organiser)
    audit.record("two_factor_off", actor=organiser)
    db.session.flush()


def reset(organiser: Organiser, actor_label: str = "cli") -> bool:
    """Remove a locked-out organiser's second factor, for them to set up again; tell whether one
    was on. Recorded in the audit log under the organiser's email, by `actor_label`."""
    was_on = _remove(organiser)
    audit.record(
        "two_factor_reset", actor_label=actor_label, organiser=organiser.email, was_on=was_on
    )
    db.session.flush()
    return was_on
