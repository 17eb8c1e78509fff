"""The Vosk model downloader, against a model list and zips served from 127.0.0.1."""
import hashlib
import io
import json
import threading
import time
import zipfile
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ivr.speech import vosk_model
from ivr.speech.vosk_model import main

NAME = "vosk-model-test-0.1"
FILES = {
    "am/final.mdl": b"acoustic model bytes\x00\x01",
    "conf/model.conf": b"--min-active=200\n--max-active=3000\n",
    "conf/mfcc.conf": b"--sample-frequency=16000\n",
    "graph/HCLr.fst": b"fst\x02\x03",
    "ivector/final.ie": b"ivector extractor",
}
OTHER_NAMES = ["vosk-model-small-en-in-0.4", "vosk-model-fr-0.22", "vosk-model-small-de-0.15"]
OLD_FILES = {"am/final.mdl": b"old acoustic model", "README": b"old model\n"}


def make_zip(members):
    """Zip bytes holding MEMBERS (name -> bytes), names used exactly as given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def model_zip(top=NAME, files=FILES):
    members = {f"{top}/": b""}
    members.update({f"{top}/{path}": data for path, data in files.items()})
    return make_zip(members)


def tree(root):
    """Every file under ROOT as relative posix path -> bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def write_tree(root, files):
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)


class Site:
    """A local stand-in for alphacephei.com: a model list plus the zips it names."""

    def __init__(self, base):
        self.base = base
        self.routes = {}
        self.requests = []
        self.entries = [self.entry(name, f"/{name}.zip", "0" * 32, 1) for name in OTHER_NAMES]
        self._write_list()

    @property
    def list_url(self):
        return f"{self.base}/model-list.json"

    def entry(self, name, path, md5, size):
        return {"name": name, "url": self.base + path, "md5": md5, "size": size, "lang": "xx", "obsolete": "false"}

    def publish(self, data, name=NAME, md5=None, size=None, serve=True):
        """List model NAME as DATA (md5 and size overridable) and serve it unless SERVE is false."""
        path = f"/models/{name}.zip"
        if serve:
            self.routes[path] = data
        md5 = hashlib.md5(data).hexdigest() if md5 is None else md5
        self.entries.append(self.entry(name, path, md5, len(data) if size is None else size))
        self._write_list()
        return self.entries[-1]

    def _write_list(self):
        self.routes["/model-list.json"] = json.dumps(self.entries).encode()


