"""``search`` / ``report`` / ``plot`` / ``export`` end to end on the tiny space and digits."""
import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from lowformer_nas.cli import main
from lowformer_nas.rundir.pareto import pareto_mask

BUDGET_MS = 1.0  # tiny nets on jetson-tx2 predict ~0.8-1.1 ms: some feasible, some not
BASE = ["search", "--target", "jetson", "--latency-budget", "1ms", "--space", "tiny",
        "--trials", "16", "--seed", "3"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "r"
    assert main(BASE + ["--out", str(out), "--references", "lowformer_b0"]) == 0
    return out


def _rows(run):
    with open(run / "trials.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_all_files_written(run):
    for name in ("config.yaml", "trials.csv", "pareto.html", "pareto.json", "summary.md",
                 "reference.json", "study.journal"):
        assert (run / name).is_file(), name
    assert any((run / "models").glob("B*.yaml"))


def test_trials_csv_columns_and_constraint(run):
    rows = _rows(run)
    assert len(rows) == 16
    for col in ("number", "state", "latency_ms", "score", "naswot", "synflow", "gradnorm",
                "accuracy", "p:stage3.attn_stride", "config"):
        assert col in rows[0]
    assert {r["state"] for r in rows} == {"COMPLETE"}
    for r in rows:
        feasible = float(r["latency_ms"]) <= BUDGET_MS
        assert r["feasible"] == str(feasible)
        if not feasible:  # rejected before any proxy ran
            assert r["score"] == "" and r["naswot"] == ""


def test_pareto_data(run):
    data = json.loads((run / "pareto.json").read_text())
    feas = [t for t in data["trials"] if t["feasible"] and not t["duplicate"]]
    pts = np.array([[t["score"], t["latency_ms"]] for t in feas])
    mask = pareto_mask(pts, (True, False))
    assert sorted(data["front"]) == sorted(t["number"] for t, m in zip(feas, mask) if m)
    fam = [data["family"][n] for n in ("B0", "B1", "B2", "B3") if data["family"][n]]
    lats = [p["latency_ms"] for p in fam]
    assert lats == sorted(lats) and len(set(lats)) == len(lats) and max(lats) <= BUDGET_MS
    assert data["family"]["B3"]["score"] == max(t["score"] for t in feas)
    ref = data["references"][0]
    assert ref["name"] == "lowformer_b0" and math.isfinite(ref["score"])
    assert data["counts"]["zc"]["total"] == 16
    infeasible = [t for t in data["trials"] if t["feasible"] is False]
    assert infeasible and all(not t["on_front"] and t["score"] is None for t in infeasible)
    labelled = {t["family"]: t["number"] for t in data["trials"] if t["family"]}
    assert labelled == {n: p["number"] for n, p in data["family"].items() if p}
    assert all(t["config_text"] for t in data["trials"])  # hover text has the config


def test_plot_figure_from_data(run):
    from lowformer_nas.report.plots import figure

    data = json.loads((run / "pareto.json").read_text())
    names = [tr.name for tr in figure(data).data]
    assert names[0].startswith("infeasible") and "Pareto front" in names and "B0-B3" in names
    assert any(n.startswith("official") for n in names)


def test_family_yaml_loads_everywhere(run):
    import timm
    import torch

    import lowformer_nas.arch.builder  # noqa: F401  registers the timm entrypoint
    from lowformer_nas.arch.builder import build_model
    from lowformer_nas.arch.yaml_io import load_config

    path = run / "models" / "B3.yaml"
    text = path.read_text()
    assert "latency" in text.splitlines()[1] and "sha256" in text
    cfg = load_config(path)
    build_model(cfg, num_classes=10)
    model = timm.create_model("lowformer_nas", arch=str(path), num_classes=10)
    assert model.eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


def test_summary_and_config(run):
    import yaml

    text = (run / "summary.md").read_text()
    for word in ("B0-B3", "Pareto front", "Spearman", "lowformer_b0", "NSGA-II"):
        assert word in text
    # the proxy's measured fidelity and what a 32 px proxy cannot see, on the page and YAMLs
    assert "- proxy fidelity (naswot" in text and "see 2x2 and 1x1 maps" in text
    header = next((run / "models").glob("B*.yaml")).read_text()
    assert "# proxy fidelity (naswot" in header and "2x2 and 1x1 maps" in header
    assert "proxy fidelity (naswot" in (run / "pareto.html").read_text()
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["settings"]["budget_ms"] == BUDGET_MS and cfg["profile"]["sha256"]
    assert cfg["versions"]["optuna"].startswith("5")


def test_studies_name_their_metrics(run):
    """optuna-dashboard and Optuna's plots label the objectives by name, not "Objective 0"."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(run / "study.journal")))
    names = [optuna.load_study(study_name=s.study_name, storage=storage).metric_names
             for s in optuna.get_all_study_summaries(storage)]
    assert names == [["naswot", "latency_ms"]]


def test_report_json_and_text(run, capsys):
    assert main(["report", str(run), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["zc"]["COMPLETE"] == 16 and "B3" in data["family"]
    assert main(["report", str(run)]) == 0
    assert "B3: trial" in capsys.readouterr().out


def test_plot_rewrites_page(run, tmp_path):
    out = tmp_path / "p.html"
    assert main(["plot", str(run), "--output", str(out)]) == 0
    html = out.read_text()
    assert "Pareto front" in html and "budget" in html and "lowformer_b0" in html


@pytest.mark.parametrize("fmt,suffix", [("yaml", ".yaml"), ("onnx", ".onnx"),
                                        ("torchscript", ".pt")])
def test_export(run, tmp_path, fmt, suffix):
    out = tmp_path / fmt
    assert main(["export", str(run), "--format", fmt, "--output", str(out)]) == 0
    files = sorted(out.glob(f"B*{suffix}"))
    assert files and files[-1].name == f"B3{suffix}"
    if fmt == "onnx":
        import onnxruntime as ort

        sess = ort.InferenceSession(str(files[-1]))
        y = sess.run(None, {"input": np.zeros((1, 3, 32, 32), np.float32)})[0]
        assert y.shape == (1, 1000)


@pytest.mark.parametrize("extra,needle", [
    (["--latency-budget", "5"], "unit"),
    (["--latency-budget=-1ms"], "must be"),
    (["--latency-budget", "0ms"], "> 0"),
    (["--space", "nope"], "unknown search space"),
    (["--dataset", "mnist"], "unknown dataset"),
    (["--proxy", "magic"], "--proxy"),
    (["--backend", "spark"], "--backend"),
    (["--trials", "0"], "--trials"),
    (["--target", "nowhere-device"], "unknown latency target"),
    (["--dataset", "imagefolder:/does/not/exist"], "not a directory"),
    (["--references", "lowformer_b9"], "--references"),
    (["--address", "ray://x:1"], "--backend ray"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, extra, needle):
    out = tmp_path / "out"
    args = ["search", "--target", "jetson", "--latency-budget", "1ms", "--space", "tiny",
            "--trials", "2", "--out", str(out)]
    code = main(args + extra)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and needle in err
    assert not out.exists()


def test_foreign_or_different_out_dir_refused(run, tmp_path, capsys):
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "file.txt").write_text("x")
    assert main(BASE + ["--out", str(junk)]) == 2
    assert "non-empty" in capsys.readouterr().err
    before = (run / "trials.csv").read_text()
    assert main(BASE[:-1] + ["4", "--out", str(run)]) == 2  # another seed: another search
    assert "different search" in capsys.readouterr().err
    assert (run / "trials.csv").read_text() == before


def test_report_on_non_run_dir(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_import_stays_light():
    code = ("import lowformer_nas, lowformer_nas.search, lowformer_nas.report, sys; "
            "assert 'ray' not in sys.modules and 'plotly' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rdb_storage_url(tmp_path):
    """--storage takes an RDB URL (SQLite here, PostgreSQL in production): no journal file."""
    out = tmp_path / "r"
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    args = BASE[:-4] + ["--trials", "4", "--storage", url, "--references", "none", "--quiet",
                        "--out", str(out)]
    assert main(args) == 0
    assert (tmp_path / "shared.db").is_file() and not (out / "study.journal").exists()
    assert len(_rows(out)) == 4
    import sqlite3  # the study file is in write-ahead-log mode (one fsync per checkpoint)

    with sqlite3.connect(tmp_path / "shared.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert main(args[:-1] + [str(tmp_path / "second-worker")]) == 0  # same study, new dir
    assert len(_rows(tmp_path / "second-worker")) == 4  # the shared study already holds 4


def test_measure_replaces_prediction(tmp_path):
    import yaml

    out = tmp_path / "m"
    args = BASE[:-4] + ["--trials", "2", "--measure", "--latency-budget", "1s",
                        "--references", "none", "--quiet", "--out", str(out)]
    assert main(args) == 0
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["settings"]["measure"] is True
    assert cfg["measure_protocol"]["protocol"].startswith("lfn-measure/1: fresh process")
    assert all(float(r["latency_ms"]) > 0 for r in _rows(out))
    assert "measured" in (out / "models" / "B3.yaml").read_text().splitlines()[1]


def test_rdb_storage_keeps_different_searches_apart(tmp_path):
    """Two searches with different options in one database: separate studies, no mixing."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    common = BASE[:-4] + ["--trials", "3", "--storage", url, "--references", "none", "--quiet"]
    assert main(common + ["--out", str(tmp_path / "a")]) == 0
    other = [a if a != BASE[BASE.index("--latency-budget") + 1] else "0.5ms" for a in common]
    assert other != common
    assert main(other + ["--out", str(tmp_path / "b")]) == 0
    a, b = _rows(tmp_path / "a"), _rows(tmp_path / "b")
    assert len(a) == 3 and len(b) == 3  # b ran its own 3 trials instead of reusing a's
    assert all(float(r["latency_ms"]) <= 0.5 for r in b if r["feasible"] == "True")


def test_two_concurrent_workers_share_one_study(tmp_path):
    """Two processes at once on one --storage study: each trial recorded once, and what they
    saw together is the study (trials and Pareto front)."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    args = BASE[:-4] + ["--trials", "12", "--storage", url, "--references", "none", "--quiet"]
    procs = [subprocess.Popen([sys.executable, "-m", "lowformer_nas", *args, "--out",
                               str(tmp_path / f"w{i}")], stderr=subprocess.PIPE, text=True)
             for i in (1, 2)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()[-2000:]
    assert main(args + ["--out", str(tmp_path / "all")]) == 0  # no new trials: the full view
    seen = {}
    for w in ("w1", "w2"):
        rows = _rows(tmp_path / w)
        assert len({r["number"] for r in rows}) == len(rows)  # each trial once
        for r in rows:
            if r["state"] == "COMPLETE":
                r.pop("seconds")
                assert seen.setdefault(r["number"], r) == r  # both saw the same record
    study = {r["number"]: r for r in _rows(tmp_path / "all") if r["state"] == "COMPLETE"}
    assert len(study) >= 12
    for r in study.values():
        r.pop("seconds")
    assert seen == study
    front = json.loads((tmp_path / "all" / "pareto.json").read_text())["front"]
    feas = [r for r in seen.values() if r["feasible"] == "True" and r["duplicate"] == "False"]
    pts = np.array([[float(r["score"]), float(r["latency_ms"])] for r in feas])
    mask = pareto_mask(pts, (True, False))
    assert sorted(front) == sorted(int(r["number"]) for r, m in zip(feas, mask) if m)


def test_cli_defaults_are_the_settings_defaults():
    """The search command writes no default of its own: each comes from ``SearchSettings``."""
    import dataclasses

    from lowformer_nas.cli import build_parser
    from lowformer_nas.search.settings import SearchSettings

    args = build_parser().parse_args(["search", "--target", "jetson", "--latency-budget", "1ms"])
    for f in dataclasses.fields(SearchSettings):
        if f.name in ("target", "budget", "budget_ms"):
            continue
        cli = getattr(args, f.name)
        if f.name == "references":
            cli = [r for r in cli.split(",") if r]
        assert cli == f.default or (f.default is dataclasses.MISSING
                                    and cli == f.default_factory()), f.name


@pytest.mark.parametrize("space, extra, want", [
    # the bare command: the lowformer space's search_defaults (chosen by the audit)
    ("lowformer", {}, ("zero-cost", 64, "imagenet-anchored", "accuracy", 6, 5000)),
    # the user's own choice wins over the space's
    ("lowformer", {"proxy": "train", "train_score": "loss", "epochs": 2, "zc_score": "zico"},
     ("train", 64, "zico", "loss", 2, 5000)),
    ("lowformer", {"proxy_resolution": 32, "zc_score": "naswot"},
     ("zero-cost", 32, "naswot", "accuracy", 6, 5000)),
    # a space without search_defaults: the fallbacks
    ("tiny", {}, ("zero-cost", 32, "naswot", "accuracy", 6, 5000)),
])
def test_search_defaults_come_from_the_space(space, extra, want):
    from lowformer_nas.search.settings import SearchSettings

    s = SearchSettings(target="jetson", budget="1ms", space=space, **extra)
    assert (s.proxy, s.proxy_resolution, s.zc_score, s.train_score, s.epochs,
            s.max_train) == want
    again = SearchSettings.from_dict(s.to_dict())
    assert again.to_dict() == s.to_dict() and not s.differences(again)


def test_runs_from_before_train_score_read_back_as_accuracy():
    """A config.yaml written before --train-score existed: its trained trials were ranked by
    accuracy, whatever today's default is."""
    from lowformer_nas.search.settings import SearchSettings

    old = SearchSettings(target="jetson", budget="1ms", proxy="train").to_dict()
    del old["train_score"]
    assert SearchSettings.from_dict(old).train_score == "accuracy"
