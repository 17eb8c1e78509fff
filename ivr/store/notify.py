"""Call changes as PostgreSQL notifications, so live control-room pages on every node hear of them at once.

A statement-level trigger on `calls` (migration 0005) sends NOTIFY on CHANNEL after each insert or update (PostgreSQL folds
identical notifications of one transaction into one). Each process keeps one listening connection in a
background thread (`Changes`); live-event streams wait on it instead of polling fast. SQLite has no
notifications: there `Changes.wait` is a plain timed wait, and streams poll as before.
"""
import logging
import threading

log = logging.getLogger(__name__)

CHANNEL = "ivr_calls_changed"
RETRY_SECONDS = 5.0


class Changes:
    """A counter that goes up whenever a call changes anywhere (PostgreSQL), and a wait for it to move."""

    def __init__(self, engine):
        self._conninfo = None
        if engine.dialect.name == "postgresql":
            self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._cond = threading.Condition()
        self._generation = 0
        self._thread = None
        self._stopped = threading.Event()
        self.listening = False

    @property
    def generation(self):
        with self._cond:
            return self._generation

    @property
    def closed(self):
        """True once close() was called: the app is stopping, so waiting streams should end."""
        return self._stopped.is_set()

    def wait(self, seen, timeout):
        """Until the counter is past SEEN, TIMEOUT seconds pass or close() is called; returns the counter."""
        self._start()
        with self._cond:
            self._cond.wait_for(lambda: self._generation != seen or self._stopped.is_set(), timeout)
            return self._generation

    def close(self):
        """Stop listening and wake every waiter (a live-event stream then ends instead of waiting out its pause)."""
        self._stopped.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _start(self):
        if self._conninfo is None or self._thread is not None or self.closed:
            return
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._listen, name="calls-listener", daemon=True)
                self._thread.start()

    def _bump(self):
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def _listen(self):
        import psycopg   # only PostgreSQL deployments need the driver here
        while not self._stopped.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening = True
                    self._bump()        # whatever changed while nobody listened
                    while not self._stopped.is_set():
                        if any(True for _ in conn.notifies(timeout=1.0, stop_after=1)):
                            self._bump()
            except Exception as error:  # noqa: BLE001 - streams fall back to polling meanwhile
                log.warning("call-change listener lost its connection (%s); retrying in %.0f s",
                            type(error).__name__, RETRY_SECONDS)
            finally:
                self.listening = False
            self._stopped.wait(RETRY_SECONDS)
