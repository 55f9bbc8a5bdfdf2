"""The command line: the demo, the list, and clear failures instead of tracebacks."""

import base64
import csv
import io
import json
import logging
import os
import stat
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes

from petitions.delivery.bundle import json_bytes
from petitions.delivery.keys import SigningKey, ensure_development_key, load_signing_key
from petitions.delivery.sealed import verify_sealed_export, write_sealed_export
from petitions.delivery.verify import verify_bundle
from petitions.extensions import db as extensions_db
from petitions.i18n import format_in_zone
from petitions.models import AuditEvent, Organiser, Petition, PetitionState
from petitions.sealing import SealingIdentity, SealingPublicKey, write_key_pair
from petitions.services.accounts import password_matches
from tests.conftest import TEST_DATA_KEY, TEST_HASH_KEY, make_test_app
from tests.delivery_fixtures import (
    KAZAKH_NAME,
    make_export,
    make_rows,
    members,
    resign,
    seal_rows,
    summary_of,
)
from tests.delivery_fixtures import make_petition as fixture_petition
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


# Sealed petitions: the organiser's key pair and unsealing, offline. Neither command reads the
# database, so these run on SQLite alone.

#: Argon2id at its minimum: the real limits take seconds and 256 MiB for every key file.
CHEAP_KDF = ["--kdf-opslimit", "1", "--kdf-memlimit", "8192"]
PASSPHRASE = "a long enough passphrase"
SEALED_NAME = "pardon-aron-atabek-20210919.sealed.zip"
on_sqlite = pytest.mark.parametrize("backend", ["sqlite"])


def _passphrase_file(directory: Path, text: str = PASSPHRASE) -> Path:
    path = directory / "passphrase"
    path.write_text(text + "\n", encoding="utf-8")
    return path


