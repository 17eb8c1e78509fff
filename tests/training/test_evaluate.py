import json

from training import evaluate
from training.train import ROOT

MODEL = ROOT / "models" / "triage.joblib"


def test_prints_the_contracted_json(tmp_path, capsys):
    data = tmp_path / "eval.csv"
    data.write_text("label,text\n"
                    "emergency,help there is a fire in my house\n"
                    "inquiry,how do i check the status of my fir\n"
                    "complaint,my neighbour plays loud music every night\n"
                    "spam,congratulations you have won a free cruise press one\n"
                    "inquiry,\n")
    assert evaluate.main([str(data), "--model", str(MODEL)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"n", "accuracy", "macro_f1", "per_class", "confusion"}
    assert result["n"] == 5
    assert set(result["per_class"]) == {"emergency", "inquiry", "complaint", "spam"}
    assert set(result["per_class"]["spam"]) == {"precision", "recall", "f1"}
    assert result["confusion"]["inquiry"]["none"] == 1          # the empty text: no class, never a crash
    assert sum(sum(row.values()) for row in result["confusion"].values()) == 5
    assert result["accuracy"] == sum(result["confusion"][k][k] for k in result["confusion"]) / 5


def test_refuses_unknown_labels_and_missing_files(tmp_path, capsys):
    data = tmp_path / "bad.csv"
    data.write_text("label,text\nurgent,help\n")
    assert evaluate.main([str(data), "--model", str(MODEL)]) == 2
    assert "line 2: unknown label 'urgent'" in capsys.readouterr().err
    assert evaluate.main([str(tmp_path / "missing.csv"), "--model", str(MODEL)]) == 2


def test_refuses_a_tampered_model(tmp_path, capsys):
    (tmp_path / "m.joblib").write_bytes(MODEL.read_bytes() + b"x")
    (tmp_path / "m.json").write_text(MODEL.with_suffix(".json").read_text())
    data = tmp_path / "e.csv"
    data.write_text("label,text\nspam,hello\n")
    assert evaluate.main([str(data), "--model", str(tmp_path / "m.joblib")]) == 2
    assert "python -m training.train" in capsys.readouterr().err
