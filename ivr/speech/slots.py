"""Recognition slots: how many calls this machine transcribes at once, shared by every process on it.

A slot is a file in one folder (IVR_RECOGNITION_SLOTS_DIR). A media stream that recognises speech holds an
exclusive flock on its slot's file for the stream's life. The kernel drops the lock when the process ends, however
it ends, so a crashed or killed worker cannot leak a slot. `/voice` reserves a slot for the stream to come by
writing the CallSid and a lease into a slot nobody holds; the stream (in any process) takes that slot, and a
reservation never taken lapses after RESERVE_SECONDS. One lock file serialises the scans: each holds it for
microseconds, and nobody waits for it longer than LOCK_WAIT_SECONDS (past that, the call is shed).
"""
import contextlib
import fcntl
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

from ivr.config import ConfigError

log = logging.getLogger(__name__)

RESERVE_SECONDS = 20.0      # from /voice to the stream's start: Twilio opens it within a second or two
LOCK_WAIT_SECONDS = 0.25
# Calls one core transcribes in real time, measured on a 2-core machine: bench_capacity kept up with 8 calls
# (PocketSphinx); bench_media: 0.25 CPU s per audio second for PocketSphinx, 0.34 for Vosk.
CALLS_PER_CORE = {"pocketsphinx": 4, "vosk": 3}
# ... but at that many the cores are full, and webhooks wait for the GIL behind recognition: with 8 slots on 2
# cores bench_overload answered /voice in over 1 s for a quarter of its calls. A quarter of the CPU is left for
# webhooks and the streams that are not recognised.
RECOGNITION_SHARE = 0.75


class Busy(Exception):
    """The scan lock was not free within LOCK_WAIT_SECONDS."""


def default_folder():
    """One folder per user on this machine: every process of every app instance here shares the same cores."""
    return str(Path(tempfile.gettempdir()) / f"ivr-recognition-slots-{os.getuid()}")


def default_count(engine_name, cores=None):
    """Slots for this machine: the measured calls per core for the engine, times the cores this process may use,
    times the share of the CPU left to recognition (at least one)."""
    cores = cores or len(os.sched_getaffinity(0))
    per_core = CALLS_PER_CORE.get(engine_name, min(CALLS_PER_CORE.values()))
    return max(1, int(per_core * cores * RECOGNITION_SHARE))


class Slot:
    """A slot held by one stream; `release` (or the process ending) frees it."""

    def __init__(self, fd, index):
        self._fd, self.index = fd, index

    def release(self):
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                _write(fd, "", 0.0)     # empty: free at once, not after a lease
            finally:
                os.close(fd)            # drops the lock


