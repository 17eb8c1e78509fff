"""Charts drawn on the server as SVG (no CDN, no script): calls per class per hour, and the blank/spam share.
Hours are the control room's (WEB_TIME_ZONE) on the page and UTC in the API; the page redraws them every minute."""
import math
from collections import Counter
from datetime import timedelta, timezone

from flask import Blueprint, current_app, render_template
from markupsafe import Markup, escape

from ivr.store import calllist
from ivr.store.models import aware, utcnow
from web import board

bp = Blueprint("charts", __name__)

SERIES = ("emergency", "inquiry", "complaint", "spam", "unclassified")
COLOURS = {"emergency": "#c62828", "inquiry": "#1565c0", "complaint": "#ef6c00", "spam": "#6a1b9a",
           "unclassified": "#9e9e9e"}
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 760, 260, 56, 44, 12
REFRESH_MS = 60_000


def summary(rows, hours=24, zone=timezone.utc):
    """Per-hour counts by class and the blank/spam share, from (created_at, label, decision) rows; hours start
    on the hour in ZONE (Asia/Kolkata's start at :30 UTC)."""
    now = utcnow().astimezone(zone).replace(minute=0, second=0, microsecond=0)
    starts = [now - timedelta(hours=hours - 1 - i) for i in range(hours)]
    per_hour = {start: Counter() for start in starts}
    blank = spam = 0
    for created_at, label, decision in rows:
        hour = aware(created_at).astimezone(zone).replace(minute=0, second=0, microsecond=0)
        if hour in per_hour:
            per_hour[hour][label or "unclassified"] += 1
        blank += decision == "blank"
        spam += label == "spam" or decision == "reject"
    total = len(rows)
    return {"hours": [{"hour": start.isoformat(timespec="minutes"), **{s: per_hour[start][s] for s in SERIES}}
                      for start in starts],
            "total": total, "blank": blank, "spam": spam,
            "blank_share": round(blank / total, 4) if total else 0.0,
            "spam_share": round(spam / total, 4) if total else 0.0}


def ticks(peak):
    """Gridline values from 0 to at least PEAK, in steps of 1, 2 or 5 times a power of ten (at most ~5 lines)."""
    raw = max(peak, 1) / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    step = max(1, int(step))
    return list(range(0, int(math.ceil(max(peak, 1) / step)) * step + 1, step))


def hourly_svg(stats, zone_name="UTC"):
    """Stacked bars, one per hour, with labelled axes and gridlines; every text is escaped."""
    hours = stats["hours"]
    marks = ticks(max([sum(h[s] for s in SERIES) for h in hours] + [1]))
    top, base = marks[-1], HEIGHT - BOTTOM
    slot = (WIDTH - LEFT - 8) / len(hours)
    scale = (base - TOP) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="Calls per class per hour, last 24 hours ({escape(zone_name)})" class="chart">']
    for mark in marks:
        y = base - mark * scale
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}" '
                     f'stroke="{"#555" if mark == 0 else "#ddd"}"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{mark}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="#555"/>')
    parts.append(f'<text class="axis-label" x="14" y="{(TOP + base) / 2:.0f}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 14 {(TOP + base) / 2:.0f})">Calls</text>')
    parts.append(f'<text class="axis-label" x="{(LEFT + WIDTH) / 2:.0f}" y="{HEIGHT - 6}" font-size="12" '
                 f'text-anchor="middle">Hour starting ({escape(zone_name)})</text>')
    for i, hour in enumerate(hours):
        x, y = LEFT + i * slot, base
        for series in SERIES:
            height = hour[series] * scale
            if height:
                y -= height
                parts.append(f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{slot - 4:.1f}" height="{height:.1f}" '
                             f'fill="{COLOURS[series]}"><title>{escape(hour["hour"][11:16])} {series}: '
                             f'{hour[series]}</title></rect>')
        if i % 3 == 0:
            parts.append(f'<text x="{x + slot / 2:.1f}" y="{base + 16}" font-size="10" text-anchor="middle">'
                         f'{escape(hour["hour"][11:16])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def share_svg(stats):
    """One horizontal bar: blank, spam, and the rest of the calls."""
    total = stats["total"] or 1
    parts, x = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 760 40" role="img" class="chart" '
                'aria-label="Blank and spam share of calls">'], 0.0
    for name, count, colour in (("blank", stats["blank"], "#9e9e9e"), ("spam", stats["spam"], "#6a1b9a"),
                                ("other", stats["total"] - stats["blank"] - stats["spam"], "#2e7d32")):
        width = 760 * max(count, 0) / total
        parts.append(f'<rect x="{x:.1f}" y="0" width="{width:.1f}" height="40" fill="{colour}">'
                     f'<title>{name}: {count}</title></rect>')
        x += width
    parts.append("</svg>")
    return Markup("".join(parts))


def _charts():
    stats = summary(calllist.since_hours(current_app.extensions["ivr.db"]), zone=board.zone())
    return {"stats": stats, "hourly": hourly_svg(stats, board.zone_label()), "share": share_svg(stats),
            "colours": COLOURS}


@bp.get("/stats")
def stats_page():
    """The last 24 hours at a glance; the page script redraws the charts every minute."""
    return render_template("stats.html", refresh_ms=REFRESH_MS, **_charts())


@bp.get("/stats/charts")
def charts_fragment():
    """The charts alone, for the page's live redraw."""
    return render_template("_charts.html", **_charts())
