"""Configuration read from the environment, with safe development defaults."""
import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

ROOT = Path(__file__).resolve().parent.parent

DEV_AUTH_TOKEN = "dev-auth-token"
DEV_ACCOUNT_SID = "AC00000000000000000000000000000000"
DEV_SECRET_KEY = "dev-secret-key"
MEDIA_STREAMS = 128     # media-stream threads in all by default: above the calls one node takes at once


class SettingError(RuntimeError, click.ClickException):
    """A mistake in the set-up that a person must fix; the message says how. Printed as one "Error:" line, without a
    traceback, by both entry points: gunicorn (any RuntimeError from on_starting) and the flask CLI (ClickException)."""

    def __init__(self, message):
        RuntimeError.__init__(self, message)
        click.ClickException.__init__(self, message)


class UnsafeConfig(SettingError):
    """A setting left at its development default outside development mode; the message names what to set."""


class ConfigError(SettingError):
    """A setting in the environment that cannot be used; the message names the variable and what it needs."""


def _number(env, key, default, kind, what):
    value = env.get(key)
    if value in (None, ""):
        return default
    try:
        number = kind(value.strip())
    except ValueError:
        raise ConfigError(f"{key} must be {what}, not {value[:40]!r}") from None
    if number != number or number in (float("inf"), float("-inf")):    # nan, inf
        raise ConfigError(f"{key} must be {what}, not {value[:40]!r}")
    return number


def _at_least(env, key, default, minimum):
    number = _int(env, key, default)
    if number < minimum:
        raise ConfigError(f"{key} must be a whole number of at least {minimum}, not {number}")
    return number


def _between(env, key, default, low, high):
    number = _int(env, key, default)
    if not low <= number <= high:
        raise ConfigError(f"{key} must be a whole number from {low} to {high}, not {number}")
    return number


def _float(env, key, default):
    return _number(env, key, default, float, "a number")


def _int(env, key, default):
    return _number(env, key, default, int, "a whole number")


def _zone(env, key, default):
    name = (env.get(key) or default).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{key} must be an IANA time zone such as Asia/Kolkata, not {name[:40]!r}") from None
    return name


def _list(env, key, default):
    return tuple(item.strip() for item in env.get(key, default).split(",") if item.strip())


def _bool(env, key, default):
    value = env.get(key)
    return default if value in (None, "") else value.strip().lower() not in ("0", "false", "no", "off")


REGION_ZONES = {"IN": "Asia/Kolkata"}     # a region spanning several zones needs WEB_TIME_ZONE set