@pytest.fixture
def site():
    holder = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            holder["site"].requests.append(self.path)
            body = holder["site"].routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["site"] = Site(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield holder["site"]
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def dest(tmp_path):
    return tmp_path / "models" / "vosk"


def run(site, dest, *extra, name=NAME):
    return main([name, "--dest", str(dest), "--list-url", site.list_url, *extra])


def error_line(capsys):
    """The single stderr line of a failed run."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("vosk_model: ")
    return lines[0]


def test_installs_files_directly_in_dest_with_a_record(site, dest, capsys):
    data = model_zip()
    site.publish(data)

    assert run(site, dest) == 0

    installed = tree(dest)
    record = json.loads(installed.pop("model.json"))
    assert installed == FILES
    assert sorted(p.name for p in dest.parent.iterdir()) == ["vosk"]
    downloaded_at = datetime.fromisoformat(record.pop("downloaded_at"))
    assert downloaded_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - downloaded_at) < timedelta(minutes=1)
    assert record == {
        "name": NAME,
        "url": f"{site.base}/models/{NAME}.zip",
        "md5": hashlib.md5(data).hexdigest(),
        "size": len(data),
    }
    assert capsys.readouterr().err == f"vosk_model: installed {NAME} ({len(data)} bytes, md5 ok) in {dest}\n"


def test_empty_existing_dest_is_filled_without_force(site, dest):
    dest.mkdir(parents=True)
    site.publish(model_zip())

    assert run(site, dest) == 0

    assert set(tree(dest)) == set(FILES) | {"model.json"}


def test_list_url_comes_from_the_environment(site, dest, monkeypatch):
    site.publish(model_zip())
    monkeypatch.setenv("VOSK_MODEL_LIST_URL", site.list_url)

    assert main([NAME, "--dest", str(dest)]) == 0

    assert site.requests == ["/model-list.json", f"/models/{NAME}.zip"]


def test_md5_mismatch_fails_and_leaves_dest_untouched(site, dest, capsys):
    write_tree(dest, OLD_FILES)
    data = model_zip()
    site.publish(data, md5="0123456789abcdef0123456789abcdef")

    assert run(site, dest, "--force") == 2

    line = error_line(capsys)
    assert line == (
        f"vosk_model: md5 mismatch for {NAME}: got {hashlib.md5(data).hexdigest()}, "
        "the list says 0123456789abcdef0123456789abcdef"
    )
    assert tree(dest) == OLD_FILES
    assert sorted(p.name for p in dest.parent.iterdir()) == ["vosk"]


@pytest.mark.parametrize("delta", [1, -1], ids=["smaller-than-listed", "larger-than-listed"])
def test_size_mismatch_fails_and_removes_the_download(site, dest, capsys, delta):
    data = model_zip()
    site.publish(data, size=len(data) + delta)

    assert run(site, dest) == 2

    assert "size mismatch" in error_line(capsys)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_unknown_name_fails_with_close_names(site, dest, capsys):
    site.publish(model_zip())

    assert run(site, dest, name="vosk-model-tset-0.1") == 2

    line = error_line(capsys)
    assert line.startswith("vosk_model: unknown model 'vosk-model-tset-0.1'; close names: ")
    assert NAME in line.split("close names: ")[1].split(", ")
    assert site.requests == ["/model-list.json"]
    assert not dest.parent.exists()


@pytest.mark.parametrize("evil", [f"{NAME}/../../evil.txt", "/tmp/evil.txt", "C:/evil.txt", "..\\evil.txt"])
def test_zip_slip_member_is_rejected(site, dest, tmp_path, capsys, evil):
    members = {f"{NAME}/{path}": data for path, data in FILES.items()}
    members[evil] = b"pwned"
    site.publish(make_zip(members))

    assert run(site, dest) == 2

    assert error_line(capsys) == f"vosk_model: unsafe path in the zip: {evil!r}"
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []
    assert [p for p in tmp_path.rglob("evil.txt")] == []


def test_zip_with_several_top_folders_is_rejected(site, dest, capsys):
    site.publish(make_zip({f"{NAME}/am/final.mdl": b"a", "extra/README": b"b"}))

    assert run(site, dest) == 2

    assert error_line(capsys) == "vosk_model: expected one top-level folder in the zip, found 2: ['extra', 'vosk-model-test-0.1']"
    assert list(dest.parent.iterdir()) == []


def test_corrupt_zip_with_matching_checksum_is_rejected(site, dest, capsys):
    site.publish(b"this is not a zip file at all")

    assert run(site, dest) == 2

    assert error_line(capsys).startswith("vosk_model: bad zip .vosk-")
    assert list(dest.parent.iterdir()) == []


def test_non_empty_dest_is_refused_without_force(site, dest, capsys):
    write_tree(dest, OLD_FILES)
    site.publish(model_zip())

    assert run(site, dest) == 2

    assert error_line(capsys) == f"vosk_model: {dest} is not empty; pass --force to replace it"
    assert tree(dest) == OLD_FILES
    assert site.requests == []


def test_non_empty_dest_is_replaced_with_force(site, dest):
    write_tree(dest, OLD_FILES)
    site.publish(model_zip())

    assert run(site, dest, "--force") == 0

    installed = tree(dest)
    assert json.loads(installed.pop("model.json"))["name"] == NAME
    assert installed == FILES
    assert sorted(p.name for p in dest.parent.iterdir()) == ["vosk"]


def test_force_never_replaces_a_dest_holding_the_working_directory(site, dest, monkeypatch, capsys):
    write_tree(dest, OLD_FILES)
    (dest / "am").mkdir(exist_ok=True)
    monkeypatch.chdir(dest / "am")
    site.publish(model_zip())

    assert run(site, dest, "--force") == 2

    assert error_line(capsys) == f"vosk_model: refusing to replace {dest}: it contains {dest / 'am'}"
    assert tree(dest) == OLD_FILES


def test_missing_zip_reports_the_http_error(site, dest, capsys):
    site.publish(model_zip(), serve=False)

    assert run(site, dest) == 2

    assert error_line(capsys) == f"vosk_model: HTTP 404 Not Found from {site.base}/models/{NAME}.zip"
    assert list(dest.parent.iterdir()) == []


def test_unreachable_list_fails_promptly_with_one_line(dest, capsys):
    url = "http://127.0.0.1:1/model-list.json"
    started = time.monotonic()

    assert main([NAME, "--dest", str(dest), "--list-url", url]) == 2

    assert time.monotonic() - started < 5
    assert error_line(capsys).startswith(f"vosk_model: cannot reach {url}: ")
    assert not dest.parent.exists()


def test_list_that_is_not_json_is_reported(site, dest, capsys):
    site.routes["/model-list.json"] = b"<html>maintenance</html>"

    assert run(site, dest) == 2

    assert error_line(capsys) == f"vosk_model: {site.list_url} is not valid JSON"


def test_non_http_list_url_is_refused(dest, capsys):
    assert main([NAME, "--dest", str(dest), "--list-url", "file:///etc/passwd"]) == 2

    assert error_line(capsys) == "vosk_model: not an http(s) URL: 'file:///etc/passwd'"


def test_default_dest_is_the_apps_model_path(monkeypatch):
    monkeypatch.delenv("VOSK_MODEL_PATH", raising=False)

    args = vosk_model._parser().parse_args([])

    assert args.name == "vosk-model-small-en-in-0.4"
    assert args.dest == str(vosk_model.ROOT / "models" / "vosk")
    assert vosk_model.ROOT / "ivr" / "speech" / "vosk_model.py" == vosk_model.Path(vosk_model.__file__).resolve()
