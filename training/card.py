"""The model card written beside the artifact, and whether an artifact is stale for its data."""
import hashlib
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import joblib
import sklearn

from training.conditions import HELD_OUT
from training.corpus import ROOT


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write(pipeline, out, data, telephone_path, choice, cuts, metrics, calibration, parts, extra, started, targets):
    """Dump the artifact and write its card; TARGETS: the recall targets and seed training used."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, out, compress=("xz", 6))   # about a third smaller than zlib; loads in ~0.1 s
    now = datetime.now(timezone.utc)
    card = {
        "name": "triage",
        "version": now.strftime("%Y%m%d%H%M%S"),
        "trained_at": now.isoformat(timespec="seconds"),
        "labels": [str(label) for label in pipeline.classes_],
        "pipeline": choice,
        "emergency_threshold": cuts[0],
        "emergency_recall_target": targets["emergency"],
        "early_route_threshold": cuts[1],
        "early_route_recall_target": targets["early_route"],
        "held_out_voices": list(HELD_OUT),
        "calibration": calibration,
        "data": relative(data),
        "data_sha256": sha256(data),
        "telephone": relative(telephone_path) if telephone_path and Path(telephone_path).exists() else None,
        "telephone_sha256": sha256(telephone_path) if telephone_path and Path(telephone_path).exists() else None,
        "rows": {name: len(rows[0]) for name, rows in parts.items()} | {"from_db": len(extra)},
        "seed": targets["seed"],
        "metrics": metrics,
        "training_seconds": round(time.perf_counter() - started, 2),
        "sklearn_version": sklearn.__version__,
        "artifact": out.name,
        "artifact_sha256": sha256(out),
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def relative(path):
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def stale(data, out, telephone_path=None):
    """True when the artifact or its card is missing, or the card names other training data."""
    card = Path(out).with_suffix(".json")
    if not Path(out).exists() or not card.exists():
        return True
    try:
        card = json.loads(card.read_text())
    except ValueError:
        return True
    telephone = sha256(telephone_path) if telephone_path and Path(telephone_path).exists() else None
    return card.get("data_sha256") != sha256(data) or card.get("telephone_sha256") != telephone