def load_config(env=None):
    """Return the app configuration as a flat dict of upper-case keys, grouped by prefix."""
    env = os.environ if env is None else env
    instance = ROOT / "instance"
    return {
        "SECRET_KEY": env.get("SECRET_KEY", DEV_SECRET_KEY),
        # bin/start sets it: only then may SECRET_KEY and TWILIO_AUTH_TOKEN keep their development defaults
        "IVR_DEV_MODE": _bool(env, "IVR_DEV_MODE", False),
        "PORT": _int(env, "PORT", 5000),
        "PUBLIC_URL": env.get("PUBLIC_URL", "").rstrip("/"),
        # proxies in front of the app whose X-Forwarded-For/-Proto/-Host are believed (bin/serve's nginx is one)
        "TRUSTED_PROXY_HOPS": _at_least(env, "TRUSTED_PROXY_HOPS", 0, 0),
        "MAX_CONTENT_LENGTH": 64 * 1024,
        # simple-websocket closes a socket (1009) whose message exceeds this; Twilio's frames are ~300 bytes
        "SOCK_SERVER_OPTIONS": {"ping_interval": 25, "max_message_size": 1024 * 1024},
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        # Twilio account and REST endpoint (a local stand-in in development and tests)
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID", DEV_ACCOUNT_SID),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", DEV_AUTH_TOKEN),
        "TWILIO_API_BASE": env.get("TWILIO_API_BASE", "https://api.twilio.com").rstrip("/"),
        "TWILIO_API_TIMEOUT": _float(env, "TWILIO_API_TIMEOUT", 5.0),
        "DATABASE_URL": env.get("DATABASE_URL", f"sqlite:///{instance / 'ivr.sqlite3'}"),
        # no database wait (statement, lock, write turn, pooled connection) lasts longer: Twilio gives up at 15 s
        "DATABASE_DEADLINE_SECONDS": _float(env, "DATABASE_DEADLINE_SECONDS", 3.0),
        # Speech recognition
        "ASR_ENGINE": env.get("ASR_ENGINE", "auto"),
        "VOSK_MODEL_PATH": env.get("VOSK_MODEL_PATH", str(ROOT / "models" / "vosk")),
        # the domain language model's card, or `generic` for PocketSphinx's own US-English model; the classifier is
        # trained on transcripts this speech path wrote (training.telephone keys its rows by it): change them together
        "ASR_LANGUAGE_MODEL": env.get("ASR_LANGUAGE_MODEL", str(ROOT / "models" / "speech_lm.json")),
        # limit a dynamic-graph Vosk model to the domain model's words (off: unmeasured without an English model)
        "VOSK_DOMAIN_VOCABULARY": _bool(env, "VOSK_DOMAIN_VOCABULARY", False),
        # Classifier and its thresholds
        "TRIAGE_MODEL_PATH": env.get("TRIAGE_MODEL_PATH", str(ROOT / "models" / "triage.joblib")),
        # unset: the model card's early_route_threshold (chosen on validation data for emergency recall)
        "TRIAGE_EMERGENCY_THRESHOLD": _float(env, "TRIAGE_EMERGENCY_THRESHOLD", None),
        "TRIAGE_CONFIDENT_THRESHOLD": _float(env, "TRIAGE_CONFIDENT_THRESHOLD", 0.60),
        # Where calls are dialled
        "ROUTE_EMERGENCY": env.get("ROUTE_EMERGENCY", "+15005550101"),
        "ROUTE_INQUIRY": env.get("ROUTE_INQUIRY", "+15005550102"),
        "ROUTE_COMPLAINT": env.get("ROUTE_COMPLAINT", "+15005550103"),
        "ROUTE_OPERATOR": env.get("ROUTE_OPERATOR", "+15005550100"),
        "ROUTE_DIAL_TIMEOUT": _int(env, "ROUTE_DIAL_TIMEOUT", 20),
        # The call script
        "IVR_API_KEY": env.get("IVR_API_KEY", ""),
        "IVR_LANGUAGE": env.get("IVR_LANGUAGE", "en-IN"),
        "IVR_VOICE": env.get("IVR_VOICE", "Polly.Aditi"),
        "IVR_LISTEN_SECONDS": _int(env, "IVR_LISTEN_SECONDS", 8),
        "IVR_KEYPAD_TIMEOUT": _int(env, "IVR_KEYPAD_TIMEOUT", 6),
        "IVR_DECISION_WAIT_SECONDS": _float(env, "IVR_DECISION_WAIT_SECONDS", 3.0),
        "IVR_BLANK_VOICE_SECONDS": _float(env, "IVR_BLANK_VOICE_SECONDS", 0.3),
        "IVR_STREAM_IDLE_SECONDS": _float(env, "IVR_STREAM_IDLE_SECONDS", 30.0),
        "IVR_STREAM_START_SECONDS": _float(env, "IVR_STREAM_START_SECONDS", 10.0),
        "IVR_STREAM_MAX_SPEED": _float(env, "IVR_STREAM_MAX_SPEED", 2.0),
        "IVR_STREAM_MAX_SECONDS": _float(env, "IVR_STREAM_MAX_SECONDS", 600.0),
        # Overload: calls recognised at once on this machine (empty: measured calls per core x cores), where the
        # slots are shared by its processes, and how far recognition may trail a caller before that call is shed
        "IVR_RECOGNITION_SLOTS": _int(env, "IVR_RECOGNITION_SLOTS", None),
        "IVR_RECOGNITION_SLOTS_DIR": env.get("IVR_RECOGNITION_SLOTS_DIR", ""),
        "IVR_RECOGNITION_MAX_LAG_SECONDS": _float(env, "IVR_RECOGNITION_MAX_LAG_SECONDS", 3.0),
        "IVR_DEFAULT_REGION": env.get("IVR_DEFAULT_REGION", "IN"),
        "IVR_QUEUE_NAME": env.get("IVR_QUEUE_NAME", "ivr-hold")[:64],
        "IVR_QUEUE_PAUSE_SECONDS": _int(env, "IVR_QUEUE_PAUSE_SECONDS", 15),
        "IVR_RETENTION_DAYS": _int(env, "IVR_RETENTION_DAYS", 365),
        # The control room: session cookies (Secure whenever the public URL is https) and live updates
        "SESSION_COOKIE_SECURE": env.get("SESSION_COOKIE_SECURE", "").lower() in ("1", "true", "yes")
        or env.get("PUBLIC_URL", "").startswith("https://"),
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "WEB_SESSION_HOURS": _int(env, "WEB_SESSION_HOURS", 12),
        "WEB_PAGE_SIZE": _int(env, "WEB_PAGE_SIZE", 50),
        "WEB_EVENTS_POLL_SECONDS": _float(env, "WEB_EVENTS_POLL_SECONDS", 0.3),
        "WEB_EVENTS_MAX_SECONDS": _int(env, "WEB_EVENTS_MAX_SECONDS", 300),
        # a page left or reloaded holds its stream until the next heartbeat write (up to 5 s) notices: room for that
        "WEB_EVENTS_PER_SESSION": _int(env, "WEB_EVENTS_PER_SESSION", 8),
        # failed sign-ins allowed per name and address, and per address, within the window
        "WEB_LOGIN_FAILURES": _int(env, "WEB_LOGIN_FAILURES", 5),
        "WEB_LOGIN_ADDRESS_FAILURES": _int(env, "WEB_LOGIN_ADDRESS_FAILURES", 30),
        "WEB_LOGIN_WINDOW_MINUTES": _int(env, "WEB_LOGIN_WINDOW_MINUTES", 15),
        # the zone operators read times in (stored and served by the API in UTC); by default the region's own
        "WEB_TIME_ZONE": _zone(env, "WEB_TIME_ZONE", REGION_ZONES.get(env.get("IVR_DEFAULT_REGION", "IN").strip().upper(),
                                                                      "UTC")),
        "WEB_ALERTS_POLL_SECONDS": _float(env, "WEB_ALERTS_POLL_SECONDS", 5.0),
        **screening_config(env),
    }


