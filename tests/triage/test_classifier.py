import json
import shutil

import pytest
import sklearn

from ivr.triage.classifier import NO_CLASS, Classification, Classifier, ModelError
from ivr.triage.reconcile import Thresholds, reconcile
from training.train import ROOT

MODEL = ROOT / "models" / "triage.joblib"
T = Thresholds(emergency=0.80, confident=0.60, risk=0.70)


@pytest.fixture(scope="module")
def classifier():
    return Classifier(MODEL)


@pytest.mark.parametrize("text, label", [
    ("help there is a fire in my building please come fast", "emergency"),
    ("a man with a knife is attacking people near the bus stand", "emergency"),
    ("how do i check the status of my fir", "inquiry"),
    ("my neighbour plays loud music every night", "complaint"),
    ("congratulations you have won a free cruise press one", "spam"),
])
def test_classifies_clear_sentences(classifier, text, label):
    result = classifier.classify(text)
    assert result.label == label
    assert result.confidence == max(result.probabilities.values())
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("text", ["", "   ", "12 34 99", "\x00\x01\x02 ##", None])
def test_wordless_text_has_no_class(classifier, text):
    assert classifier.classify(text) == NO_CLASS


@pytest.mark.parametrize("text", ["help " * 5000, "ஆபத்து உதவி", "a", "\U0001F525 fire", "\x00\xffþ\x81garbage"])
def test_odd_text_classifies_without_error(classifier, text):
    assert classifier.classify(text).label in {"emergency", "inquiry", "complaint", "spam"}


def copy_model(tmp_path):
    shutil.copy(MODEL, tmp_path / "triage.joblib")
    shutil.copy(MODEL.with_suffix(".json"), tmp_path / "triage.json")
    return tmp_path / "triage.joblib"


def test_tampered_artifact_is_refused_with_the_rebuild_command(tmp_path):
    path = copy_model(tmp_path)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ModelError, match=r"triage.joblib does not match the checksum.*python -m training.train"):
        Classifier(path)


def test_missing_card_is_refused(tmp_path):
    path = copy_model(tmp_path)
    path.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match=r"triage.json is missing"):
        Classifier(path)


def test_wrong_labels_in_card_are_refused(tmp_path):
    path = copy_model(tmp_path)
    card = json.loads(path.with_suffix(".json").read_text())
    card["labels"] = ["emergency", "other"]
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="expected"):
        Classifier(path)


@pytest.mark.parametrize("recorded", ["1.0.2", None])
def test_card_from_another_scikit_learn_is_refused_with_the_rebuild_command(tmp_path, recorded):
    path = copy_model(tmp_path)
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["sklearn_version"] == sklearn.__version__   # the committed card matches what is installed
    if recorded is None:
        del card["sklearn_version"]
    else:
        card["sklearn_version"] = recorded
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError) as refused:
        Classifier(path)
    message = str(refused.value)
    assert "\n" not in message
    assert str(path) in message and str(path.with_suffix(".json")) in message
    assert f"scikit-learn {recorded or 'an unrecorded version'} " in message
    assert f"but {sklearn.__version__} is installed" in message
    assert message.endswith("rebuild it with `python -m training.train`")


def test_classify_gives_scikit_learns_default_probabilities(classifier):
    texts = ["help there is a fire", "how do i get my passport verified", "zzzz", "fire " * 800,
             "congratulations you have won a prize press one", "\U0001F525 fire"]
    for text in texts:
        expected = classifier._pipeline.predict_proba([" ".join(text.split())])[0]
        got = classifier.classify(text).probabilities
        assert got == {str(k): round(float(v), 4) for k, v in zip(classifier._pipeline.classes_, expected)}


def reading(label, confidence):
    return Classification(label, confidence, {label: confidence} if label else {})


READINGS = {
    "E+": reading("emergency", 0.95),   # above the route-at-once threshold
    "E-": reading("emergency", 0.40),   # past the model's recall cut, below every other threshold
    "I+": reading("inquiry", 0.90), "I-": reading("inquiry", 0.40),
    "C+": reading("complaint", 0.90), "C-": reading("complaint", 0.40),
    "S++": reading("spam", 0.95), "S+": reading("spam", 0.75), "S-": reading("spam", 0.40),
    "none": NO_CLASS,
}
# Every cell of the reconcile table. Rows: key pressed ("-" none, "9" any other key) and screening risk.
# prank = operator flagged suspected-prank; silent = operator flagged silent-caller.
GRID = """
key risk  E+        E-        I+        I-        C+        C-        S++       S+        S-        none
1   low   emergency emergency emergency emergency emergency emergency prank     prank     emergency emergency
2   low   emergency operator  inquiry   inquiry   operator  inquiry   operator  operator  inquiry   inquiry
3   low   emergency operator  operator  complaint complaint complaint operator  operator  complaint complaint
5   low   emergency silent    silent    silent    silent    silent    silent    silent    silent    silent
-   low   emergency emergency inquiry   operator  complaint operator  spam      spam      operator  operator
9   low   emergency emergency inquiry   operator  complaint operator  spam      spam      operator  operator
1   high  emergency emergency emergency emergency emergency emergency prank     prank     emergency emergency
2   high  emergency operator  inquiry   inquiry   operator  inquiry   operator  operator  inquiry   inquiry
3   high  emergency operator  operator  complaint complaint complaint operator  operator  complaint complaint
5   high  emergency silent    silent    silent    silent    silent    silent    silent    silent    silent
-   high  emergency emergency operator  operator  operator  operator  spam      spam      operator  operator
9   high  emergency emergency operator  operator  operator  operator  spam      spam      operator  operator
"""
FLAGGED = {"prank": ("operator", ("suspected-prank",)), "silent": ("operator", ("silent-caller",)),
           "spam": ("operator", ("spam-reading",))}


