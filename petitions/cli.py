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
from petitions.delivery.keys import (
    SigningKey,
    SigningKeyError,
    ensure_development_key,
    load_signing_key,
)
from petitions.delivery.sealed import SealedExportError, unseal
from petitions.delivery.verify import verify_bundle
from petitions.extensions import db
from petitions.files import private_directory
from petitions.i18n import format_in_zone, zone_name
from petitions.models import DeliveryKind, InvalidTransition, PetitionState, utcnow
from petitions.notifications import external_url
from petitions.receipts import ReceiptError, load_receipt, verdict
from petitions.sealing import (
    KDF_MEMLIMIT,
    KDF_OPSLIMIT,
    SealingError,
    SealingIdentity,
    write_key_pair,
)
from petitions.services import (
    accounts,
    applicants,
    export,
    keys,
    lifecycle,
    mail,
    moderation,
    news,
    paper,
    queries,
    retention,
    two_factor,
)
from petitions.services.demo import SEALED_DEMO_SLUG, load_demo, load_sealed_demo
from petitions.services.paper import PaperError, enter_pass, read_csv, write_sheet_pdf

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


def _secret_file_option(name: str, what: str, *, prompt: bool = True) -> Callable[..., Any]:
    """Return the option of a file whose first line is a password or passphrase."""
    instead = " instead of a prompt" if prompt else ""
    return click.option(
        name,
        type=click.File("r", encoding="utf-8"),
        help=f"Read {what} from the first line of this file{instead}.",
    )


def _secret(file: Any, prompt: str, *, confirm: bool) -> str:
    """Return the first line of `file`, or what is typed at a hidden prompt (twice to confirm)."""
    if file is not None:
        return file.readline().rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


def _petition_named(slug: str):
    """Return the petition with this slug, or stop the command with a clear error."""
    petition = queries.petition_by_slug(slug)
    if petition is None:
        raise click.ClickException(f"no petition with the slug {slug!r}")
    return petition


@petitions_cli.command("demo")
@click.option(
    "--sealed",
    "sealed_directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also open a sealed demo appeal, writing its key pair (sealing.pub, sealing.key) here.",
)
@_secret_file_option("--passphrase-file", "the sealed demo key's passphrase")
def demo_command(sealed_directory: Path | None, passphrase_file: Any) -> None:
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


def _sealed_demo(directory: Path, passphrase_file: Any) -> None:
    existing = queries.petition_by_slug(SEALED_DEMO_SLUG)
    prompt = "Passphrase for the sealed demo's key"
    passphrase = "" if existing else _secret(passphrase_file, prompt, confirm=True)
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
    petition = _petition_named(slug)
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
    petition = _petition_named(slug)
    line = _read_key_line(public_key)
    try:
        key = lifecycle.seal(petition, line, None)
    except lifecycle.PetitionError as error:
        raise click.ClickException(f"{slug}: {error}") from None
    db.session.commit()
    click.echo(f"sealed {slug} to the key {key.fingerprint}")
    click.echo("Signers' names, emails, cities and comments are now sealed to that key.")


@petitions_cli.command("paper-sheet")
@click.argument("slug")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The PDF to write.",
)
@click.option("--sheet", "first", default=1, show_default=True, help="The first sheet's number.")
@click.option("--count", default=1, show_default=True, help="How many sheets, numbered on.")
def paper_sheet_command(slug: str, output: Path, first: int, count: int) -> None:
    """Write printable signature sheets (A4, one a page) for a published petition."""
    petition = _petition_named(slug)
    url = external_url("public.show_petition", slug=petition.slug)
    try:
        write_sheet_pdf(petition, first, count, url, output)
    except PaperError as error:
        raise click.ClickException(f"{slug}: {error}") from None
    except OSError as error:
        raise click.ClickException(f"{output}: {error.strerror}") from None
    last = first + count - 1
    numbers = f"sheet {first}" if count == 1 else f"sheets {first} to {last}"
    click.echo(f"wrote {numbers} of {slug} to {output}")


