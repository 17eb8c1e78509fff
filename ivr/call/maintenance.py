"""Call upkeep commands: `flask --app ivr calls reconcile|purge` (safe to run from cron)."""
from datetime import timedelta

import click
from flask import current_app

from ivr.call import stale
from ivr.call.routing import TwilioUnreachable
from ivr.store import current_db, retention
from ivr.store.models import utcnow
from ivr.store.schema import command_group

calls = command_group("calls", help="Call upkeep: settle calls left open, delete calls past retention.")


@calls.command("reconcile")
@click.option("--older-than", "minutes", type=click.IntRange(1, 60 * 24 * 365), default=10, show_default=True,
              help="Only calls that arrived more than this many minutes ago.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True,
              help="At most this many calls per run.")
def calls_reconcile(minutes, limit):
    """Ask Twilio how calls still open ended and settle them as the status callback would have."""
    db, live = current_db(), current_app.extensions["ivr.live"]
    counts = {outcome: 0 for outcome in stale.Outcome}
    for sid in stale.stale_calls(db, minutes, limit):
        try:
            outcome, detail = stale.reconcile(db, live, sid)
        except TwilioUnreachable as error:
            raise click.ClickException(str(error)) from error
        counts[outcome] += 1
        click.echo(f"{sid}\t{outcome.value}\t{detail}")
    click.echo("reconciled " + ", ".join(f"{outcome.value} {count}" for outcome, count in counts.items()))


@calls.command("purge")
@click.option("--older-than", "days", type=int, default=None,
              help="Delete calls older than this many days [default: IVR_RETENTION_DAYS].")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--by", default="cli", show_default=True, help="Who ran it (for the audit log).")
def calls_purge(days, dry_run, by):
    """Delete old calls and their audio fingerprints; calls with a pending callback or an operator label stay."""
    days = current_app.config["IVR_RETENTION_DAYS"] if days is None else days
    if days < 1:
        raise click.BadParameter(f"{days} is less than 1 day", param_hint="--older-than")
    before = utcnow() - timedelta(days=days)
    if dry_run:
        counts = retention.count(current_db(), before)
    else:
        counts = retention.purge(current_db(), before, days, by[:64])
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {counts['calls']} calls, {counts['fingerprints']} fingerprints, "
               f"{counts['callbacks']} finished callbacks (older than {days} days)")


def init_app(app):
    app.cli.add_command(calls)
