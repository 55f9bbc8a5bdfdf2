"""Command line: `flask --app wsgi petitions ...` and friends.

Every command, Flask-Migrate's `db` commands included, turns an unreachable or misconfigured
database into one clear line on stderr and exit status 1 instead of a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from petitions.extensions import db
from petitions.i18n import format_in_zone
from petitions.models import utcnow
from petitions.services import queries
from petitions.services.demo import load_demo

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


@petitions_cli.command("demo")
def demo_command() -> None:
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
    click.echo(f"{verb} /petitions/{petition.slug} ({petition.state}, closes {closes})")


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


def init_app(app: Flask) -> None:
    """Register the command groups and guard them all."""
    app.cli.add_command(petitions_cli)
    guard_database_errors(app.cli)
