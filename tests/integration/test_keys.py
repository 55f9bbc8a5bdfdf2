"""Rotating the data key: old data stays readable, and re-encryption moves it to the new key."""

import base64

import sqlalchemy as sa

from petitions.extensions import db as _db
from petitions.models import Signature
from petitions.services.privacy import keyring
from tests.conftest import TEST_DATA_KEY, make_test_app

NEW_KEY = base64.urlsafe_b64encode(b"n" * 32).decode()


def test_rotation_keeps_old_rows_readable_and_reencrypt_moves_them(
    database_url, tmp_path, db, make_petition, make_signature
):
    petition = make_petition()
    make_signature(petition, name="Әлия", email="aliya@example.org", comment="Free him")
    rotated = make_test_app(database_url, str(tmp_path), DATA_KEYS=f"{NEW_KEY},{TEST_DATA_KEY}")
    with rotated.app_context():
        raw = _db.session.execute(sa.text("SELECT name FROM signatures")).scalar_one()
        assert keyring().needs_rotation(raw)
        assert _db.session.scalars(sa.select(Signature)).one().name == "Әлия"
        result = rotated.test_cli_runner().invoke(args=["keys", "reencrypt", "--batch", "1"])
        assert result.exit_code == 0, result.output
        assert "signatures: 1 row(s) re-encrypted" in result.output
        raw = _db.session.execute(sa.text("SELECT name, email, comment FROM signatures")).one()
        assert not any(keyring().needs_rotation(value) for value in raw)
        _db.session.remove()
        _db.engine.dispose()
    only_new = make_test_app(database_url, str(tmp_path), DATA_KEYS=NEW_KEY)
    with only_new.app_context():
        signature = _db.session.scalars(sa.select(Signature)).one()
        assert (signature.name, signature.email, signature.comment) == (
            "Әлия",
            "aliya@example.org",
            "Free him",
        )
        _db.session.remove()
        _db.engine.dispose()


def test_reencrypt_moves_the_second_factors_secrets_too(database_url, tmp_path, db, make_account):
    from petitions.models import TotpFactor, utcnow
    from petitions.services import two_factor

    organiser = make_account("factor@example.org")
    secret = two_factor.pending_secret(organiser, utcnow())
    db.session.commit()
    rotated = make_test_app(database_url, str(tmp_path), DATA_KEYS=f"{NEW_KEY},{TEST_DATA_KEY}")
    with rotated.app_context():
        raw = _db.session.execute(sa.text("SELECT secret FROM totp_factors")).scalar_one()
        assert keyring().needs_rotation(raw)
        result = rotated.test_cli_runner().invoke(args=["keys", "reencrypt"])
        assert result.exit_code == 0, result.output
        assert "totp_factors: 1 row(s) re-encrypted with the current key" in result.output
        raw = _db.session.execute(sa.text("SELECT secret FROM totp_factors")).scalar_one()
        assert not keyring().needs_rotation(raw)
        _db.session.remove()
        _db.engine.dispose()
    only_new = make_test_app(database_url, str(tmp_path), DATA_KEYS=NEW_KEY)
    with only_new.app_context():
        assert _db.session.scalars(sa.select(TotpFactor.secret)).one() == secret
        _db.session.remove()
        _db.engine.dispose()
