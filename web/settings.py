"""Screening thresholds (floods, campaigns, blank calls) read and changed at run time by admins: page and API."""
import logging

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from ivr.store import current_db, settings
from ivr.store.models import aware
from web import guard, present

log = logging.getLogger(__name__)
bp = Blueprint("settings", __name__)


def current(db, config):
    """Every tunable threshold: value in force, where it comes from, its limits and meaning."""
    stored = {row.key: row for row in settings.all_settings(db)}
    found = {}
    for key, (kind, low, high, what) in settings.LIMITS.items():
        row = stored.get(key)
        found[key] = {"value": kind(row.value if row else config[key]), "environment": config[key],
                      "source": "set" if row else "environment", "updated_by": row.updated_by if row else None,
                      "updated_at": present.iso(aware(row.updated_at)) if row else None,
                      "type": kind.__name__, "min": low, "max": high, "meaning": what}
    return found


def apply(db, changes, by, operator_id=None):
    """Check every change first, then store them all (audited); a None value goes back to the environment's.
    Returns the list of errors (nothing is stored when there is one)."""
    if not isinstance(changes, dict) or not changes:
        return ['send a JSON object of settings, e.g. {"SCREEN_FLOOD_CALLERS": 8}; null resets one']
    checked, errors = {}, []
    for key, value in changes.items():
        try:
            checked[key] = None if value is None else settings.check(key, value)
        except ValueError as error:
            errors.append(str(error))
    if errors:
        return errors
    for key, value in checked.items():
        if value is None:
            settings.clear(db, key, by, operator_id)
        else:
            settings.put(db, key, float(value), by, operator_id)
    log.info("%s changed screening settings: %s", by, checked)
    return []


@bp.get("/settings")
@guard.admin_required
def page():
    """The thresholds in force, with a form to change them."""
    return render_template("settings.html", rows=current(current_db(), current_app.config),
                           ttl=current_app.config["SCREEN_SETTINGS_TTL"])


@bp.post("/settings")
@guard.admin_required
def change():
    """Store the values the admin changed (blank fields and unchanged values are left alone; Reset drops one)."""
    rows = current(current_db(), current_app.config)
    if request.form.get("reset") in rows:
        changes = {request.form["reset"]: None}
    else:
        changes = {key: request.form[key].strip() for key in rows
                   if request.form.get(key, "").strip() and request.form[key].strip() != f"{rows[key]['value']:g}"}
    if not changes:
        flash("Nothing changed.")
        return redirect(url_for(".page"))
    errors = apply(current_db(), changes, guard.actor(), guard.g.operator.id)
    for error in errors:
        flash(f"Not saved: {error}.", "error")
    if not errors:
        flash(f"Saved: {', '.join(changes)}. Every process applies it within "
              f"{current_app.config['SCREEN_SETTINGS_TTL']:g} s.")
    return redirect(url_for(".page"))