def refuse_dev_defaults(config):
    """Raise UnsafeConfig when a secret keeps its development default outside development mode (or behind
    https, where real callers and operators connect): forged sessions and webhooks would pass."""
    for key, default in (("SECRET_KEY", DEV_SECRET_KEY), ("TWILIO_AUTH_TOKEN", DEV_AUTH_TOKEN)):
        if config[key] == default and (not config["IVR_DEV_MODE"] or config["PUBLIC_URL"].startswith("https://")):
            raise UnsafeConfig(f"{key} is the development default: set {key} (IVR_DEV_MODE=1 allows the "
                               f"default for local development over http only)")


def serve_config(env=None):
    """SERVE_*: the nginx front that bin/serve puts before gunicorn."""
    env = os.environ if env is None else env
    return {
        "SERVE_CLIENT_TIMEOUT": _at_least(env, "SERVE_CLIENT_TIMEOUT", 10, 1),
        "SERVE_CONNECTIONS_PER_ADDRESS": _at_least(env, "SERVE_CONNECTIONS_PER_ADDRESS", 128, 1),
        "SERVE_SHUTDOWN_SECONDS": _at_least(env, "SERVE_SHUTDOWN_SECONDS", 10, 1),
        "SERVE_NGINX": env.get("SERVE_NGINX", ""),
        "SERVE_MEDIA_NICE": _between(env, "SERVE_MEDIA_NICE", 10, 0, 19),
    }