@on_sqlite
def test_sealing_new_writes_the_public_line_and_a_private_key_file(runner, tmp_path):
    keys = tmp_path / "keys"
    result = runner.invoke(
        args=["keys", "sealing-new", "--output", str(keys), *CHEAP_KDF],
        input=f"{PASSPHRASE}\n{PASSPHRASE}\n",
    )
    assert result.exit_code == 0, result.output
    line = (keys / "sealing.pub").read_text(encoding="utf-8")
    assert line.endswith("\n") and line.count("\n") == 1
    opened = SealingIdentity.from_key_file((keys / "sealing.key").read_text(), PASSPHRASE)
    assert line.strip() == opened.public_key.line
    assert f"public key: {opened.public_key.line}" in result.stdout
    assert f"fingerprint: {opened.public_key.fingerprint}" in result.stdout
    assert stat.S_IMODE((keys / "sealing.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert sorted(path.name for path in keys.iterdir()) == ["sealing.key", "sealing.pub"]


@on_sqlite
def test_sealing_new_asks_again_when_the_confirmation_differs(runner, tmp_path):
    keys = tmp_path / "keys"
    mismatched = runner.invoke(
        args=["keys", "sealing-new", "--output", str(keys), *CHEAP_KDF],
        input=f"{PASSPHRASE}\n{PASSPHRASE}x\n",
    )
    assert "Error: The two entered values do not match." in mismatched.output
    assert mismatched.exit_code == 1  # no more input: aborted, at the prompt
    assert not keys.exists()
    again = runner.invoke(
        args=["keys", "sealing-new", "--output", str(keys), *CHEAP_KDF],
        input=f"{PASSPHRASE}\n{PASSPHRASE}x\n{PASSPHRASE}2\n{PASSPHRASE}2\n",
    )
    assert again.exit_code == 0, again.output
    SealingIdentity.from_key_file((keys / "sealing.key").read_text(), f"{PASSPHRASE}2")


@on_sqlite
def test_sealing_new_refuses_a_short_passphrase_and_writes_nothing(runner, tmp_path):
    keys = tmp_path / "keys"
    result = runner.invoke(
        args=["keys", "sealing-new", "--output", str(keys), "--passphrase-file", "-"],
        input="too short\n",
    )
    assert result.exit_code == 1
    assert result.stderr == "Error: the passphrase must be at least 12 characters long\n"
    assert not keys.exists()


@on_sqlite
@pytest.mark.parametrize("existing", ["sealing.key", "sealing.pub"])
def test_sealing_new_never_replaces_a_key_pair(runner, tmp_path, existing):
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o755)
    (keys / existing).write_text("precious")
    result = runner.invoke(
        args=[
            "keys",
            "sealing-new",
            "--output",
            str(keys),
            "--passphrase-file",
            str(_passphrase_file(tmp_path)),
            *CHEAP_KDF,
        ]
    )
    assert result.exit_code == 1
    assert result.stderr == f"Error: {keys / existing} exists already; move it away first\n"
    assert [path.name for path in keys.iterdir()] == [existing]
    assert (keys / existing).read_text() == "precious"
    # A directory that was there keeps its own mode: only a new one is made 0700.
    assert stat.S_IMODE(keys.stat().st_mode) == 0o755


@pytest.fixture(scope="module")
def sealing_keys(tmp_path_factory) -> Path:
    """A key pair made as `keys sealing-new` makes it, with cheap Argon2id limits."""
    directory = tmp_path_factory.mktemp("sealing") / "keys"
    write_key_pair(directory, PASSPHRASE, opslimit=1, memlimit=8192)
    return directory


@pytest.fixture(scope="module")
def server_key(tmp_path_factory) -> SigningKey:
    return load_signing_key(ensure_development_key(tmp_path_factory.mktemp("server")), None)


@pytest.fixture(scope="module")
def sealed_export(tmp_path_factory, sealing_keys, server_key) -> Path:
    """A sealed export of 40 signatures in Kazakh, Russian and Latin letters."""
    public_key = SealingPublicKey.parse((sealing_keys / "sealing.pub").read_text())
    petition, clear = fixture_petition(), make_rows(40, [KAZAKH_NAME, "Алексей Иванов"])
    rows = seal_rows(clear, public_key, petition)
    directory = tmp_path_factory.mktemp("export")
    summary = summary_of(clear, petition)
    write_sealed_export(petition, make_export(), summary, rows, server_key, public_key, directory)
    return directory / SEALED_NAME


def _unseal(runner, export: Path, keys: Path, output: Path, *options: str):
    passphrase = _passphrase_file(output.parent)
    return runner.invoke(
        args=[
            "bundles",
            "unseal",
            str(export),
            "--key",
            str(keys / "sealing.key"),
            "--passphrase-file",
            str(passphrase),
            "--output",
            f"{output}/",
            "--rows-out",
            str(output / "rows.csv"),
            *options,
        ]
    )


@on_sqlite
def test_unseal_builds_a_bundle_that_verifies_and_the_rows_for_moderation(
    runner, sealed_export, sealing_keys, tmp_path
):
    output = tmp_path / "out"
    result = _unseal(runner, sealed_export, sealing_keys, output)
    assert result.exit_code == 0, result.output
    bundle = output / "pardon-aron-atabek-20210919.zip"
    assert result.stdout.splitlines()[0] == f"{bundle}: 40 signatures"
    assert result.stderr == ""
    assert verify_bundle(bundle).valid
    receipts = json.loads(members(bundle)["manifest.json"])["receipts"]
    assert receipts == json.loads(members(sealed_export)["manifest.json"])["receipts"]
    assert receipts["tree_size"] == 40
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    rows = output / "rows.csv"
    assert stat.S_IMODE(rows.stat().st_mode) == 0o600
    table = list(csv.DictReader(io.StringIO(rows.read_text("utf-8-sig"), newline="")))
    assert [row["signature_id"] for row in table] == [f"sig-{n}" for n in range(1, 41)]
    assert (table[0]["name"], table[0]["email"]) == (KAZAKH_NAME, "signer1@example.kz")
    assert sorted(path.name for path in output.iterdir()) == [bundle.name, "rows.csv"]


def _refused(result, output: Path) -> str:
    """Check a refusal: exit 1, one line on stderr and no traceback, nothing left behind."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert list(output.iterdir()) == []
    return lines[0].removeprefix("Error: ")


@on_sqlite
def test_unseal_refuses_a_wrong_passphrase(runner, sealed_export, sealing_keys, tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    result = runner.invoke(
        args=[
            "bundles",
            "unseal",
            str(sealed_export),
            "--key",
            str(sealing_keys / "sealing.key"),
            "--output",
            f"{output}/",
            "--rows-out",
            str(output / "rows.csv"),
        ],
        input="not the passphrase\n",
    )
    assert _refused(result, output) == (
        f"{sealing_keys / 'sealing.key'}: wrong passphrase for this key file (or the file was "
        "altered)"
    )


NOT_A_KEY = {
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06",
    "random": bytes(range(256)) * 4,
    "public key": b"seal-x25519:" + base64.b64encode(bytes(32)) + b"\n",
    "json list": b"[1, 2, 3]",
    "other json": b'{"format": "something-else/1"}',
}


@on_sqlite
@pytest.mark.parametrize("content", NOT_A_KEY.values(), ids=NOT_A_KEY.keys())
def test_unseal_refuses_a_key_file_that_is_not_a_key(runner, sealed_export, tmp_path, content):
    keys, output = tmp_path / "keys", tmp_path / "out"
    keys.mkdir()
    output.mkdir()
    (keys / "sealing.key").write_bytes(content)
    message = _refused(_unseal(runner, sealed_export, keys, output), output)
    assert message.startswith(f"{keys / 'sealing.key'}: ")
    assert message.split(": ", 1)[1] in {
        "cannot be read as a key file",
        "not a sealing key file (it is damaged or something else)",
        "not a sealing key file ('something-else/1')",
    }


@on_sqlite
def test_unseal_refuses_the_key_of_another_petition(runner, sealed_export, tmp_path):
    other, output = tmp_path / "other", tmp_path / "out"
    output.mkdir()
    public_key = write_key_pair(other, PASSPHRASE, opslimit=1, memlimit=8192)
    sealed_to = verify_sealed_export(sealed_export).sealing_key
    message = _refused(_unseal(runner, sealed_export, other, output), output)
    assert message == (
        f"{SEALED_NAME}: sealed to the key {sealed_to.fingerprint}, not to this one "
        f"({public_key.fingerprint})"
    )


def _flip_sealed_byte(export: Path) -> bytes:
    """Return rows.csv with one byte of row 2's sealed box changed."""
    lines = members(export)["rows.csv"].decode("ascii").split("\n")
    fields = lines[2].split(",")
    box = bytearray(base64.b64decode(fields[4]))
    box[-5] ^= 0x01
    fields[4] = base64.b64encode(bytes(box)).decode("ascii")
    lines[2] = ",".join(fields)
    return "\n".join(lines).encode("ascii")


def _changed_leaf(export: Path) -> bytes:
    """Return rows.csv with row 2's receipt leaf changed."""
    lines = members(export)["rows.csv"].decode("ascii").split("\n")
    fields = lines[2].split(",")
    fields[5] = "0" * 64
    lines[2] = ",".join(fields)
    return "\n".join(lines).encode("ascii")


def _edited_counts(export: Path) -> bytes:
    counts = json.loads(members(export)["counts.json"])
    counts["signatures"] += 1
    counts["by_country"]["KZ"] += 1
    return json_bytes(counts)


def _copy_with(export: Path, target: Path, changes: dict[str, bytes]) -> Path:
    """Copy a ZIP with some members changed and nothing signed again."""
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in {**members(export), **changes}.items():
            archive.writestr(name, data)
    return target


def _truncated(export: Path, target: Path, key: SigningKey) -> Path:
    target.write_bytes(export.read_bytes()[: export.stat().st_size * 2 // 3])
    return target


def _garbled(export: Path, target: Path, key: SigningKey) -> Path:
    data = bytearray(export.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    target.write_bytes(bytes(data))
    return target


DAMAGES = {
    "truncated": (_truncated, "is not a readable ZIP file"),
    "garbled": (_garbled, "rows.csv is damaged (its ZIP checksum fails)"),
    "row altered": (
        lambda export, target, key: _copy_with(
            export, target, {"rows.csv": _flip_sealed_byte(export)}
        ),
        "rows.csv has changed: its SHA-256 differs from the one in manifest.json",
    ),
    "row altered and signed again": (
        lambda export, target, key: resign(
            export, target, key, {"rows.csv": _flip_sealed_byte(export)}
        ),
        "rows.csv row 2: signature sig-2: this key does not open it, or it was altered",
    ),
    "counts edited": (
        lambda export, target, key: _copy_with(
            export, target, {"counts.json": _edited_counts(export)}
        ),
        "counts.json has changed: its SHA-256 differs from the one in manifest.json",
    ),
    "counts edited and signed again": (
        lambda export, target, key: resign(
            export, target, key, {"counts.json": _edited_counts(export)}, {"tree_size": 41}
        ),
        "rows.csv disagrees with counts.json: 40 rows, but the summary counts 41 signatures; "
        "the counts by country differ from the rows",
    ),
}


@on_sqlite
@pytest.mark.parametrize(("damage", "reason"), DAMAGES.values(), ids=DAMAGES.keys())
def test_unseal_refuses_a_damaged_or_altered_export(
    runner, sealed_export, sealing_keys, server_key, tmp_path, damage, reason
):
    source, output = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    output.mkdir()
    damaged = damage(sealed_export, source / SEALED_NAME, server_key)
    message = _refused(_unseal(runner, damaged, sealing_keys, output), output)
    assert message == f"{SEALED_NAME}: {reason}"


@on_sqlite
def test_unseal_refuses_a_leaf_changed_and_signed_again(
    runner, sealed_export, sealing_keys, server_key, tmp_path
):
    source, output = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    output.mkdir()
    changed = resign(
        sealed_export, source / SEALED_NAME, server_key, {"rows.csv": _changed_leaf(sealed_export)}
    )
    published = json.loads(members(sealed_export)["manifest.json"])["receipts"]["root"]
    message = _refused(_unseal(runner, changed, sealing_keys, output), output)
    assert message.startswith(f"{SEALED_NAME}: rows.csv's leaves make a tree of 40 with the root ")
    assert message.endswith(f"not the manifest's receipts' tree of 40 with the root {published}")


@on_sqlite
def test_unseal_refuses_an_export_signed_by_another_server(
    runner, sealed_export, sealing_keys, server_key, tmp_path
):
    output = tmp_path / "out"
    output.mkdir()
    actual = server_key.certificate.fingerprint(hashes.SHA256()).hex()
    result = _unseal(
        runner, sealed_export, sealing_keys, output, "--server-certificate-sha256", "ab" * 32
    )
    assert _refused(result, output) == (
        f"{SEALED_NAME}: signed by another certificate than the one expected "
        f"(its SHA-256 is {actual}, not {'ab' * 32})"
    )
    pinned = _unseal(
        runner, sealed_export, sealing_keys, output, "--server-certificate-sha256", actual
    )
    assert pinned.exit_code == 0, pinned.output


def test_a_refused_unseal_prints_one_line_from_the_real_command_line(
    sealed_export, sealing_keys, tmp_path
):
    output = tmp_path / "out"
    output.mkdir()
    result = _flask(
        "bundles",
        "unseal",
        str(sealed_export),
        "--key",
        str(sealing_keys / "sealing.key"),
        "--passphrase-file",
        str(_passphrase_file(tmp_path, "not the passphrase")),
        "--output",
        f"{output}/",
        DATABASE_URL=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {sealing_keys / 'sealing.key'}: wrong passphrase for this key file (or the file "
        "was altered)\n"
    )
    assert list(output.iterdir()) == []


@on_sqlite
def test_the_development_base_url_notice_waits_for_the_first_request(
    db, sqlite_url, tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="petitions")
    application = make_test_app(sqlite_url, str(tmp_path), BASE_URL=None)
    assert "BASE_URL is not set" not in caplog.text
    client = application.test_client()
    for _ in range(2):
        assert client.get("/healthz").status_code == 200
        assert caplog.text.count("BASE_URL is not set") == 1
    with application.app_context():
        extensions_db.engine.dispose()
