"""What one media stream may do: when `start` must come, how long it may go quiet, how fast and how much audio
and how many frames it may send, how far its recognition may fall behind, and how much it may fill the log with
bad frames. No Flask here."""
import collections
import dataclasses
import math

FRAMES_PER_SECOND = 50        # Twilio's observed 20 ms frames
FRAME_MARGIN = 2              # frames may be this many times as many as the audio rate in 20 ms frames
WINDOW_SECONDS = 5.0          # rates are measured over a sliding window this long
BURST_SECONDS = 4.0           # audio (and its frames) that may come on top of the rate within a window
SLOT_SECONDS = 0.25           # the window's resolution
LOG_LINES = 5                 # bad-frame warnings per stream per LOG_INTERVAL; the rest are counted
LOG_INTERVAL = 10.0


@dataclasses.dataclass(frozen=True)
class StreamLimits:
    """Limits of one stream; the defaults are production's (see README, Configuration)."""

    start_seconds: float = 10.0       # a valid `start` must come this soon after the socket opened
    idle_seconds: float = 30.0        # after `start`, the longest gap between valid media frames
    max_speed: float = 2.0            # audio seconds per wall-clock second (and frames: 50 per audio second)
    max_audio_seconds: float = 600.0  # audio per call
    max_lag_seconds: float = 3.0      # recognition further behind the caller than this is shed for the call

    @classmethod
    def from_config(cls, config):
        return cls(config["IVR_STREAM_START_SECONDS"], config["IVR_STREAM_IDLE_SECONDS"],
                   config["IVR_STREAM_MAX_SPEED"], config["IVR_STREAM_MAX_SECONDS"],
                   config["IVR_RECOGNITION_MAX_LAG_SECONDS"])

    @classmethod
    def unlimited(cls):
        """No limits at all: for benchmarks and tests that feed recorded audio as fast as they can."""
        return cls(math.inf, math.inf, math.inf, math.inf, math.inf)

    def audio_window(self):
        return RateWindow(self.max_speed * WINDOW_SECONDS + BURST_SECONDS)

    def frame_window(self):
        return RateWindow((self.max_speed * WINDOW_SECONDS + BURST_SECONDS) * FRAMES_PER_SECOND * FRAME_MARGIN)


class RateWindow:
    """How much arrived over the last WINDOW_SECONDS, against a limit. A sliding window, not a token bucket:
    a stall followed by catch-up costs once and is forgotten WINDOW_SECONDS later."""

    def __init__(self, limit):
        self.limit, self.total = limit, 0.0
        self._slots = collections.deque()     # [slot number, amount]

    def add(self, amount, now):
        """Count `amount` arriving at monotonic time `now`; False when the window is over its limit."""
        slot = math.floor(now / SLOT_SECONDS)
        oldest = slot - WINDOW_SECONDS / SLOT_SECONDS
        while self._slots and self._slots[0][0] <= oldest:
            self.total -= self._slots.popleft()[1]
        if self._slots and self._slots[-1][0] == slot:
            self._slots[-1][1] += amount
        else:
            self._slots.append([slot, amount])
        self.total += amount
        return self.total <= self.limit


class LogBudget:
    """At most LOG_LINES warnings per LOG_INTERVAL; what is held back is reported as one count."""

    def __init__(self, lines=LOG_LINES, interval=LOG_INTERVAL):
        self.lines, self.interval = lines, interval
        self._since, self._used, self.held_back = None, 0, 0

    def allow(self, now):
        """True if a line may be logged now; else the line is counted as held back."""
        if self._since is None or now - self._since >= self.interval:
            self._since, self._used = now, 0
        if self._used < self.lines:
            self._used += 1
            return True
        self.held_back += 1
        return False

    def take_held_back(self, now, force=False):
        """The count to report (and forget) once the interval that held them back is over, or at the end."""
        if not self.held_back or (not force and now - self._since < self.interval):
            return 0
        count, self.held_back = self.held_back, 0
        return count
