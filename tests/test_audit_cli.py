"""``lowformer-nas audit``: end to end on a small table, and bad inputs (one line, exit 2, no
files)."""
import json

import pytest

from lowformer_nas.accuracy.evidence import fidelity_line, load_evidence, resolution_note
from lowformer_nas.accuracy.groundtruth import GroundTruthTable, Recipe, make_row
from lowformer_nas.arch.stats import count_params_macs
from lowformer_nas.cli import main
from lowformer_nas.space import load_space

RECIPE = Recipe(dataset="digits", resolution=32, train_images=60, val_images=30, epochs=2)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """Six tiny-space configs whose 'accuracy' is their parameter rank (known answer: params
    Spearman +1); two of them also with seed 1 (a perfectly agreeing second seed)."""
    path = tmp_path_factory.mktemp("gt") / "gt.csv"
    space = load_space("tiny")
    cfgs = {}
    for s in range(30):
        cfg = space.sample(s)
        cfgs.setdefault(count_params_macs(cfg, 32, 10)[0], cfg)
        if len(cfgs) == 6:
            break
    with GroundTruthTable(path).open() as t:
        for rank, params in enumerate(sorted(cfgs)):
            for seed in ((0, 1) if rank in (0, 3, 5) else (0,)):
                acc = 0.5 + 0.05 * rank
                t.append(make_row(cfgs[params], f"c{rank}", seed, RECIPE, [acc - 0.1, acc],
                                  10.0 - rank, 1.0, 1.0, "cpu"))
    return path


def test_audit_end_to_end(table, tmp_path, capsys):
    out = tmp_path / "audit"
    code = main(["audit", str(table), "--target", "jetson", "--budgets", "1x40",
                 "--bootstrap", "200", "--buckets", "2", "--out", str(out)])
    assert code == 0
    md = (out / "audit.md").read_text()
    rec = json.loads((out / "audit.json").read_text())
    page = (out / "audit.html").read_text()
    assert "<html>" in page and "Proxy audit: 6 architectures" in page
    names = {p["name"]: p for p in rec["proxies"]}
    assert {"params", "MACs", "predicted latency", "naswot", "zico", "expressivity",
            "train 1x40 accuracy", "train 1x40 -loss sum", "surrogate (LOO)"} <= set(names)
    assert names["params"]["agreement"]["spearman"]["value"] == pytest.approx(1.0)
    assert rec["n_archs"] == 6 and rec["noise_pairs"] == 3
    assert rec["noise"]["value"] == pytest.approx(1.0)
    assert "| params | size | +1.00" in md
    err = capsys.readouterr().err
    assert "audit: 6 architectures" in err and "0 value groups reused" in err  # progress on
    stored = (out / "proxy_values.jsonl").read_text().splitlines()
    assert len(stored) == 6 * 2  # zero-cost and one budget, per architecture
    again = main(["audit", str(table), "--target", "jetson", "--budgets", "1x40,1x50",
                  "--bootstrap", "200", "--buckets", "2", "--out", str(out),
                  "--evidence", str(tmp_path / "evidence.json")])
    assert again == 0 and "12 value groups reused" in capsys.readouterr().err
    names2 = {p["name"]: p for p in json.loads((out / "audit.json").read_text())["proxies"]}
    assert all(names2[n] == names[n] for n in names)  # read back exactly as computed
    assert len((out / "proxy_values.jsonl").read_text().splitlines()) == 6 * 3
    records = load_evidence(tmp_path / "evidence.json")
    assert {"params", "naswot", "train 1x50 accuracy"} <= {r.proxy for r in records}
    setting = {"proxy": "zero-cost", "zc_score": "naswot", "dataset": "digits",
               "proxy_resolution": 32}
    line = fidelity_line(setting, records)
    assert line.startswith("proxy fidelity (naswot, digits, 32 px): Spearman ")
    assert "over 6 architectures of gt.csv" in line and "parameter count alone +1.00" in line
    other = fidelity_line(dict(setting, proxy_resolution=64), records)
    assert "not audited at this run's setting (digits, 64 px); at digits, 32 px" in other
    trained = dict(setting, proxy="train", epochs=6, max_train=5000)
    assert "not audited against a ground-truth table" in fidelity_line(trained, records)


