"""Download an official Vosk speech model, check it against the published size and md5, and install it.

    python -m ivr.speech.vosk_model [NAME] [--dest DIR] [--list-url URL] [--force]

The model's files (am/, conf/, graph/, ...) end up directly in DEST, where the app looks for them
(VOSK_MODEL_PATH, by default models/vosk), with a model.json recording what was installed and when.
"""
import argparse
import contextlib
import difflib
import hashlib
import http.client
import json
import logging
import os
import ssl
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath, PureWindowsPath

import click

from ivr.config import ROOT

log = logging.getLogger(__name__)

DEFAULT_MODEL = "vosk-model-small-en-in-0.4"
DEFAULT_LIST_URL = "https://alphacephei.com/vosk/models/model-list.json"
TIMEOUT = 20.0
CHUNK_BYTES = 1 << 16
MAX_LIST_BYTES = 10 * 1024 * 1024
RECORD_FILE = "model.json"


class ModelError(Exception):
    """The model cannot be fetched, verified or installed; the message is meant for the user."""


def _reason(reason):
    return getattr(reason, "strerror", None) or str(reason)


@contextlib.contextmanager
def _network(url):
    """Turn failures talking to URL into a ModelError; disk errors are left alone."""
    try:
        yield
    except urllib.error.HTTPError as err:
        err.close()
        raise ModelError(f"HTTP {err.code} {err.reason} from {url}") from None
    except urllib.error.URLError as err:
        raise ModelError(f"cannot reach {url}: {_reason(err.reason)}") from None
    except TimeoutError:
        raise ModelError(f"timed out after {TIMEOUT:g} s reading {url}") from None
    except (ConnectionError, ssl.SSLError, http.client.HTTPException) as err:
        raise ModelError(f"connection to {url} failed: {err!r}") from None


def _open(url):
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ModelError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, headers={"User-Agent": "ivr-vosk-model/1"})
    return urllib.request.urlopen(request, timeout=TIMEOUT)


def fetch_list(url):
    """Return the entries (dicts) of the model list published at URL."""
    with _network(url), _open(url) as response:
        body = response.read(MAX_LIST_BYTES + 1)
    if len(body) > MAX_LIST_BYTES:
        raise ModelError(f"{url} is larger than {MAX_LIST_BYTES} bytes; not a model list")
    try:
        entries = json.loads(body)
    except ValueError:
        raise ModelError(f"{url} is not valid JSON") from None
    if not isinstance(entries, list):
        raise ModelError(f"{url} is not a JSON array of models")
    return [entry for entry in entries if isinstance(entry, dict)]


def find_model(entries, name):
    """Return the list entry called NAME, with `size` as an int; unknown names suggest close ones."""
    by_name = {entry.get("name"): entry for entry in entries if isinstance(entry.get("name"), str)}
    if name not in by_name:
        close = difflib.get_close_matches(name, list(by_name), n=5)
        hint = f"; close names: {', '.join(close)}" if close else "; no similar names in the list"
        raise ModelError(f"unknown model {name!r}{hint}")
    entry = dict(by_name[name])
    try:
        entry["size"] = int(entry["size"])
        if not (isinstance(entry["url"], str) and isinstance(entry["md5"], str)):
            raise TypeError
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"the list entry for {name!r} lacks a usable url, md5 or size") from None
    return entry


