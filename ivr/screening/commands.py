"""Screening commands: `flask --app ivr spam|block|callbacks|floods ...` (changes are audited like the control room's)."""
import click
from flask import current_app

from ivr.screening.numbers import normalise_number
from ivr.store import actions
from ivr.store import spam as spam_store
from ivr.store import callbacks as callback_store
from ivr.store import floods as flood_store
from ivr.store import holds
from ivr.store import settings as settings_store
from ivr.store.callbacks import OUTCOMES
from ivr.store.floods import STATUSES
from ivr.store.models import aware, utcnow
from ivr.store.caller_facts import PREFIX_MARK
from ivr.store import current_db
from ivr.store.schema import command_group

spam = command_group("spam", help="Manage the spam list (numbers whose calls are rejected unanswered).")
block = command_group("block", help="Blank-call policy: numbers on the watch-list or temporarily blocked.")
callbacks = command_group("callbacks", help="The callback desk: dropped and blank calls to ring back.")
floods = command_group("floods", help="Call-flood alerts: new -> investigating -> closed.")



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
@click.option("--hours", type=click.IntRange(1, 24 * 365), help="List it for this many hours only (default: until removed).")
def spam_add(number, reason, added_by, hours):
    """Add NUMBER (any common format; stored as E.164) or a range like +9114055* to the spam list."""
    number = _number(number)
    actions.add_spam(current_db(), number, reason.strip()[:500], added_by[:64], source="cli", hours=hours)
    click.echo(f"added {number}: {reason}")


@spam.command("remove")
@click.argument("number")
@click.option("--by", "removed_by", default="cli", show_default=True, help="Who removed it (for the audit log).")
def spam_remove(number, removed_by):
    """Remove NUMBER from the spam list."""
    number = _number(number)
    if not actions.remove_spam(current_db(), number, removed_by[:64]):
        raise click.ClickException(f"{number} is not on the spam list")
    click.echo(f"removed {number}")


@spam.command("list")
def spam_list():
    """List the spam list, oldest first."""
    for entry in spam_store.all_entries(current_db()):
        click.echo(f"{entry.number}\t{entry.created_at:%Y-%m-%d %H:%M}\t{entry.added_by}\t{entry.reason}")


@block.command("list")
def block_list():
    """List the holds in force: blocks, then the watch-list."""
    for hold in holds.active_holds(current_db(), utcnow()):
        click.echo(f"{hold.kind}\t{hold.number}\tuntil {aware(hold.expires_at):%Y-%m-%d %H:%M} UTC\t{hold.reason}")


@block.command("lift")
@click.argument("number")
@click.option("--by", default="cli", show_default=True, help="Who lifted it (kept with the hold).")
def block_lift(number, by):
    """Lift NUMBER's block and watch-list entry (and clear today's blank count)."""
    parsed = normalise_number(number, current_app.config["IVR_DEFAULT_REGION"])
    if parsed is None:
        raise click.BadParameter(f"{number!r} is not a phone number", param_hint="NUMBER")
    lifted = actions.lift_holds(current_db(), parsed, by[:64])
    if not lifted:
        raise click.ClickException(f"{parsed} has no block or watch-list entry in force")
    click.echo(f"lifted {lifted} hold(s) on {parsed}")


@callbacks.command("list")
@click.option("--all", "include_closed", is_flag=True, help="Include finished and given-up callbacks.")
def callbacks_list(include_closed):
    """List callbacks to work, oldest first."""
    for entry in callback_store.pending(current_db(), include_closed):
        last = entry.outcomes[-1]["outcome"] if entry.outcomes else "-"
        click.echo(f"{entry.id}\t{entry.number}\t{entry.why}\t{entry.status}\t"
                   f"attempts {entry.attempts}\tlast {last}\t{aware(entry.created_at):%Y-%m-%d %H:%M}")