def test_proxies_on_another_dataset_than_the_ground_truth(table, tmp_path):
    """``--proxy-dataset``: the bare command's own setting (its dataset) audited against a
    table trained on another one; the evidence says which data the proxies saw."""
    from test_datasets import _fake_fashion

    out, ev = tmp_path / "audit", tmp_path / "evidence.json"
    assert main(["audit", str(table), "--budgets", "none", "--bootstrap", "100",
                 "--proxy-dataset", "fashion-mnist", "--data", str(_fake_fashion(tmp_path)),
                 "--out", str(out), "--evidence", str(ev), "--quiet"]) == 0
    assert "proxy data fashion-mnist" in (out / "audit.md").read_text()
    first = load_evidence(ev)
    assert {r.dataset for r in first} == {"fashion-mnist"}
    # the table's own data next: its records join those of fashion-mnist, none is lost
    assert main(["audit", str(table), "--budgets", "none", "--bootstrap", "100",
                 "--out", str(tmp_path / "own"), "--evidence", str(ev), "--quiet"]) == 0
    both = load_evidence(ev)
    assert {r.dataset for r in both} == {"fashion-mnist", "digits"}
    assert len(both) == 2 * len(first) and [r for r in both if r.dataset != "digits"] == first


def test_audit_writes_the_table_as_an_accuracy_prior(table, tmp_path):
    """``--prior``: the surrogate's training set, loadable by ``--zc-score prior``; the
    forest fitted on it puts the table's best architecture above its worst."""
    from lowformer_nas.accuracy.prior import load_prior

    path = tmp_path / "prior.json"
    assert main(["audit", str(table), "--budgets", "none", "--bootstrap", "100", "--out",
                 str(tmp_path / "a"), "--prior", str(path), "--quiet"]) == 0
    prior = load_prior(path)
    assert (prior.dataset, prior.resolution, len(prior.configs)) == ("digits", 32, 6)
    assert set(prior.cheap[0]) == {"params", "MACs", "naswot", "synflow", "gradnorm", "zico",
                                   "expressivity"}  # no latency: a search's target differs
    best, worst = max(range(6), key=prior.accuracy.__getitem__), min(
        range(6), key=prior.accuracy.__getitem__)
    score = [prior.score(prior.configs[i], prior.cheap[i], 10) for i in (best, worst)]
    assert score[0] > score[1]


@pytest.mark.parametrize("res, note", [(32, "2x2 and 1x1"), (64, "4x4 and 2x2"), (128, None)])
def test_resolution_note_says_when_attention_cannot_be_seen(res, note):
    text = resolution_note(res)
    assert (text is None) if note is None else (note in text)


@pytest.mark.parametrize("args, message", [
    (["missing.csv"], "does not exist"),
    (["{table}", "--budgets", "2y3"], "--budgets must be EPOCHSxIMAGES"),
    (["{table}", "--budgets", "0x100"], "epochs must be >= 1"),
    (["{table}", "--target", "nosuchboard"], "nosuchboard"),
    (["{table}", "--bootstrap", "5"], "--bootstrap must be an integer >= 100"),
    (["{table}", "--proxy-dataset", "mnist"], "'mnist'"),
    (["{foreign}"], "not a ground-truth table"),
    (["{table}", "--recipe-id", "other"], "no rows for recipe 'other'"),
])
def test_bad_input_one_line_exit_2_nothing_written(table, tmp_path, capsys, args, message):
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("a,b\n1,2\n")
    out = tmp_path / "out"
    argv = ["audit"] + [a.format(table=table, foreign=foreign) for a in args] + ["--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()
