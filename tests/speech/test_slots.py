"""Recognition slots across processes: reserved at /voice, held by a stream in any process, freed by a crash."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from ivr.config import ConfigError
from ivr.speech import slots as slots_module
from ivr.speech.slots import RecognitionSlots, default_count

ROOT = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent("""
    import sys, time
    from ivr.speech.slots import RecognitionSlots
    slots = RecognitionSlots(sys.argv[1], int(sys.argv[2]))
    held = [slots.hold(sid)[0] for sid in sys.argv[3:]]
    print(" ".join("held" if slot else "none" for slot in held), flush=True)
    time.sleep(120)
""")


@pytest.fixture
def holder(tmp_path):
    """Start a process that holds slots for the given sids and sleeps; yields a starter, kills them after."""
    started = []

    def start(count, *sids):
        process = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "slots"), str(count), *sids],
                                   cwd=ROOT, stdout=subprocess.PIPE, text=True)
        started.append(process)
        return process, process.stdout.readline().split()

    yield start
    for process in started:
        process.kill()
        process.wait(timeout=10)
        process.stdout.close()


def test_reservations_stop_at_the_count_and_say_why(tmp_path):
    slots = RecognitionSlots(tmp_path, 2)
    assert slots.reserve("CA1") is None and slots.reserve("CA2") is None
    assert slots.reserve("CA3") == "all 2 recognition slots busy"
    assert slots.in_use() == 2


def test_a_stream_takes_its_reservation_and_gives_it_back(tmp_path):
    slots = RecognitionSlots(tmp_path, 2)
    assert slots.reserve("CA1") is None
    slot, why = slots.hold("CA1")
    assert why is None and slots.in_use() == 1          # the reservation became the hold: one slot, not two
    assert slots.reserve("CA2") is None and slots.reserve("CA3") is not None
    slot.release()
    slot.release()
    assert slots.reserve("CA3") is None


def test_a_reservation_never_taken_lapses(tmp_path):
    now = [1000.0]
    slots = RecognitionSlots(tmp_path, 1, clock=lambda: now[0], reserve_seconds=20)
    assert slots.reserve("CA1") is None
    assert slots.reserve("CA2") is not None and slots.hold("CA2")[0] is None
    now[0] += 21
    assert slots.reserve("CA2") is None


def test_a_stream_without_a_reservation_takes_any_free_slot_and_none_when_full(tmp_path):
    slots = RecognitionSlots(tmp_path, 1)
    slot, _ = slots.hold("CA1")      # answered by another machine, or its reservation lapsed
    assert slot is not None
    assert slots.hold("CA2") == (None, "all 1 recognition slots busy")


def test_slots_are_shared_by_processes_and_a_killed_holder_frees_its_slot(tmp_path, holder):
    slots = RecognitionSlots(tmp_path / "slots", 2)
    assert slots.reserve("CA1") is None                  # /voice here, the stream in another process
    process, held = holder(2, "CA1", "CA2")
    assert held == ["held", "held"]
    assert slots.in_use() == 2 and slots.reserve("CA3") == "all 2 recognition slots busy"
    process.send_signal(signal.SIGKILL)                  # a crashed worker: no clean-up ran
    process.wait(timeout=10)
    assert slots.in_use() == 0
    assert slots.reserve("CA3") is None and slots.reserve("CA4") is None


def test_processes_racing_for_slots_never_get_more_than_there_are(tmp_path, holder):
    results = []

    def one(i):
        results.append(holder(3, f"CA{i}a", f"CA{i}b")[1])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(result.count("held") for result in results) == 3


def test_zero_slots_sheds_every_call(tmp_path):
    slots = RecognitionSlots(tmp_path, 0)
    assert "switched off" in slots.reserve("CA1") and slots.hold("CA1")[0] is None


def test_the_default_is_three_quarters_of_the_measured_calls_per_core_times_the_cores():
    assert default_count("pocketsphinx", cores=2) == 6          # 8 measured in real time on 2 cores
    assert default_count("vosk", cores=2) == 4
    assert default_count("vosk", cores=1) == 2 and default_count("pocketsphinx", cores=1) == 3
    assert default_count("pocketsphinx") == 3 * len(os.sched_getaffinity(0))


@pytest.mark.parametrize("overrides, message", [
    ({"IVR_RECOGNITION_SLOTS": -1}, "IVR_RECOGNITION_SLOTS must be 0 or more"),
    ({"IVR_RECOGNITION_SLOTS_DIR": "/proc/no-such-place"}, "IVR_RECOGNITION_SLOTS_DIR: cannot use"),
])
def test_bad_slot_settings_are_one_line_errors(overrides, message):
    class App:
        config = {"IVR_RECOGNITION_SLOTS": 2, "IVR_RECOGNITION_SLOTS_DIR": "/tmp", **overrides}
        extensions = {}

    with pytest.raises(ConfigError, match=message):
        slots_module.init_app(App())


def test_a_reservation_is_cancelled_when_its_call_ends_first_but_a_held_slot_is_not(tmp_path):
    slots = RecognitionSlots(tmp_path, 2)
    slots.reserve("CA1")
    held, _ = slots.hold("CA2")
    slots.cancel("CA1")
    slots.cancel("CA2")
    assert slots.in_use() == 1
    held.release()
    assert slots.in_use() == 0


def test_threads_of_one_process_racing_for_slots_never_get_more_than_there_are(tmp_path):
    slots, results = RecognitionSlots(tmp_path, 3), []
    threads = [threading.Thread(target=lambda i=i: results.append(slots.hold(f"CA{i}")[0])) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 12 and sum(slot is not None for slot in results) == 3


def test_counting_the_slots_never_makes_a_stream_miss_its_reservation(tmp_path):
    """in_use() looks into each slot while streams take theirs: it must not make one see its slot as busy."""
    slots, stop, missed = RecognitionSlots(tmp_path, 1), threading.Event(), []

    def count():
        while not stop.is_set():
            slots.in_use()

    counter = threading.Thread(target=count)
    counter.start()
    try:
        for call in range(300):
            assert slots.reserve(f"CA{call}") is None
            slot, why = slots.hold(f"CA{call}")
            if slot is None:
                missed.append(why)
                slots.cancel(f"CA{call}")
            else:
                slot.release()
    finally:
        stop.set()
        counter.join()
    assert missed == []