@callbacks.command("attempt")
@click.argument("callback_id", type=int)
@click.option("--outcome", required=True, type=click.Choice(OUTCOMES))
@click.option("--note", default="", help="What was said or found.")
@click.option("--by", default="cli", show_default=True)
def callbacks_attempt(callback_id, outcome, note, by):
    """Record one attempt to ring back callback ID."""
    entry, recorded = callback_store.record_attempt(current_db(), callback_id, outcome, note, by[:64],
                                                    current_app.config["SCREEN_CALLBACK_ATTEMPTS"])
    if entry is None:
        raise click.ClickException(f"no callback {callback_id}")
    if not recorded:
        raise click.ClickException(f"callback {callback_id} is already {entry.status}")
    click.echo(f"callback {entry.id}: attempt {entry.attempts} {outcome}; now {entry.status}")


@floods.command("list")
@click.option("--all", "include_closed", is_flag=True, help="Include closed alerts.")
def floods_list(include_closed):
    """List flood alerts, newest first."""
    for alert in flood_store.alerts(current_db(), include_closed):
        click.echo(f"{alert.id}\t{alert.line}\t{alert.status}\t{alert.callers} callers in {alert.window_seconds:g} s\t"
                   f"{aware(alert.created_at):%Y-%m-%d %H:%M:%S}")


@floods.command("move")
@click.argument("alert_id", type=int)
@click.argument("status", type=click.Choice(sorted(STATUSES)))
@click.option("--note", default="", help="What was found or done.")
@click.option("--by", default="cli", show_default=True)
def floods_move(alert_id, status, note, by):
    """Move flood alert ALERT_ID to STATUS with a note."""
    alert, error = flood_store.move(current_db(), alert_id, status, note, by[:64])
    if error:
        raise click.ClickException(error)
    click.echo(f"flood alert {alert.id}: {alert.status}")


@floods.command("set")
@click.option("--callers", type=click.IntRange(2, 10_000), help="Distinct callers that make a flood on a new line (the floor).")
@click.option("--seconds", type=click.FloatRange(0.5, 3600), help="The sliding window, in seconds.")
@click.option("--cooldown", type=click.FloatRange(0, 86_400), help="Seconds between alerts for one line.")
@click.option("--exit-callers", type=click.IntRange(1, 10_000),
              help="While the alert is open, flood mode lasts down to this many callers.")
@click.option("--factor", type=click.FloatRange(1.0, 100), help="A flood is this many times the line's normal ...")
@click.option("--sigmas", type=click.FloatRange(1.0, 50), help="... plus this many standard deviations of chance.")
@click.option("--campaign-numbers", type=click.IntRange(2, 10_000),
              help="Numbers playing one recording that make a campaign.")
@click.option("--range-numbers", type=click.IntRange(2, 10_000), help="Numbers of one range that flag a range.")
@click.option("--by", default="cli", show_default=True)
def floods_set(by, **values):
    """Change the flood thresholds now, for every process (within SCREEN_SETTINGS_TTL seconds)."""
    changes = {f"SCREEN_FLOOD_{name.upper()}" if name not in ("campaign_numbers", "range_numbers")
               else f"SCREEN_{name.upper()}": value for name, value in values.items() if value is not None}
    if not changes:
        raise click.UsageError("give at least one of --callers, --seconds, --cooldown, --exit-callers, --factor, "
                               "--sigmas, --campaign-numbers, --range-numbers")
    for key, value in changes.items():
        settings_store.put(current_db(), key, float(value), by)
    floods_settings.callback(reset=False)


@floods.command("settings")
@click.option("--reset", is_flag=True, help="Drop the run-time values: back to the environment's.")
def floods_settings(reset):
    """Show the flood thresholds in force (run-time values marked with who set them)."""
    stored = {setting.key: setting for setting in settings_store.all_settings(current_db())}
    for key in settings_store.TUNABLE:
        if reset and key in stored:
            settings_store.clear(current_db(), key)
            del stored[key]
        setting = stored.get(key)
        value = setting.value if setting else current_app.config[key]
        source = f"set by {setting.updated_by} at {aware(setting.updated_at):%Y-%m-%d %H:%M} UTC" if setting else "environment"
        click.echo(f"{key}\t{settings_store.TUNABLE[key](value):g}\t{source}")


def init_app(app):
    for group in (spam, block, callbacks, floods):
        app.cli.add_command(group)