def pool_config(pool, env=None):
    """Processes and threads of one gunicorn pool: "web" (webhooks, pages, API), "media" (the /media streams, which
    recognise speech) or "" (one gunicorn serving both, as outside bin/serve)."""
    env = os.environ if env is None else env
    cores = len(os.sched_getaffinity(0))
    if pool == "media":
        # one recognising process per core at a time (PocketSphinx holds the GIL), two per core because gunicorn
        # does not balance WebSockets across processes; every live call, recognised or shed, holds a thread
        processes = _at_least(env, "MEDIA_CONCURRENCY", 2 * cores, 1)
        return processes, _at_least(env, "MEDIA_THREADS", -(-MEDIA_STREAMS // processes), 1)
    # two per core here too: 50 simultaneous /voice in 2 processes of 32 threads queued for each one's GIL
    # (bench_overload p50 130 to 240 ms, against 80 ms in 4)
    return _at_least(env, "WEB_CONCURRENCY", 2 * cores, 1), _at_least(env, "GUNICORN_THREADS", 32, 1)


def screening_config(env):
    """SCREEN_*: caller screening, blank-call policy, callbacks, call floods, machine-generated audio."""
    return {
        "SCREEN_ENABLED": _bool(env, "SCREEN_ENABLED", True),
        "SCREEN_GATE_RISK": _float(env, "SCREEN_GATE_RISK", 0.5),
        "SCREEN_OWN_NUMBERS": _list(env, "SCREEN_OWN_NUMBERS", ""),
        "SCREEN_EMERGENCY_CODES": _list(env, "SCREEN_EMERGENCY_CODES", "100,101,102,108,112,1090,1091,911,999"),
        "SCREEN_REPEAT_CALLS": _int(env, "SCREEN_REPEAT_CALLS", 3),
        "SCREEN_BLANK_WATCH": _int(env, "SCREEN_BLANK_WATCH", 4),
        "SCREEN_BLANK_BLOCK": _int(env, "SCREEN_BLANK_BLOCK", 10),
        "SCREEN_HOLD_HOURS": _float(env, "SCREEN_HOLD_HOURS", 24.0),
        "SCREEN_CALLBACK_ATTEMPTS": _int(env, "SCREEN_CALLBACK_ATTEMPTS", 3),
        "SCREEN_FLOOD_CALLERS": _int(env, "SCREEN_FLOOD_CALLERS", 5),
        "SCREEN_FLOOD_SECONDS": _float(env, "SCREEN_FLOOD_SECONDS", 5.0),
        "SCREEN_FLOOD_COOLDOWN": _float(env, "SCREEN_FLOOD_COOLDOWN", 300.0),
        "SCREEN_FLOOD_EXIT_CALLERS": _int(env, "SCREEN_FLOOD_EXIT_CALLERS", 3),
        "SCREEN_FLOOD_FACTOR": _float(env, "SCREEN_FLOOD_FACTOR", 1.0),
        "SCREEN_FLOOD_SIGMAS": _float(env, "SCREEN_FLOOD_SIGMAS", 5.0),
        "SCREEN_BASELINE_DAYS": _int(env, "SCREEN_BASELINE_DAYS", 7),
        "SCREEN_BASELINE_TTL": _float(env, "SCREEN_BASELINE_TTL", 60.0),
        "SCREEN_CAMPAIGN_NUMBERS": _int(env, "SCREEN_CAMPAIGN_NUMBERS", 5),
        "SCREEN_CAMPAIGN_SECONDS": _float(env, "SCREEN_CAMPAIGN_SECONDS", 3600.0),
        "SCREEN_RANGE_NUMBERS": _int(env, "SCREEN_RANGE_NUMBERS", 4),
        "SCREEN_RANGE_DIGITS": _int(env, "SCREEN_RANGE_DIGITS", 2),
        "SCREEN_RANGE_SECONDS": _float(env, "SCREEN_RANGE_SECONDS", 60.0),
        "SCREEN_BLANK_BURST_CALLS": _int(env, "SCREEN_BLANK_BURST_CALLS", 10),
        "SCREEN_BLANK_BURST_SECONDS": _float(env, "SCREEN_BLANK_BURST_SECONDS", 120.0),
        "SCREEN_BLANK_SHORT_SECONDS": _int(env, "SCREEN_BLANK_SHORT_SECONDS", 10),
        "SCREEN_SETTINGS_TTL": _float(env, "SCREEN_SETTINGS_TTL", 5.0),
        "SCREEN_FINGERPRINT_SECONDS": _float(env, "SCREEN_FINGERPRINT_SECONDS", 5.0),
        "SCREEN_FINGERPRINT_RECENT": _int(env, "SCREEN_FINGERPRINT_RECENT", 10000),
        "SCREEN_PROMPT_SECONDS": _float(env, "SCREEN_PROMPT_SECONDS", 4.0),
    }
