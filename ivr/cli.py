"""Admin commands: `flask --app ivr spam add|remove|list` (changes are audited like the control room's)."""
import click
from flask import current_app
from flask.cli import AppGroup

from ivr import screening_cli
from ivr.screening import normalise_number
from ivr.store import actions, spam as spam_store
from ivr.store.signals import PREFIX_MARK

spam = AppGroup("spam", help="Manage the spam list (numbers whose calls are rejected unanswered).")


def _number(raw):
    if raw.strip().endswith(PREFIX_MARK):      # a range: every number starting with these digits
        digits = raw.strip()[:-1].replace(" ", "")
        if digits.startswith("+") and digits[1:].isdigit() and 2 <= len(digits) <= 16:
            return digits + PREFIX_MARK
        raise click.BadParameter(f"{raw!r} is not a +prefix* range", param_hint="NUMBER")
    number = normalise_number(raw, current_app.config["IVR_DEFAULT_REGION"])
    if number is None:
        raise click.BadParameter(f"{raw!r} is not a phone number", param_hint="NUMBER")
    return number


@spam.command("add")
@click.argument("number")
@click.option("--reason", required=True, help="Why the number is listed (shown to operators).")
@click.option("--by", "added_by", default="cli", show_default=True, help="Who listed it.")
def spam_add(number, reason, added_by):
    """Add NUMBER (any common format; stored as E.164) or a range like +9114055* to the spam list."""
    number = _number(number)
    actions.add_spam(current_app.extensions["ivr.db"], number, reason.strip()[:500], added_by[:64], source="cli")
    click.echo(f"added {number}: {reason}")


@spam.command("remove")
@click.argument("number")
@click.option("--by", "removed_by", default="cli", show_default=True, help="Who removed it (for the audit log).")
def spam_remove(number, removed_by):
    """Remove NUMBER from the spam list."""
    number = _number(number)
    if not actions.remove_spam(current_app.extensions["ivr.db"], number, removed_by[:64]):
        raise click.ClickException(f"{number} is not on the spam list")
    click.echo(f"removed {number}")


@spam.command("list")
def spam_list():
    """List the spam list, oldest first."""
    for entry in spam_store.all_entries(current_app.extensions["ivr.db"]):
        click.echo(f"{entry.number}\t{entry.created_at:%Y-%m-%d %H:%M}\t{entry.added_by}\t{entry.reason}")


def init_app(app):
    app.cli.add_command(spam)
    screening_cli.init_app(app)
