"""The app as bin/serve runs it, plus a stand-in for recognition in the media pool (tests/e2e/test_serve.py).

While the file named by PEG_FILE exists, every media worker burns a core in long C calls that hold the GIL, as
PocketSphinx does while it decodes: a webhook in the same process would wait for each of them.
"""
import os
import threading
import time
from pathlib import Path

from ivr import create_app

BURN = 10_000_000       # one sum() over this range holds the GIL for about 0.4 s on this machine, unloaded


def _burn(flag):
    while True:
        if flag.exists():
            sum(range(BURN))
        else:
            time.sleep(0.05)


def create():
    app = create_app()
    if os.environ.get("SERVE_POOL") == "media":
        threading.Thread(target=_burn, args=(Path(os.environ["PEG_FILE"]),), daemon=True).start()
    return app