@petitions_cli.command("paper-import")
@click.argument("slug")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--sheet",
    "number",
    type=int,
    default=None,
    help="The sheet's number; without it, the CSV names each row's sheet and check code.",
)
@click.option("--check-code", "code", default=None, help="The check code printed on the sheet.")
@click.option(
    "--scan",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A scan or photo of the sheet: only its SHA-256 is kept, for the manifest.",
)
def paper_import_command(
    slug: str, csv_file: Path, number: int | None, code: str | None, scan: Path | None
) -> None:
    """Enter one pass of a paper sheet from a CSV (line,name,city,country), or of each sheet of
    a CSV (sheet,check_code,line,name,city,country); two agreeing passes count a sheet. A bad
    line refuses the whole file."""
    petition = _petition_named(slug)
    if (number is None) != (code is None):
        raise click.UsageError("--sheet and --check-code go together")
    if scan is not None and number is None:
        raise click.UsageError("--scan is the scan of one sheet: give --sheet too")
    data = _read_bounded(csv_file, MAX_PAPER_CSV, "the CSV")
    image = _read_bounded(scan, paper.MAX_SCAN_BYTES + 1, "the scan") if scan else None
    try:
        if number is None:
            outcomes = paper.enter_passes(petition, paper.read_sheets_csv(data), None, utcnow())
            lines = [_pass_line(outcome.sheet.number, outcome) for outcome in outcomes]
        else:
            outcome = enter_pass(petition, number, code, read_csv(data), None, utcnow(), scan=image)
            lines = [_pass_line(number, outcome)]
    except PaperError as error:
        db.session.rollback()
        raise click.ClickException(f"{csv_file}: {error}") from None
    db.session.commit()
    click.echo("\n".join(lines))


#: A CSV of many sheets (a few MB for 10,000 lines) is read whole.
MAX_PAPER_CSV = 16 * 1024 * 1024


def _pass_line(number: int, outcome: paper.PassOutcome) -> str:
    if outcome.result == paper.PassResult.COUNTED:
        return f"sheet {number}: the passes agree; {outcome.counted} lines counted"
    if outcome.result == paper.PassResult.WAITING:
        return f"sheet {number}: first pass recorded; enter it once more to count it"
    return (
        f"sheet {number}: this pass differs from the earlier ones; nothing counted yet "
        "(see the differences on the dashboard, then enter the sheet again)"
    )


#: Where a command writes a bundle: `_output_path` reads it.
_bundle_output_option = click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=True),
    help="The .zip to write, or a directory (one that exists, or any path ending in /) for the "
    "default <slug>-<YYYYMMDD>.zip.",
)


@petitions_cli.command("export")
@click.argument("slug")
@_bundle_output_option
@click.option(
    "--paper-scans",
    "scans_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A folder of the sheets' scans to include, each named sheet-<number>.png (.jpg, .webp, "
    ".tif): each must be the file whose SHA-256 was recorded for its sheet.",
)
def export_command(slug: str, output: str, scans_dir: Path | None) -> None:
    """Write the signed bundle of a petition's confirmed signatures (interim while open)."""
    petition = queries.petition_by_slug(slug)
    if petition is None or petition.state == PetitionState.DRAFT:
        raise click.ClickException(f"no published petition with the slug {slug!r}")
    now = utcnow()
    kind = export.kind_of(petition, now)
    if kind == DeliveryKind.FINAL and petition.applicant is None:
        raise click.ClickException(f"{slug}: {applicants.NO_APPLICANT_CLI}")
    try:
        scans = export.scans_in(scans_dir) if scans_dir is not None else {}
    except export.ExportError as error:
        raise click.ClickException(f"--paper-scans: {error}") from None
    target = _output_path(output)
    request = export.ExportRequest(petition, target, kind, now, paper_scans=scans)
    with _progress_bar() as progress:
        try:
            result = export.build(request, progress)
        except applicants.MissingApplicant as error:
            raise click.ClickException(f"{slug}: {error}") from None
        except (BundleError, SigningKeyError, OSError, export.ExportError) as error:
            raise click.ClickException(f"export failed: {error}") from None
    try:
        delivery = export.record_export(petition, result, kind, None, utcnow())
    except export.ExportError as error:
        result.path.unlink(missing_ok=True)  # a bundle that was not recorded must not stay
        raise click.ClickException(f"export failed: {error}") from None
    db.session.commit()
    click.echo(f"{result.path}: {kind} export, {result.signature_count} signatures")
    click.echo(f"SHA-256 {result.sha256}")
    if delivery.tree_root is not None:
        size = delivery.tree_size
        tree = "1 signature" if size == 1 else f"{size} signatures"
        click.echo(f"receipts: tree of {tree}, root {delivery.tree_root}")
    if petition.is_sealed:
        click.echo(
            "This petition is sealed: the export opens only on the organiser's machine, with "
            "`flask bundles unseal FILE --key sealing.key --output DIR`."
        )


