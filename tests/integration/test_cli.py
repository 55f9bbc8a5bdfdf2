"""The command line: the demo, the list, and clear failures instead of tracebacks."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from petitions.i18n import format_in_zone
from petitions.models import AuditEvent, Organiser, Petition, PetitionState
from petitions.services.accounts import password_matches
from tests.conftest import TEST_DATA_KEY, TEST_HASH_KEY
from tests.helpers import login

ROOT = Path(__file__).resolve().parents[2]


def test_demo_creates_the_atabek_appeal_once(runner, db):
    first = runner.invoke(args=["petitions", "demo"])
    assert first.exit_code == 0, first.output
    assert "Password (shown once, write it down):" in first.output
    second = runner.invoke(args=["petitions", "demo"])
    assert second.exit_code == 0, second.output
    assert "Password" not in second.output
    assert "already exists" in second.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organiser)) == 1
    petition = db.session.scalars(sa.select(Petition)).one()
    assert petition.state == PetitionState.OPEN
    assert petition.closes_at - petition.opens_at == timedelta(days=5)
    assert "President of the Republic of Kazakhstan" in petition.recipient
    assert petition.timezone == "Asia/Almaty"
    assert "Атабек" in petition.body and "Atabek" in petition.body
    assert "## Обращение" in petition.body and "## Appeal" in petition.body
    assert db.session.scalars(sa.select(AuditEvent.action)).all() == ["publish"]


def test_demo_names_the_zone_of_its_closing_time(app, runner, db):
    output = runner.invoke(args=["petitions", "demo"]).output
    petition = db.session.scalars(sa.select(Petition)).one()
    with app.app_context():
        closes = format_in_zone(petition.closes_at, "Asia/Almaty")
    assert output.splitlines()[-1] == (
        f"Opened /petitions/pardon-aron-atabek (open, closes {closes}, Almaty time, Asia/Almaty)"
    )


def test_the_demo_password_printed_is_the_one_that_works(runner, db):
    output = runner.invoke(args=["petitions", "demo"]).output
    password = output.split("write it down): ", 1)[1].split()[0]
    organiser = db.session.scalars(sa.select(Organiser)).one()
    assert password_matches(organiser, password)
    assert not password_matches(organiser, password + "x")
    assert password not in organiser.password_hash


def test_demo_page_is_served(runner, client):
    runner.invoke(args=["petitions", "demo"])
    response = client.get("/petitions/pardon-aron-atabek")
    assert response.status_code == 200
    assert "Помилуйте Арона Атабека" in response.get_data(as_text=True)


def test_list_shows_every_petition_with_its_count(runner, make_petition, make_signature):
    petition = make_petition(title="Free them all")
    make_signature(petition)
    make_petition(PetitionState.DRAFT, slug="a-draft")
    output = runner.invoke(args=["petitions", "list"]).output
    assert f"{petition.slug}\topen\t" in output
    assert "1 confirmed\tFree them all" in output
    assert "a-draft\tdraft\t" in output


def _flask(*args, **env):
    """Run the real `flask` command line in a child process with only the given settings."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT"}
    }
    environment.update(
        SECRET_KEY="cli-test-secret-key-long-enough-0123456789",
        HASH_KEY=TEST_HASH_KEY,
        DATA_KEYS=TEST_DATA_KEY,
        FLASK_SKIP_DOTENV="1",
    )
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:1/nowhere",
        "sqlite:////nonexistent-directory/petitions.sqlite3",
    ],
)
@pytest.mark.parametrize(
    "command", [["petitions", "list"], ["petitions", "demo"], ["db", "upgrade"]]
)
def test_unreachable_database_gives_one_clear_line_and_exit_1(url, command):
    result = _flask(*command, DATABASE_URL=url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("Error: cannot use the database:")


def test_malformed_database_url_names_the_setting():
    result = _flask("petitions", "list", DATABASE_URL="::not-a-url")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("petitions: setting DATABASE_URL: cannot parse")


def test_production_refuses_to_start_without_secret_key():
    result = _flask("petitions", "list", PETITIONS_ENV="production", SECRET_KEY="")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "petitions: setting SECRET_KEY: required in production" in result.stderr


def test_production_refuses_to_start_without_base_url():
    result = _flask("petitions", "list", PETITIONS_ENV="production")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "petitions: setting BASE_URL: required in production" in result.stderr


def test_production_on_sqlite_and_memory_limits_warns_at_start(tmp_path):
    result = _flask(
        "petitions",
        "list",
        PETITIONS_ENV="production",
        BASE_URL="https://petitions.example.org",
        DATABASE_URL=f"sqlite:///{tmp_path / 'absent.sqlite3'}",
    )
    assert "DATABASE_URL points at SQLite" in result.stderr
    assert "RATELIMIT_STORAGE_URI is memory://" in result.stderr


def test_a_forgotten_demo_password_is_reset_from_the_command_line(runner, db, client, tmp_path):
    first = runner.invoke(args=["petitions", "demo"]).output
    old = first.split("write it down): ", 1)[1].split()[0]
    secret = tmp_path / "password"
    secret.write_text("a new demo password\n", encoding="utf-8")
    email = "Demo-Organiser@example.org"
    result = runner.invoke(args=["organisers", "set-password", email, "--password-file", secret])
    assert result.exit_code == 0, result.output
    assert result.output == "new password set for demo-organiser@example.org\n"
    organiser = db.session.scalars(sa.select(Organiser)).one()
    db.session.refresh(organiser)
    assert password_matches(organiser, "a new demo password")
    assert not password_matches(organiser, old)
    signed_in = login(client, "demo-organiser@example.org", "a new demo password")
    assert signed_in.status_code == 303


def test_set_password_prompts_and_refuses_short_passwords_and_unknown_accounts(runner, db):
    runner.invoke(args=["petitions", "demo"])
    short = runner.invoke(
        args=["organisers", "set-password", "demo-organiser@example.org"], input="short\nshort\n"
    )
    assert short.exit_code == 1
    assert "Error: the password must have at least 12 characters" in short.output
    prompted = runner.invoke(
        args=["organisers", "set-password", "demo-organiser@example.org"],
        input="typed at the prompt\ntyped at the prompt\n",
    )
    assert prompted.exit_code == 0, prompted.output
    organiser = db.session.scalars(sa.select(Organiser)).one()
    db.session.refresh(organiser)
    assert password_matches(organiser, "typed at the prompt")
    unknown = runner.invoke(args=["organisers", "set-password", "nobody@example.org"])
    assert unknown.exit_code == 1
    assert "Error: no organiser with the email nobody@example.org" in unknown.output
