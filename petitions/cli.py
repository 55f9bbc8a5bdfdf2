"""Command line: `flask --app wsgi petitions ...` and friends.

Every command, Flask-Migrate's `db` commands included, turns an unreachable or misconfigured
database into one clear line on stderr and exit status 1 instead of a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from petitions import workers
from petitions.delivery.bundle import BundleError
from petitions.delivery.keys import SigningKeyError
from petitions.delivery.verify import verify_bundle
from petitions.extensions import db
from petitions.files import private_directory
from petitions.i18n import format_in_zone, zone_name
from petitions.models import InvalidTransition, PetitionState, utcnow
from petitions.sealing import SealingError
from petitions.services import accounts, export, keys, lifecycle, mail, queries, retention
from petitions.services.demo import SEALED_DEMO_SLUG, load_demo, load_sealed_demo

petitions_cli = AppGroup("petitions", help="Create, list, close and export petitions.")

_GUARDED = "_petitions_database_guard"


def _database_failure(error: Exception) -> click.ClickException:
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    return click.ClickException(f"cannot use the database: {reason}")


def _guard(callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except (OperationalError, InterfaceError) as error:
            raise _database_failure(error) from None
        except DBAPIError as error:
            if isinstance(error.orig, OperationalError | InterfaceError):
                raise _database_failure(error) from None
            raise

    setattr(guarded, _GUARDED, True)
    return guarded


def guard_database_errors(command: click.Command) -> None:
    """Wrap a command and all its subcommands so database outages end in a clear message."""
    if command.callback is not None and not getattr(command.callback, _GUARDED, False):
        command.callback = _guard(command.callback)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            guard_database_errors(sub)


def read_passphrase(passphrase_file: Path | None, *, new: bool) -> str:
    """Read a passphrase: the first line of a file, or asked at the prompt (twice if new)."""
    if passphrase_file is None:
        return click.prompt(
            "Passphrase for the sealing key", hide_input=True, confirmation_prompt=new
        )
    try:
        lines = passphrase_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise click.ClickException(
            f"{passphrase_file}: cannot read a passphrase ({error})"
        ) from None
    if not lines or not lines[0]:
        raise click.ClickException(f"{passphrase_file}: the first line is empty")
    return lines[0]


@petitions_cli.command("demo")
@click.option(
    "--sealed",
    "sealed_directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also open a sealed demo appeal, writing its key pair (sealing.pub, sealing.key) here.",
)
@click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The sealed demo key's passphrase (first line); asked at the prompt otherwise.",
)
def demo_command(sealed_directory: Path | None, passphrase_file: Path | None) -> None:
    """Create the demo organiser and the open demo appeal (safe to run again)."""
    result = load_demo(utcnow())
    db.session.commit()
    if result.new_password:
        click.echo(f"Demo organiser: {result.organiser.email}")
        click.echo(f"Password (shown once, write it down): {result.new_password}")
    else:
        click.echo(f"Demo organiser {result.organiser.email} already exists.")
    petition = result.petition
    verb = "Opened" if result.created_petition else "Already there:"
    closes = format_in_zone(petition.closes_at, petition.timezone)
    zone = f"{zone_name(petition.timezone)} time, {petition.timezone}"
    click.echo(f"{verb} /petitions/{petition.slug} ({petition.state}, closes {closes}, {zone})")
    if sealed_directory is not None:
        _sealed_demo(sealed_directory, passphrase_file)


def _sealed_demo(directory: Path, passphrase_file: Path | None) -> None:
    existing = queries.petition_by_slug(SEALED_DEMO_SLUG)
    passphrase = "" if existing is not None else read_passphrase(passphrase_file, new=True)
    try:
        sealed = load_sealed_demo(utcnow(), directory, passphrase)
    except (SealingError, lifecycle.PetitionError) as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    if sealed.key_directory is None:
        click.echo(f"Already there: /petitions/{SEALED_DEMO_SLUG}, sealed to {sealed.fingerprint}")
        return
    click.echo(f"Opened /petitions/{SEALED_DEMO_SLUG}, sealed to {sealed.fingerprint}")
    click.echo(
        f"Its key pair is in {directory}: sealing.key opens the signatures offline with "
        "`flask bundles unseal`. A real organiser makes the pair on their own machine "
        "(`flask keys sealing-new`) and gives the server only sealing.pub."
    )


@petitions_cli.command("list")
def list_command() -> None:
    """List every petition with its state, window and confirmed count."""
    petitions = queries.all_petitions()
    counts = queries.confirmed_counts([petition.id for petition in petitions])
    now = utcnow()
    if not petitions:
        click.echo("No petitions yet.")
    for petition in petitions:
        click.echo(
            f"{petition.slug}\t{petition.effective_state(now)}\t"
            f"{petition.opens_at:%Y-%m-%d %H:%M}Z..{petition.closes_at:%Y-%m-%d %H:%M}Z\t"
            f"{counts[petition.id]} confirmed\t{petition.title}"
        )


@petitions_cli.command("close")
@click.argument("slug")
@click.option("--reason", default="", help="Why collection ends early (shown to organisers).")
def close_command(slug: str, reason: str) -> None:
    """Close an open petition now."""
    petition = queries.petition_by_slug(slug)
    if petition is None:
        raise click.ClickException(f"no petition with the slug {slug!r}")
    try:
        lifecycle.close_early(petition, None, utcnow(), reason)
    except lifecycle.PetitionError as error:
        # A refused transition keeps its English wording here, for logs and scripts that read it.
        reason = error.__cause__ if isinstance(error.__cause__, InvalidTransition) else error
        raise click.ClickException(f"{slug}: {reason}") from None
    db.session.commit()
    click.echo(f"closed {slug} at {petition.closed_at:%Y-%m-%d %H:%M}Z")


def _read_key_line(path: Path) -> str:
    """Read a public key file: a line of text, refused clearly if it is something else."""
    try:
        data = path.read_bytes()[:4097]
    except OSError as error:
        raise click.ClickException(f"{path}: {error.strerror}") from None
    if len(data) > 4096:
        raise click.ClickException(f"{path}: too long for a public key (one line is expected)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{path}: not text; give the sealing.pub file") from None


@petitions_cli.command("seal")
@click.argument("slug")
@click.option(
    "--public-key",
    "public_key",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The sealing.pub made by `flask keys sealing-new` on the organiser's own machine.",
)
def seal_command(slug: str, public_key: Path) -> None:
    """Seal a petition to its organiser's public key, before its first signature."""
    petition = queries.petition_by_slug(slug)
    if petition is None:
        raise click.ClickException(f"no petition with the slug {slug!r}")
    line = _read_key_line(public_key)
    try:
        key = lifecycle.seal(petition, line, None)
    except lifecycle.PetitionError as error:
        raise click.ClickException(f"{slug}: {error}") from None
    db.session.commit()
    click.echo(f"sealed {slug} to the key {key.fingerprint}")
    click.echo("Signers' names, emails, cities and comments are now sealed to that key.")


