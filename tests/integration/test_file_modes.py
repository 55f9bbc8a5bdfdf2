"""Everything that holds personal data is created readable by the service's own user alone."""

import dataclasses
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from petitions.extensions import db as _db
from petitions.models import PetitionState, utcnow
from petitions.services import export
from petitions.settings import load_settings
from tests.conftest import make_test_app


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_wal_files_are_0600(tmp_path):
    path = tmp_path / "petitions.sqlite3"
    app = make_test_app(f"sqlite:///{path}", str(tmp_path / "instance"))
    with app.app_context(), _db.engine.connect() as connection:
        connection.execute(sa.text("CREATE TABLE probe (x INTEGER)"))
        connection.commit()
        modes = {file.name: _mode(file) for file in tmp_path.glob("petitions.sqlite3*")}
        _db.engine.dispose()
    assert modes == {
        "petitions.sqlite3": 0o600,
        "petitions.sqlite3-wal": 0o600,
        "petitions.sqlite3-shm": 0o600,
    }


def test_the_development_instance_directory_is_0700(tmp_path):
    instance = tmp_path / "var" / "instance"
    load_settings({}, instance)
    assert (_mode(tmp_path / "var"), _mode(instance)) == (0o700, 0o700)
    assert _mode(instance / "secret_key") == 0o600


@pytest.mark.committed
def test_a_bundle_written_from_the_command_line_is_0600(runner, tmp_path, make_petition):
    petition = make_petition()
    output = tmp_path / "bundle.zip"
    result = runner.invoke(args=["petitions", "export", petition.slug, "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert _mode(output) == 0o600


@pytest.mark.committed
def test_a_bundle_made_from_the_dashboard_and_its_directories_are_private(
    app, db, tmp_path, monkeypatch, make_organiser, make_petition, make_signature
):
    exports = tmp_path / "kept" / "exports"
    settings = dataclasses.replace(app.config["SETTINGS"], export_dir=str(exports))
    monkeypatch.setitem(app.config, "SETTINGS", settings)
    organiser = make_organiser()
    petition = make_petition(PetitionState.OPEN, organiser=organiser)
    make_signature(petition)
    export.queue_export(petition, organiser, utcnow())
    db.session.commit()
    done = export.run_export(export.claim_export(utcnow()), utcnow())
    db.session.commit()
    bundle = export.bundle_path(done)
    assert bundle is not None
    assert (_mode(tmp_path / "kept"), _mode(exports), _mode(bundle.parent)) == (0o700,) * 3
    assert _mode(bundle) == 0o600