def _output_path(output: str) -> Path:
    """Return the path of `--output`, making it a private directory if it ends in a slash."""
    target = Path(output)
    if output.endswith(("/", os.sep)):
        # A directory is meant: Path() forgets the slash, and the bundle would become a file of
        # that name.
        private_directory(target)
    return target


@contextlib.contextmanager
def _progress_bar(label: str = "signatures"):
    """Yield a progress callback: a bar on a terminal, nothing when output is redirected."""
    if not sys.stdout.isatty():
        yield None
        return
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = click.progressbar(length=max(total, 1), label=label)
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


@petitions_cli.command("news-send")
@click.argument("slug")
@click.option("--update", "update_id", type=int, help="The id of the update to send.")
@click.option("--outcome", is_flag=True, help="Send the recorded outcome instead.")
def news_send_command(slug: str, update_id: int | None, outcome: bool) -> None:
    """Queue an update, or the outcome, for every subscriber of a petition (once per item)."""
    if (update_id is None) == (not outcome):
        raise click.UsageError("give either --update ID or --outcome")
    petition = _petition_named(slug)
    try:
        record = news.broadcast(petition, news.item_of(petition, update_id), None, utcnow())
    except news.NewsError as error:
        raise click.ClickException(f"{slug}: {error}") from None
    db.session.commit()
    workers.queue_news(utcnow())
    db.session.refresh(record)
    click.echo(
        f"queued {record.queued} email(s) for {slug} ({record.item}); "
        "the mail worker sends them at NEWS_RATE_LIMIT"
    )


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
    if done.news_queued:
        click.echo(f"queued {done.news_queued} news email(s)")
    if done.sent.sent or done.sent.failed or done.sent.bounced:
        click.echo(f"sent {done.sent.sent}, failed {done.sent.failed}, bounced {done.sent.bounced}")


def _print_outage(error: Exception) -> None:
    click.echo(f"database unavailable, will retry: {type(error).__name__}", err=True)


signatures_cli = AppGroup(
    "signatures", help="Moderate signatures and purge signers' personal data."
)


def _purge_line(report: retention.PurgeReport, dry_run: bool) -> str:
    verb = "would purge" if dry_run else "purged"
    return (
        f"{verb} {report.slug}: {report.signatures} signature(s), {report.emails} email(s), "
        f"{report.subscriptions} subscription(s)"
    )


def _check_purgeable(slug: str, wait: timedelta) -> None:
    petition = _petition_named(slug)
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


#: An id file larger than this is not a list of ids to moderate (the ids themselves are capped).
MAX_ID_FILE_BYTES = 64 * 1024 * 1024


def _read_bounded(path: Path, limit: int, what: str) -> bytes:
    """Read a file of at most `limit` bytes, refusing in one line one unreadable or larger."""
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as error:
        raise click.ClickException(f"{path}: {error.strerror or error}") from None
    if len(data) > limit:
        raise click.ClickException(f"{path}: too large for {what}")
    return data


def _read_id_file(path: Path) -> list[int]:
    """Read the ids of a file, refusing clearly one that is unreadable, not text or not ids."""
    data = _read_bounded(path, MAX_ID_FILE_BYTES, "a list of signature ids")
    try:
        return moderation.read_ids(data)
    except moderation.IdListError as error:
        raise click.ClickException(f"{path}: {error}") from None