@petitions_cli.command("export")
@click.argument("slug")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=True),
    help="The .zip to write, or a directory (one that exists, or any path ending in /) for the "
    "default <slug>-<YYYYMMDD>.zip.",
)
def export_command(slug: str, output: str) -> None:
    """Write the signed bundle of a petition's confirmed signatures (interim while open)."""
    target = Path(output)
    if output.endswith(("/", os.sep)):
        # A directory is meant: Path() forgets the slash, and the bundle would become a file of
        # that name.
        private_directory(target)
    petition = queries.petition_by_slug(slug)
    if petition is None or petition.state == PetitionState.DRAFT:
        raise click.ClickException(f"no published petition with the slug {slug!r}")
    now = utcnow()
    kind = export.kind_of(petition, now)
    with _progress_bar() as progress:
        try:
            result = export.build(export.ExportRequest(petition, target, kind, now), progress)
        except (BundleError, SigningKeyError, OSError) as error:
            raise click.ClickException(f"export failed: {error}") from None
    export.record_export(petition, result, kind, None, utcnow())
    db.session.commit()
    click.echo(f"{result.path}: {kind} export, {result.signature_count} signatures")
    click.echo(f"SHA-256 {result.sha256}")
    if petition.is_sealed:
        click.echo(
            "This petition is sealed: the export opens only on the organiser's machine, with "
            "`flask bundles unseal FILE --key sealing.key --output DIR`."
        )


