"""`flask --app ivr operator create|disable`: control-room accounts. There is no default password."""
import sys

import click
from flask import current_app

from ivr.screening.numbers import normalise_number
from ivr.store import operators
from ivr.store.schema import command_group

operator = command_group("operator", help="Manage control-room operators and admins.")


def _password(from_stdin):
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _phone(raw):
    """An operator's phone as stored: a sip: address as given, a number in E.164, or None."""
    raw = raw.strip()
    if not raw or (raw.startswith("sip:") and 4 < len(raw) <= 128):
        return raw or None
    number = normalise_number(raw, current_app.config["IVR_DEFAULT_REGION"])
    if number is None:
        raise click.BadParameter(f"{raw[:40]!r} is not a phone number or sip: address", param_hint="--phone")
    return number


@operator.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(operators.ROLES), default="operator", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--phone", default="", help="Phone number or sip: address that callers taken from the queue ring.")
def create(name, role, password_stdin, phone):
    """Create operator NAME (or reset its password, role and phone); the password is prompted for."""
    name = name.strip()
    if not name or len(name) > 64:
        raise click.BadParameter("1 to 64 characters", param_hint="NAME")
    try:
        operators.create(current_app.extensions["ivr.db"], name, _password(password_stdin), role, _phone(phone))
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{role} {name} is ready")


@operator.command("disable")
@click.argument("name")
def disable(name):
    """Disable operator NAME; their open sessions end at their next request."""
    if not operators.deactivate(current_app.extensions["ivr.db"], name):
        raise click.ClickException(f"no operator named {name}")
    click.echo(f"{name} disabled")