def _copy(response, out, limit, url):
    """Copy RESPONSE to OUT, stopping once it exceeds LIMIT bytes; return (size, md5 hex)."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    while chunk := response.read(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise ModelError(f"size mismatch: {url} is larger than the listed {limit} bytes")
        digest.update(chunk)
        out.write(chunk)
    return size, digest.hexdigest()


def _verify(entry, size, md5):
    if size != entry["size"]:
        raise ModelError(f"size mismatch for {entry['name']}: got {size} bytes, the list says {entry['size']}")
    if md5 != entry["md5"].strip().lower():
        raise ModelError(f"md5 mismatch for {entry['name']}: got {md5}, the list says {entry['md5']}")


def download(entry, directory):
    """Stream the zip of ENTRY to a temp file in DIRECTORY, verify size and md5, and return its path."""
    fd, name = tempfile.mkstemp(prefix=".vosk-", suffix=".zip.part", dir=directory)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, _network(entry["url"]), _open(entry["url"]) as response:
            size, md5 = _copy(response, out, entry["size"], entry["url"])
        _verify(entry, size, md5)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _safe_parts(member):
    """The path parts of a zip member name; absolute, drive-letter and `..` names are refused (zip slip)."""
    path = PurePosixPath(member.replace("\\", "/"))
    if not path.parts or path.is_absolute() or ".." in path.parts or PureWindowsPath(member).drive:
        raise ModelError(f"unsafe path in the zip: {member!r}")
    return path.parts


def _top_folder(names):
    tops = {_safe_parts(name)[0] for name in names}
    if len(tops) != 1:
        raise ModelError(f"expected one top-level folder in the zip, found {len(tops)}: {sorted(tops)[:5]}")
    return tops.pop()


def unpack(archive, target):
    """Extract ARCHIVE into TARGET after checking every member name; return its single top-level folder."""
    try:
        with zipfile.ZipFile(archive) as zf:
            top = _top_folder(zf.namelist())
            zf.extractall(target)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as err:
        raise ModelError(f"bad zip {archive.name}: {err}") from None
    folder = Path(target) / top
    if not folder.is_dir():
        raise ModelError(f"the zip holds a file, not a model folder, at its top level: {top!r}")
    return folder


def _write_record(folder, entry):
    record = {
        "name": entry["name"],
        "url": entry["url"],
        "md5": entry["md5"],
        "size": entry["size"],
        "downloaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (folder / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def _is_empty(dest):
    if not (dest.exists() or dest.is_symlink()):
        return True
    return dest.is_dir() and not dest.is_symlink() and not any(dest.iterdir())


def _check_dest(dest, force):
    """Refuse a non-empty DEST without FORCE, and with it any DEST holding the repo, home or working dir."""
    if _is_empty(dest):
        return
    if not force:
        raise ModelError(f"{dest} is not empty; pass --force to replace it")
    real = dest.resolve()
    for precious in (ROOT, Path.home().resolve(), Path.cwd().resolve()):
        if real == precious or real in precious.parents:
            raise ModelError(f"refusing to replace {dest}: it contains {precious}")


def _swap(new, dest, aside):
    """Rename DEST to ASIDE (if present), then NEW to DEST, putting DEST back if the second rename fails."""
    moved = dest.exists() or dest.is_symlink()
    if moved:
        os.replace(dest, aside)
    try:
        os.replace(new, dest)
    except OSError:
        if moved:
            os.replace(aside, dest)
        raise


def install_model(name, dest, list_url, force=False):
    """Download model NAME from the list at LIST_URL, verify it, and put its files directly in DEST."""
    dest = Path(dest).absolute()
    _check_dest(dest, force)
    entry = find_model(fetch_list(list_url), name)
    if str(entry.get("obsolete", "false")).lower() == "true":
        log.warning("%s is marked obsolete in the model list", name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s (%.1f MB) from %s", name, entry["size"] / 1e6, entry["url"])
    archive = download(entry, dest.parent)
    try:
        with tempfile.TemporaryDirectory(prefix=".vosk-", dir=dest.parent, ignore_cleanup_errors=True) as scratch:
            folder = unpack(archive, Path(scratch) / "new")
            archive.unlink()
            record = _write_record(folder, entry)
            _swap(folder, dest, Path(scratch) / "old")
    finally:
        archive.unlink(missing_ok=True)
    return record


def _parser():
    parser = argparse.ArgumentParser(prog="python -m ivr.speech.vosk_model", description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default=DEFAULT_MODEL, help=f"model name (default {DEFAULT_MODEL})")
    parser.add_argument(
        "--dest",
        default=os.environ.get("VOSK_MODEL_PATH") or str(ROOT / "models" / "vosk"),
        help="directory to hold the model's files (default $VOSK_MODEL_PATH or <repo>/models/vosk)",
    )
    parser.add_argument(
        "--list-url",
        default=os.environ.get("VOSK_MODEL_LIST_URL") or DEFAULT_LIST_URL,
        help=f"model list JSON (default $VOSK_MODEL_LIST_URL or {DEFAULT_LIST_URL})",
    )
    parser.add_argument("--force", action="store_true", help="replace DEST even if it is not empty")
    return parser


def main(argv=None):
    """Run the command line; return 0 when the model is installed, 2 when it is not."""
    args = _parser().parse_args(argv)
    try:
        record = install_model(args.name, args.dest, args.list_url, force=args.force)
    except (ModelError, OSError) as err:
        click.echo(f"vosk_model: {err}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("vosk_model: interrupted", err=True)
        return 130
    click.echo(f"vosk_model: installed {record['name']} ({record['size']} bytes, md5 ok) in {args.dest}", err=True)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="vosk_model: %(message)s")
    sys.exit(main())