@contextlib.contextmanager
def _progress_bar():
    """Yield a progress callback: a bar on a terminal, nothing when output is redirected."""
    if not sys.stdout.isatty():
        yield None
        return
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = click.progressbar(length=max(total, 1), label="signatures")
            state["bar"].__enter__()
        state["bar"].update(done - state.get("done", 0))
        state["done"] = done

    try:
        yield update
    finally:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)


@petitions_cli.command("close-expired")
def close_expired_command() -> None:
    """Record CLOSED for every open petition whose window has ended (cron-friendly)."""
    closed = workers.close_expired(utcnow())
    for slug in closed:
        click.echo(f"closed {slug}")
    click.echo(f"{len(closed)} petition(s) closed.")


mail_cli = AppGroup("mail", help="Send what waits in the outbox.")


@mail_cli.command("send")
@click.option("--batch", default=50, show_default=True, help="Messages per SMTP connection.")
def mail_send_command(batch: int) -> None:
    """Deliver what waits in the outbox, once."""
    report = workers.send_mail(current_app.config["SETTINGS"], batch)
    waiting = mail.waiting_count()
    click.echo(f"sent {report.sent}, failed {report.failed}, waiting {waiting}")
    if report.failed:
        raise SystemExit(1)


@mail_cli.command("worker")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between rounds.")
@click.option("--batch", default=50, show_default=True, help="Messages per SMTP connection.")
@click.option("--rounds", default=0, help="Stop after this many rounds (0: run until stopped).")
def mail_worker_command(interval: float, batch: int, rounds: int) -> None:
    """Send mail, close expired petitions and purge in a loop until stopped (SIGTERM or Ctrl+C)."""
    settings = current_app.config["SETTINGS"]
    where = settings.mail_server or "the log (MAIL_SERVER is not set)"
    click.echo(f"mail worker: sending to {where} every {interval:g} s")
    workers.run(
        lambda: _print_mail_round(workers.mail_round(settings, batch)),
        interval=interval,
        rounds=rounds,
        stop=workers.stop_on_signals(),
        on_outage=_print_outage,
    )


def _print_mail_round(done: workers.MailRound) -> None:
    for slug in done.closed:
        click.echo(f"closed {slug}")
    for report in done.purged:
        click.echo(_purge_line(report, dry_run=False))
    if done.sent.sent or done.sent.failed:
        click.echo(f"sent {done.sent.sent}, failed {done.sent.failed}")


def _print_outage(error: Exception) -> None:
    click.echo(f"database unavailable, will retry: {type(error).__name__}", err=True)


signatures_cli = AppGroup("signatures", help="Retention of signers' personal data.")


def _purge_line(report: retention.PurgeReport, dry_run: bool) -> str:
    verb = "would purge" if dry_run else "purged"
    return f"{verb} {report.slug}: {report.signatures} signature(s), {report.emails} email(s)"


def _check_purgeable(slug: str, wait: timedelta) -> None:
    petition = queries.petition_by_slug(slug)
    if petition is None:
        raise click.ClickException(f"no petition with the slug {slug!r}")
    due = retention.purge_due_at(petition, wait)
    if due is None:
        raise click.ClickException(f"{slug} is {petition.state}: only ended petitions are purged")
    if petition.purged_at is None and due > utcnow():
        raise click.ClickException(f"{slug} is not due for the purge until {due:%Y-%m-%d %H:%M}Z")


