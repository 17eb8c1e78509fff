import json

import joblib
import numpy as np
import pytest

from ivr.triage.calibration import CALIBRATORS, reliability
from ivr.triage.classifier import Classifier
from training import train

HEADER = "label,text\n"


def corpus(tmp_path, body, name="c.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


@pytest.mark.parametrize("body, message", [
    ("emergency,fire in the hall\nurgent,help me\n", r"line 3: unknown label 'urgent'"),
    ("emergency,fire in the hall\ninquiry,   \n", r"line 3: empty text"),
    ("emergency,fire in the hall\nspam,win a prize\nspam,Fire  in the hall\n", r"line 4: duplicate of line 2"),
])
def test_bad_corpus_rows_name_their_line(tmp_path, body, message):
    with pytest.raises(train.CorpusError, match=message):
        train.read_corpus(corpus(tmp_path, body))


def test_bad_corpus_fails_the_command_with_exit_2(tmp_path, capsys):
    path = corpus(tmp_path, "emergency,fire\nwrong,x\n")
    assert train.main(["--data", str(path), "--out", str(tmp_path / "m.joblib")]) == 2
    assert "line 3: unknown label 'wrong'" in capsys.readouterr().err
    assert not (tmp_path / "m.joblib").exists()


def test_header_is_required(tmp_path):
    (tmp_path / "bad.csv").write_text("kind,words\nemergency,fire\n")
    with pytest.raises(train.CorpusError, match="line 1: header"):
        train.read_corpus(tmp_path / "bad.csv")


CORPUS = train.ROOT / "training" / "data" / "corpus.csv"
ONE = [{"estimator": "complement", "alpha": 0.3, "features": "words+chars+cues"}]


def test_training_writes_an_artifact_the_app_accepts(tmp_path):
    out = tmp_path / "triage.joblib"
    card = train.train(CORPUS, out, None, candidates=ONE)
    on_disk = json.loads(out.with_suffix(".json").read_text())
    assert on_disk == card
    assert card["artifact_sha256"] == train.sha256(out)
    assert sorted(card["labels"]) == sorted(train.LABELS)
    assert card["rows"]["train"] + card["rows"]["validation"] >= 400 and card["rows"]["validation"] > 50
    assert card["pipeline"] == ONE[0] and 0 < card["emergency_threshold"] < 1
    assert card["metrics"]["validation"]["macro_f1"] > 0.8
    assert card["metrics"]["validation"]["per_class"]["emergency"]["recall"] >= train.EMERGENCY_RECALL
    classifier = Classifier(out)
    assert classifier.emergency_threshold == card["emergency_threshold"]
    assert classifier.classify("there is a fire in my house help").label == "emergency"
    assert not train.stale(CORPUS, out)


def test_selection_picks_the_best_cross_validated_candidate(tmp_path):
    candidates = [{"estimator": "multinomial", "alpha": 5.0, "features": "words+chars"}, ONE[0]]
    card = train.train(CORPUS, tmp_path / "m.joblib", None, candidates=candidates)
    table = card["metrics"]["selection"]
    assert [row["alpha"] for row in table] == [5.0, 0.3]
    best = max(table, key=lambda row: row["cv_macro_f1"])
    assert card["pipeline"] == {k: best[k] for k in ("estimator", "alpha", "features")}


def test_training_is_reproducible(tmp_path):
    first = train.train(CORPUS, tmp_path / "a.joblib", None, candidates=ONE)
    second = train.train(CORPUS, tmp_path / "b.joblib", None, candidates=ONE)
    assert first["metrics"] == second["metrics"]
    probe = "my neighbour is playing loud music at night"
    assert Classifier(tmp_path / "a.joblib").classify(probe) == Classifier(tmp_path / "b.joblib").classify(probe)


def test_validation_rows_never_train_and_stay_put_as_the_corpus_grows():
    texts, _ = train.read_corpus(CORPUS)
    held = {text for text in texts if train.in_validation(text)}
    assert 0.12 < len(held) / len(texts) < 0.28
    assert all(train.in_validation(text) for text in held)
    assert train.in_validation("  " + next(iter(held)).upper() + " ")


def test_a_worse_model_does_not_replace_the_current_one_without_force(tmp_path, capsys):
    out = tmp_path / "m.joblib"
    train.train(CORPUS, out, None, candidates=ONE)
    kept = out.read_bytes()
    worse = [{"estimator": "multinomial", "alpha": 50.0, "features": "words+chars"}]
    assert train.train(CORPUS, out, None, candidates=worse) is None
    assert out.read_bytes() == kept and "use --force" in capsys.readouterr().err
    assert train.train(CORPUS, out, None, candidates=worse, force=True)["pipeline"] == worse[0]
    assert out.read_bytes() != kept


def test_telephone_copies_train_with_their_sentence_and_are_scored_apart(tmp_path):
    texts, labels = train.read_corpus(CORPUS)
    telephone = tmp_path / "tel.csv"
    rows = ["label,text,voice,source"] + [f"{label},{text} uh,slt,{text}" for text, label in zip(texts, labels)]
    telephone.write_text("\n".join(rows) + "\n")
    card = train.train(CORPUS, tmp_path / "m.joblib", telephone, candidates=ONE)
    assert card["rows"]["train_telephone"] == card["rows"]["train"]
    assert card["rows"]["validation_telephone"] == card["rows"]["validation"]
    assert "validation_telephone" in card["metrics"] and card["telephone_sha256"] == train.sha256(telephone)


def test_a_voice_the_recogniser_does_not_hear_is_left_out_and_named_in_the_card(tmp_path):
    texts, labels = train.read_corpus(CORPUS)
    telephone = tmp_path / "tel.csv"
    # slt is heard (one word added: WER well under the limit); the espeak-ng voice comes out as noise
    rows = ["label,text,voice,source"]
    for n, (text, label) in enumerate(zip(texts, labels)):
        rows += [f"{label},{text} uh,flite/slt,{text}", f"{label},manhattan keep the {n},espeak-ng/en-us+f2,{text}"]
    telephone.write_text("\n".join(rows) + "\n")
    card = train.train(CORPUS, tmp_path / "m.joblib", telephone, candidates=ONE)
    voices = card["metrics"]["voices"]
    assert voices["espeak-ng/en-us"]["wer"] > train.MAX_VOICE_WER and not voices["espeak-ng/en-us"]["used"]
    assert voices["flite/slt"]["wer"] < 0.5 and voices["flite/slt"]["used"]
    assert card["rows"]["train_telephone"] == card["rows"]["train"]      # only slt's copies trained
    assert card["rows"]["validation_telephone"] == card["rows"]["validation"]


def test_if_stale_skips_up_to_date_models_and_retrains_changed_data(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(train, "CANDIDATES", ONE)
    data = tmp_path / "c.csv"
    data.write_bytes(CORPUS.read_bytes())
    out = tmp_path / "m.joblib"
    args = ["--data", str(data), "--out", str(out), "--telephone", "", "--if-stale"]
    assert train.stale(data, out)
    assert train.main(args) == 0
    built = out.stat().st_mtime_ns
    assert train.main(args) == 0
    assert out.stat().st_mtime_ns == built and "up to date" in capsys.readouterr().err
    data.write_text(data.read_text() + "spam,a brand new robocall script about gift cards\n")
    assert train.stale(data, out)


def test_from_db_adds_calls_an_operator_confirmed_or_corrected(tmp_path, capsys, monkeypatch):
    from ivr.store import Database, calls
    from ivr.store.models import Base, Call

    url = f"sqlite:///{tmp_path / 'calls.sqlite3'}"
    db = Database().configure(url)
    Base.metadata.create_all(db.engine)
    texts, _ = train.read_corpus(CORPUS)
    for sid, transcript, label in [("CA1", "there is smoke coming out of the transformer box", "emergency"),
                                   ("CA2", "the same text twice", "complaint"), ("CA3", "the same text twice", "spam"),
                                   ("CA4", texts[0], "inquiry"), ("CA5", "nobody checked this one", None),
                                   ("CA6", "", "spam")]:
        calls.open_call(db, sid, "+919812345678", "+1")
        with db.session() as session:
            call = session.query(Call).filter_by(sid=sid).one()
            call.transcript, call.operator_label = transcript, label
    db.dispose()
    extra = train.read_from_db(url, texts)
    assert extra == [("emergency", "there is smoke coming out of the transformer box"),
                     ("complaint", "the same text twice")]
    monkeypatch.setattr(train, "CANDIDATES", ONE)
    out = tmp_path / "m.joblib"
    assert train.main(["--out", str(out), "--telephone", "", "--from-db", url]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["rows"]["from_db"] == 2


class FixedScores:
    """A stand-in pipeline whose P(emergency) for each text is the number in the text."""
    classes_ = np.array(["complaint", "emergency", "inquiry", "spam"])

    def predict_proba(self, texts):
        p = np.array([float(text) for text in texts])
        rest = (1 - p) / 3
        return np.column_stack([rest, p, rest, rest])


def test_emergency_cut_meets_the_recall_target_on_each_validation_set():
    clean = ([str(0.5 + i / 100) for i in range(40)], ["emergency"] * 40)                # all score high
    telephone = ([str(0.02 + i / 100) for i in range(40)], ["emergency"] * 40)            # garbled: lower
    pooled_cut = train.emergency_threshold(FixedScores(), (clean[0] + telephone[0], clean[1] + telephone[1]))
    cut = train.emergency_threshold(FixedScores(), clean, telephone)
    assert cut < pooled_cut
    for texts, _ in (clean, telephone):
        assert np.mean([float(text) >= cut for text in texts]) >= train.EMERGENCY_RECALL
    assert train.emergency_threshold(FixedScores(), (["0.3"], ["spam"])) == 0.0   # no emergencies: no cut


def test_calibration_is_fitted_on_transcripts_applied_and_recorded(tmp_path):
    texts, labels = train.read_corpus(CORPUS)
    telephone = tmp_path / "tel.csv"
    rows = ["label,text,voice,source"] + [f"{label},uh {' '.join(text.split()[::2])},slt,{text}"
                                          for text, label in zip(texts, labels)]
    telephone.write_text("\n".join(rows) + "\n")
    out = tmp_path / "m.joblib"
    card = train.train(CORPUS, out, telephone, candidates=ONE)
    calibration = card["calibration"]
    assert calibration["method"] in CALIBRATORS and calibration["fitted_on"] == card["rows"]["train_telephone"]
    measured = calibration["validation_telephone"]
    assert 0 <= measured["after"]["ece"] < measured["before"]["ece"]      # the shown number got more honest
    assert sum(row["n"] for row in measured["after"]["reliability"]) == card["rows"]["validation_telephone"]
    assert 0 < card["early_route_threshold"] < 1 and measured["early_route"]["emergency_recall"] >= train.EARLY_ROUTE_RECALL
    model = joblib.load(out)
    probe = "hello hello"
    base = model.base.predict_proba([probe])[0]
    shown = Classifier(out).classify(probe).probabilities
    assert shown == {str(k): round(float(v), 4) for k, v in zip(model.classes_, model.predict_proba([probe])[0])}
    assert max(abs(shown[str(k)] - v) for k, v in zip(model.classes_, base)) > 0.02   # not the raw NB scores


def test_a_calibrator_maps_overconfident_scores_to_observed_frequencies():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 2000)
    right = rng.random(2000) < 0.7                        # the top class is right 70 % of the time...
    top = np.where(right, y, (y + 1) % 4)
    p = np.full((2000, 4), 0.01)
    p[np.arange(2000), top] = 0.97                        # ...but always claims 97 %
    for kind in CALIBRATORS.values():
        fitted = kind().fit(p, y).transform(p)
        assert fitted.max(axis=1).mean() == pytest.approx(0.7, abs=0.05)
        assert np.allclose(fitted.sum(axis=1), 1.0)
    assert reliability(p.max(axis=1), top == y)["ece"] == pytest.approx(0.27, abs=0.03)