@signatures_cli.command("invalidate")
@click.argument("slug")
@click.option(
    "--ids",
    "ids_file",
    type=click.Path(path_type=Path),
    help="The rows CSV of `bundles unseal --rows-out` (its signature_id column), or a text file "
    "of ids, one a line (blank lines and # comments ignored).",
)
@click.option("--reason", default="", help="Why they are invalid (recorded in the audit log).")
def signatures_invalidate_command(slug: str, ids_file: Path | None, reason: str) -> None:
    """Invalidate signatures by id, all or none: every id must be a signature of this petition."""
    petition = _petition_named(slug)
    if not reason.strip():
        raise click.ClickException("give a reason with --reason (it is recorded in the audit log)")
    if ids_file is None:
        raise click.ClickException("give the file of signature ids with --ids")
    ids = _read_id_file(ids_file)
    try:
        done = moderation.invalidate_ids(petition, None, reason, utcnow(), ids, actor_label="cli")
    except moderation.IdListError as error:
        db.session.rollback()
        raise click.ClickException(f"{slug}: {error}") from None
    db.session.commit()
    line = f"{slug}: {done.invalidated} invalidated, {done.already_invalid} already invalid"
    click.echo(
        line + (f", {done.withdrawn} withdrawn (left as they are)" if done.withdrawn else "")
    )
    click.echo(f"action {done.action_id} (undo it from the petition's dashboard)")


bundles_cli = AppGroup("bundles", help="Check exported bundles.")


@bundles_cli.command("verify")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def bundles_verify_command(bundle: Path) -> None:
    """Check every hash, the signatures and the receipts' tree of a bundle; exit 1 if any fails."""
    report = verify_bundle(bundle)
    click.echo(str(report))
    if not report.valid:
        raise SystemExit(1)


@bundles_cli.command("unseal")
@click.argument("sealed", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your private key file, sealing.key (from `keys sealing-new`).",
)
@_secret_file_option("--passphrase-file", "the key's passphrase")
@_bundle_output_option
@click.option(
    "--signing-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The PKCS#12 key that signs the bundle [default: the development key].",
)
@_secret_file_option("--signing-key-password-file", "the signing key's password", prompt=False)
@click.option(
    "--rows-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the opened rows with their signature ids to this CSV (0600), for moderation.",
)
@click.option(
    "--server-certificate-sha256",
    metavar="HEX",
    help="Refuse the export unless the server's certificate has this SHA-256.",
)
def bundles_unseal_command(
    sealed: Path,
    key_file: Path,
    passphrase_file,
    output: str,
    signing_key: Path | None,
    signing_key_password_file,
    rows_out: Path | None,
    server_certificate_sha256: str | None,
) -> None:
    """Open a sealed export with your key, offline, and build the signed bundle from it."""
    identity = _sealing_identity(key_file, passphrase_file)
    key = _unsealing_key(signing_key, signing_key_password_file)
    try:
        with _progress_bar("unsealing") as progress:
            result = unseal(
                sealed,
                identity,
                _output_path(output),
                key,
                progress=progress,
                rows_out=rows_out,
                server_certificate_sha256=server_certificate_sha256,
            )
    except (SealedExportError, BundleError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{result.path}: {result.signature_count} signatures")
    click.echo(f"SHA-256 {result.sha256}")
    if rows_out is not None:
        click.echo(f"{rows_out}: the opened rows with their signature ids (keep it private)")
    if key.development:
        click.echo(
            "Signed with a development key: the bundle shows only that its files have not "
            "changed since; sign with your organisation's key (--signing-key) to deliver it."
        )


def _sealing_identity(key_file: Path, passphrase_file) -> SealingIdentity:
    passphrase = _secret(passphrase_file, f"Passphrase of {key_file.name}", confirm=False)
    try:
        return SealingIdentity.from_key_file(key_file.read_text(encoding="utf-8"), passphrase)
    except (SealingError, OSError, UnicodeDecodeError) as error:
        reason = error if isinstance(error, SealingError) else "cannot be read as a key file"
        raise click.ClickException(f"{key_file}: {reason}") from None


def _unsealing_key(path: Path | None, password_file) -> SigningKey:
    """Load the key that signs the bundle: the one given, or the development key."""
    try:
        if path is None:
            path = ensure_development_key(current_app.config["INSTANCE_PATH"])
            return load_signing_key(path, None)
        password = password_file.readline().rstrip("\r\n") if password_file else None
        return load_signing_key(path, password)
    except (SigningKeyError, OSError) as error:
        raise click.ClickException(f"{path}: {error}") from None


receipts_cli = AppGroup("receipts", help="Check a signer's inclusion receipt, offline.")

#: A receipt is a few kilobytes; a file far larger is not one, and is not read whole.
MAX_RECEIPT_BYTES = 16 * 1024 * 1024


def _read_receipt(path: Path) -> str:
    """Read a receipt file's text, refusing in one line what cannot be a receipt."""
    data = _read_bounded(path, MAX_RECEIPT_BYTES, "a receipt")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise click.ClickException(
            f"{path}: not a receipt: the file is not text (save the receipt's .json address, "
            "not its page or a picture of it)"
        ) from None


@receipts_cli.command("verify")
@click.argument("receipt", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--root",
    metavar="HEX",
    help="Insist that an export including the signature has this root (from the manifest, "
    "the public record of deliveries or the PDF).",
)
@click.option(
    "--tree-size",
    type=click.IntRange(min=0),
    metavar="N",
    help="With --root: insist that the tree with that root has N leaves.",
)
def receipts_verify_command(receipt: Path, root: str | None, tree_size: int | None) -> None:
    """Check a receipt's proofs against its exports' roots; exit 1 with the reason if any fails."""
    try:
        judged = verdict(load_receipt(_read_receipt(receipt)), root, tree_size)
    except ReceiptError as error:
        raise click.ClickException(f"{receipt}: {error}") from None
    for line in judged.lines:
        click.echo(line)
    if not judged.ok:
        raise click.ClickException(f"{receipt}: {judged.failure}")


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
@_secret_file_option("--password-file", "the password")
def organisers_create_command(email: str, name: str, password_file) -> None:
    """Create an organiser account (the password is asked for, or read from a file)."""
    password = _secret(password_file, "Password", confirm=True)
    try:
        organiser = accounts.create_organiser(email, name, password)
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"created organiser {organiser.email}")