@signatures_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Say what would be purged, change nothing.")
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    default=None,
    help="Days after delivery (or closing) to keep personal data [default: RETENTION_DAYS].",
)
@click.option("--petition", "slug", default=None, help="Purge only this petition, if it is due.")
def signatures_purge_command(dry_run: bool, days: int | None, slug: str | None) -> None:
    """Remove signers' emails, hashes and names from petitions ended RETENTION_DAYS ago."""
    wait = timedelta(days=days or current_app.config["SETTINGS"].retention_days)
    if slug is not None:
        _check_purgeable(slug, wait)
    reports = workers.purge_due(wait, dry_run=dry_run, only=slug, actor="cli")
    for report in reports:
        click.echo(_purge_line(report, dry_run))
    total = sum(report.signatures for report in reports)
    verb = "would be purged" if dry_run else "purged"
    click.echo(
        f"{len(reports)} petition(s), {total} signature(s) {verb} "
        f"(kept for {wait.days} days after delivery or closing)."
    )


bundles_cli = AppGroup("bundles", help="Check exported bundles.")


@bundles_cli.command("verify")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def bundles_verify_command(bundle: Path) -> None:
    """Check every hash and both signatures of a bundle; exit 1 with the reasons if any fails."""
    report = verify_bundle(bundle)
    click.echo(str(report))
    if not report.valid:
        raise SystemExit(1)


exports_cli = AppGroup("exports", help="Build the bundles organisers ask for in the browser.")


@exports_cli.command("worker")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between looks.")
@click.option("--rounds", default=0, help="Stop after this many rounds (0: run until stopped).")
def exports_worker_command(interval: float, rounds: int) -> None:
    """Build queued exports, one at a time, until stopped (SIGTERM or Ctrl+C)."""
    workers.run(
        lambda: _print_export_round(workers.export_round()),
        interval=interval,
        rounds=rounds,
        stop=workers.stop_on_signals(),
        on_outage=_print_outage,
    )


def _print_export_round(done: workers.ExportRound | None) -> None:
    if done is None:
        return
    click.echo(f"exporting {done.slug} ({done.kind})")
    click.echo(f"export {done.delivery_id}: {done.status} {done.error or ''}".rstrip())


organisers_cli = AppGroup("organisers", help="Manage organiser accounts.")


@organisers_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="The organiser's name, as shown in the audit log.")
@click.option(
    "--password-file",
    type=click.File("r", encoding="utf-8"),
    help="Read the password from the first line of this file instead of a prompt.",
)
def organisers_create_command(email: str, name: str, password_file) -> None:
    """Create an organiser account (the password is asked for, or read from a file)."""
    if password_file is not None:
        password = password_file.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        organiser = accounts.create_organiser(email, name, password)
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"created organiser {organiser.email}")


@organisers_cli.command("set-password")
@click.argument("email")
@click.option(
    "--password-file",
    type=click.File("r", encoding="utf-8"),
    help="Read the password from the first line of this file instead of a prompt.",
)
def organisers_set_password_command(email: str, password_file) -> None:
    """Give an organiser a new password, ending their sessions (a forgotten demo password too)."""
    organiser = accounts.find_organiser(email)
    if organiser is None:
        raise click.ClickException(f"no organiser with the email {email.strip().lower()}")
    if password_file is not None:
        password = password_file.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        accounts.set_password(organiser, password)
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"new password set for {organiser.email}")


keys_cli = AppGroup("keys", help="Manage the keys that protect stored personal data.")


@keys_cli.command("reencrypt")
@click.option("--batch", default=1000, show_default=True, help="Rows per transaction.")
def keys_reencrypt_command(batch: int) -> None:
    """Re-encrypt every stored name, email, city, comment and queued email with the first key."""
    for model in keys.ENCRYPTED_MODELS:
        last_id, rows = 0, 0
        while (done := keys.reencrypt_batch(model, last_id, batch)) is not None:
            db.session.commit()
            rows += done[0]
            last_id = done[1]
        click.echo(f"{model.__tablename__}: {rows} row(s) re-encrypted with the current key")


def init_app(app: Flask) -> None:
    """Register the command groups and guard them all."""
    app.cli.add_command(petitions_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(organisers_cli)
    app.cli.add_command(bundles_cli)
    app.cli.add_command(exports_cli)
    app.cli.add_command(signatures_cli)
    guard_database_errors(app.cli)
