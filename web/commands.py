"""`flask --app ivr operator create|disable`: control-room accounts. There is no default password."""
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from ivr.store import operators

operator = AppGroup("operator", help="Manage control-room operators and admins.")


def _password(from_stdin):
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@operator.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(operators.ROLES), default="operator", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def create(name, role, password_stdin):
    """Create operator NAME (or reset its password and role); the password is prompted for."""
    name = name.strip()
    if not name or len(name) > 64:
        raise click.BadParameter("1 to 64 characters", param_hint="NAME")
    try:
        operators.create(current_app.extensions["ivr.db"], name, _password(password_stdin), role)
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