class RecognitionSlots:
    """COUNT slots in FOLDER, shared by every process that opens the same folder."""

    def __init__(self, folder, count, clock=time.time, reserve_seconds=RESERVE_SECONDS):
        self.folder, self.count, self.clock, self.reserve_seconds = Path(folder), count, clock, reserve_seconds
        self.folder.mkdir(parents=True, exist_ok=True)
        self._paths = [self.folder / f"slot-{index}" for index in range(count)]
        self._scan_lock = self.folder / "scan.lock"
        self._in_process = threading.Lock()      # threads of one process queue here, not by polling the flock
        for path in (*self._paths, self._scan_lock):
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))   # a folder we cannot use fails at start-up

    def reserve(self, sid):
        """Reserve a slot for call SID's stream; None when reserved, else why not (a reason for the call)."""
        if not self.count:
            return "recognition is switched off (IVR_RECOGNITION_SLOTS=0)"
        try:
            with self._scanning():
                now = self.clock()
                for index in range(self.count):
                    fd = self._try_lock(index)
                    if fd is None:
                        continue            # a stream is recognising in this slot
                    try:
                        owner, until = _read(fd)
                        if owner == sid or not owner or until <= now:
                            _write(fd, sid, now + self.reserve_seconds)
                            return None
                    finally:
                        os.close(fd)
        except (Busy, OSError) as error:
            log.error("recognition slots in %s: %r; shedding recognition for %s", self.folder, error, sid)
            return f"recognition slots unavailable ({type(error).__name__})"
        return f"all {self.count} recognition slots busy"

    def hold(self, sid):
        """Take the slot reserved for call SID, else any free one: (Slot, None), or (None, why not)."""
        if not self.count:
            return None, "recognition is switched off (IVR_RECOGNITION_SLOTS=0)"
        try:
            with self._scanning():
                fd, index = self._find(sid, self.clock())
        except (Busy, OSError) as error:
            log.error("recognition slots in %s: %r; shedding recognition for %s", self.folder, error, sid)
            return None, f"recognition slots unavailable ({type(error).__name__})"
        if fd is None:
            return None, f"all {self.count} recognition slots busy"
        try:
            _write(fd, sid, 0.0)    # held: the lock, not a lease, says it is taken
        except OSError as error:
            os.close(fd)
            log.error("recognition slot %d in %s: %r; shedding recognition for %s", index, self.folder, error, sid)
            return None, f"recognition slots unavailable ({type(error).__name__})"
        return Slot(fd, index), None

    def cancel(self, sid):
        """Free SID's reservation if no stream took it (the call ended first); a held slot is its stream's to free."""
        if not self.count:
            return
        try:
            with self._scanning():
                for index in range(self.count):
                    fd = self._try_lock(index)
                    if fd is None:
                        continue
                    try:
                        if _read(fd)[0] == sid:
                            _write(fd, "", 0.0)
                    finally:
                        os.close(fd)
        except (Busy, OSError) as error:    # it lapses by itself
            log.warning("recognition slots in %s: %r; %s's reservation lapses by itself", self.folder, error, sid)

    def _find(self, sid, now):
        """The locked fd of SID's reserved slot, else of the first free one (fd, index); (None, None) if none."""
        free = (None, None)
        for index in range(self.count):
            fd = self._try_lock(index)
            if fd is None:
                continue
            owner, until = _read(fd)
            if owner == sid:
                if free[0] is not None:
                    os.close(free[0])
                return fd, index
            if free[0] is None and (not owner or until <= now):
                free = (fd, index)
            else:
                os.close(fd)
        return free

    def in_use(self):
        """Slots held by a stream or reserved for one, now."""
        busy, now = 0, self.clock()
        with self._scanning():      # a look into a slot locks it: unserialised, a stream would find it busy
            for index in range(self.count):
                fd = self._try_lock(index)
                if fd is None:
                    busy += 1
                    continue
                owner, until = _read(fd)
                os.close(fd)
                busy += bool(owner) and until > now
        return busy

    def _try_lock(self, index):
        """An fd holding slot INDEX's lock, or None when another open file (any process) holds it."""
        fd = os.open(self._paths[index], os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    @contextlib.contextmanager
    def _scanning(self):
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        if not self._in_process.acquire(timeout=LOCK_WAIT_SECONDS):
            raise Busy(f"scan lock held for over {LOCK_WAIT_SECONDS:g} s")
        try:
            with self._flocked_scan(deadline):
                yield
        finally:
            self._in_process.release()

    @contextlib.contextmanager
    def _flocked_scan(self, deadline):
        fd = os.open(self._scan_lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise Busy(f"scan lock held for over {LOCK_WAIT_SECONDS:g} s") from None
                    time.sleep(0.001)
            yield
        finally:
            os.close(fd)


def _read(fd):
    """(CallSid, lease end) written in a slot file; a blank or unreadable file is free."""
    fields = os.pread(fd, 128, 0).decode("ascii", "replace").split()
    try:
        return fields[0], float(fields[1])
    except (IndexError, ValueError):
        return None, 0.0


def _write(fd, sid, until):
    os.ftruncate(fd, 0)
    if sid:
        os.pwrite(fd, f"{sid} {until:.3f}\n".encode("ascii", "replace"), 0)


def init_app(app):
    """The machine's slots, sized by IVR_RECOGNITION_SLOTS or from the engine and the cores."""
    count = app.config["IVR_RECOGNITION_SLOTS"]
    if count is None:
        count = default_count(app.extensions["ivr.speech"].name)
    if count < 0:
        raise ConfigError(f"IVR_RECOGNITION_SLOTS must be 0 or more, not {count}")
    folder = app.config["IVR_RECOGNITION_SLOTS_DIR"] or default_folder()
    try:
        slots = RecognitionSlots(folder, count)
    except OSError as error:
        raise ConfigError(f"IVR_RECOGNITION_SLOTS_DIR: cannot use {folder} ({error.strerror}); "
                          "set it to a folder this user can write") from None
    log.info("recognition slots: %d in %s", count, folder)
    app.extensions["ivr.slots"] = slots