@organisers_cli.command("set-password")
@click.argument("email")
@_secret_file_option("--password-file", "the password")
def organisers_set_password_command(email: str, password_file) -> None:
    """Give an organiser a new password, ending their sessions (a forgotten demo password too)."""
    organiser = accounts.find_organiser(email)
    if organiser is None:
        raise click.ClickException(f"no organiser with the email {email.strip().lower()}")
    password = _secret(password_file, "New password", confirm=True)
    try:
        accounts.set_password(organiser, password)
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"new password set for {organiser.email}")


@organisers_cli.command("reset-two-factor")
@click.argument("email")
def organisers_reset_two_factor_command(email: str) -> None:
    """Remove a locked-out organiser's second factor, so that they set it up again (audited)."""
    organiser = accounts.find_organiser(email)
    if organiser is None:
        raise click.ClickException(f"no organiser with the email {email.strip().lower()}")
    was_on = two_factor.reset(organiser)
    db.session.commit()
    if was_on:
        click.echo(
            f"second factor removed for {organiser.email}: "
            "the password alone signs in until it is set up again"
        )
    else:
        click.echo(f"{organiser.email} had no second factor on; nothing to remove")


keys_cli = AppGroup("keys", help="Manage the keys that protect stored personal data.")


@keys_cli.command("sealing-new")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The directory for sealing.pub and sealing.key (made 0700 if missing).",
)
@_secret_file_option("--passphrase-file", "the passphrase")
# Argon2id's cost; lower only in tests, where the moderate limits would take seconds each.
@click.option("--kdf-opslimit", type=int, default=KDF_OPSLIMIT, hidden=True)
@click.option("--kdf-memlimit", type=int, default=KDF_MEMLIMIT, hidden=True)
def keys_sealing_new_command(
    output: Path, passphrase_file, kdf_opslimit: int, kdf_memlimit: int
) -> None:
    """Make the key pair of a sealed petition: sealing.pub for the server, sealing.key for you."""
    passphrase = _secret(passphrase_file, "Passphrase", confirm=True)
    try:
        public_key = write_key_pair(
            output, passphrase, opslimit=kdf_opslimit, memlimit=kdf_memlimit
        )
    except (SealingError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"public key: {public_key.line}")
    click.echo(f"fingerprint: {public_key.fingerprint}")
    click.echo(f"{output / 'sealing.pub'}: give this file to the petition on the server")
    click.echo(f"{output / 'sealing.key'}: keep this file, never on the server")
    click.echo(
        "Keep sealing.key and its passphrase safe, and a copy of both somewhere else offline: "
        "without them nobody can open the signatures sealed to this key, not even you."
    )


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
    app.cli.add_command(receipts_cli)
    guard_database_errors(app.cli)
