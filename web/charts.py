"""Charts drawn on the server as SVG (no CDN, no script): calls per class per hour, and the blank/spam share."""
from collections import Counter
from datetime import timedelta

from flask import Blueprint, current_app, render_template
from markupsafe import Markup, escape

from ivr.store import calllist
from ivr.store.models import aware, utcnow

bp = Blueprint("charts", __name__)

SERIES = ("emergency", "inquiry", "complaint", "spam", "unclassified")
COLOURS = {"emergency": "#c62828", "inquiry": "#1565c0", "complaint": "#ef6c00", "spam": "#6a1b9a",
           "unclassified": "#9e9e9e"}
WIDTH, HEIGHT, LEFT, BOTTOM = 760, 240, 40, 30


def summary(rows, hours=24):
    """Per-hour counts by class and the blank/spam share, from (created_at, label, decision) rows."""
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    starts = [now - timedelta(hours=hours - 1 - i) for i in range(hours)]
    per_hour = {start: Counter() for start in starts}
    blank = spam = 0
    for created_at, label, decision in rows:
        hour = aware(created_at).replace(minute=0, second=0, microsecond=0)
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


def hourly_svg(stats):
    """Stacked bars, one per hour; every text is escaped."""
    hours = stats["hours"]
    peak = max([sum(h[s] for s in SERIES) for h in hours] + [1])
    slot = (WIDTH - LEFT) / len(hours)
    scale = (HEIGHT - BOTTOM - 10) / peak
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="Calls per class per hour, last 24 hours" class="chart">',
             f'<text x="4" y="14" font-size="11">{peak}</text>',
             f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH}" y2="{HEIGHT - BOTTOM}" stroke="#555"/>']
    for i, hour in enumerate(hours):
        x, y = LEFT + i * slot, HEIGHT - BOTTOM
        for series in SERIES:
            height = hour[series] * scale
            if height:
                y -= height
                parts.append(f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{slot - 4:.1f}" height="{height:.1f}" '
                             f'fill="{COLOURS[series]}"><title>{escape(hour["hour"])} {series}: '
                             f'{hour[series]}</title></rect>')
        if i % 3 == 0:
            parts.append(f'<text x="{x + 2:.1f}" y="{HEIGHT - 12}" font-size="10">{escape(hour["hour"][11:16])}</text>')
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


@bp.get("/stats")
def stats_page():
    """The last 24 hours at a glance."""
    stats = summary(calllist.since_hours(current_app.extensions["ivr.db"]))
    return render_template("stats.html", stats=stats, hourly=hourly_svg(stats), share=share_svg(stats),
                           colours=COLOURS)