def grid_cells():
    rows = [line.split() for line in GRID.strip().splitlines()]
    header = rows[0][2:]
    for key, risk, *routes in rows[1:]:
        for column, route in zip(header, routes):
            yield pytest.param(None if key == "-" else key, column, 0.8 if risk == "high" else 0.0, route,
                               id=f"key{key}-{risk}-{column}")


@pytest.mark.parametrize("digit, column, risk, expected", list(grid_cells()))
def test_reconcile_table(digit, column, risk, expected):
    decision = reconcile(digit, READINGS[column], T, risk)
    route, flags = FLAGGED.get(expected, (expected, ()))
    assert (decision.route, tuple(decision.flags)) == (route, flags)
    assert decision.reasons[0] == (f"keypad: {digit}" if digit else "keypad: none")
    assert decision.reasons[1] == READINGS[column].reason


def test_the_grid_covers_every_cell():
    assert len(list(grid_cells())) == 6 * 10 * 2


@pytest.mark.parametrize("digit", ["1", "2", "3", "5", None, "?"])
@pytest.mark.parametrize("reading_", list(READINGS.values()))
def test_any_fault_goes_to_the_operator(digit, reading_):
    decision = reconcile(digit, reading_, T, 0, faults=["speech engine failed: boom"])
    assert decision.route == "operator"
    assert "fault: speech engine failed: boom" in decision.reasons


@pytest.mark.parametrize("reading_", list(READINGS.values()))
@pytest.mark.parametrize("digit", ["1", "5"])
def test_pressing_1_or_5_always_reaches_a_human(digit, reading_):
    assert reconcile(digit, reading_, T, 1.0).route in {"emergency", "operator"}


def test_disagreement_shows_both_readings():
    decision = reconcile("2", READINGS["C+"], T)
    assert "disagreement: keypad says inquiry, transcript says complaint" in decision.reasons


@pytest.mark.parametrize("label, confidence, wording", [
    ("emergency", 0.12, "possible emergency"), ("emergency", 0.4999, "possible emergency"),
    ("emergency", 0.5, "emergency"), ("emergency", 0.93, "emergency"), ("inquiry", 0.2, "inquiry"),
])
def test_a_recall_cut_emergency_below_even_odds_is_worded_possible(label, confidence, wording):
    reading = Classification(label, confidence, {label: confidence})
    assert reading.wording == wording
    assert reading.reason == f"classifier: {wording} {confidence:.2f}"


def test_the_shown_number_is_calibrated_and_consistent_with_the_label(classifier):
    card = classifier.card
    assert card["calibration"]["method"] in ("temperature", "sigmoid", "isotonic")
    held = card["calibration"]["heldout_telephone"]
    assert held["after"]["n"] > 100 and 0 <= held["after"]["ece"] < 0.2 and "reliability" in held["after"]
    result = classifier.classify("hello hello")
    raw = classifier._pipeline.base.predict_proba(["hello hello"])[0]
    assert abs(result.probabilities["emergency"] - raw[list(classifier._pipeline.classes_).index("emergency")]) > 0.01
    assert result.confidence == result.probabilities[result.label]    # the number shown is the label's own
    if result.label == "emergency" and result.confidence < 0.5:
        assert result.reason.startswith("classifier: possible emergency")


def test_early_routing_uses_the_cards_validated_threshold_unless_configured(app, database_url, stand_in):
    from conftest import make_app

    classifier = app.extensions["ivr.classifier"]
    assert classifier.early_route_threshold == classifier.card["early_route_threshold"]
    assert app.config["TRIAGE_EMERGENCY_THRESHOLD"] == classifier.early_route_threshold
    assert Thresholds.from_config(app.config).emergency == classifier.early_route_threshold
    configured = make_app(database_url, stand_in, TRIAGE_EMERGENCY_THRESHOLD=0.9)
    try:
        assert configured.config["TRIAGE_EMERGENCY_THRESHOLD"] == 0.9
    finally:
        configured.extensions["ivr.db"].dispose()
