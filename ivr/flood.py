"""Call floods: distinct caller numbers per dialled line inside a sliding time window.

`FloodWindow` is the pure algorithm (amortised O(1) per call, memory bounded by the calls inside the
window, not by history). The app's decisions use the same rule over the calls table (see
ivr.store.signals.gather), because gunicorn runs one process per core and each process sees only
part of the traffic; `FloodWindow` serves single-process use (simulator, replaying logs) and the benchmark.
"""
from collections import deque


class FloodWindow:
    """Sliding window of (time, caller) per line; `observe` returns the distinct callers in the window."""

    __slots__ = ("seconds", "_events", "_counts")

    def __init__(self, seconds):
        self.seconds = seconds
        self._events = {}    # line -> deque of (time, caller), oldest first
        self._counts = {}    # line -> {caller: calls inside the window}

    def observe(self, line, caller, now):
        """Record a call on `line` from `caller` at `now` (seconds, non-decreasing per line)."""
        events = self._events.get(line)
        if events is None:
            events = self._events[line] = deque()
            self._counts[line] = {}
        counts = self._counts[line]
        horizon = now - self.seconds
        while events and events[0][0] <= horizon:
            _, old = events.popleft()
            left = counts[old] - 1
            if left:
                counts[old] = left
            else:
                del counts[old]
        events.append((now, caller))
        counts[caller] = counts.get(caller, 0) + 1
        return len(counts)

    def distinct(self, line, now):
        """Distinct callers on `line` inside the window ending at `now` (read-only)."""
        horizon = now - self.seconds
        return len({caller for moment, caller in self._events.get(line, ()) if moment > horizon})

    def prune(self, now):
        """Forget lines whose calls have all left the window (keeps memory bounded by the window)."""
        horizon = now - self.seconds
        for line in [line for line, events in self._events.items() if not events or events[-1][0] <= horizon]:
            del self._events[line], self._counts[line]

    def __len__(self):
        return len(self._events)


def in_flood(distinct_callers, threshold):
    """A line is flooded while at least `threshold` distinct numbers called it inside the window."""
    return distinct_callers >= threshold
