"""Bookkeeping whose cost per trial does not grow with the study (found 7), and the journal
and trials.csv it relies on: appended lines, torn tails, listings equal to Optuna's own."""
from __future__ import annotations

import csv

import optuna
import pytest

from lowformer_nas.cli import main
from lowformer_nas.rundir.rows import read_trials_csv

SEARCH = ["search", "--target", "jetson", "--latency-budget", "0.01ms", "--space", "tiny",
          "--references", "none"]  # every config over budget: no proxy runs


def test_per_trial_work_does_not_grow_with_the_study(tmp_path, monkeypatch):
    """Before: every finished trial rebuilt the row of every trial (a config build each) and
    rewrote trials.csv, so 20 more trials cost ~630 more builds and 20 more CSV writes."""
    import lowformer_nas._io as io_mod
    from lowformer_nas.space import SearchSpace

    builds, csv_writes = [0], [0]
    build, write = SearchSpace.build, io_mod.atomic_write_bytes

    def counted_build(self, params):
        builds[0] += 1
        return build(self, params)

    def counted_write(path, data):
        csv_writes[0] += str(path).endswith("trials.csv")
        return write(path, data)

    monkeypatch.setattr(SearchSpace, "build", counted_build)
    monkeypatch.setattr(io_mod, "atomic_write_bytes", counted_write)
    work = {}
    for n in (20, 40):
        builds[0] = csv_writes[0] = 0
        assert main(SEARCH + ["--trials", str(n), "--out", str(tmp_path / str(n))]) == 0
        rows = read_trials_csv(tmp_path / str(n) / "trials.csv")
        assert [r["number"] for r in rows] == list(range(n))
        work[n] = (builds[0], csv_writes[0])
    assert work[40][0] - work[20][0] <= 2 * 20, work  # a trial: its config, its row
    assert work[40][1] <= 4, work  # trials.csv whole: stage start, end (+ a 30 s interval)


def test_rows_are_appended_as_trials_finish(tmp_path):
    """trials.csv holds each finished trial right away (a killed run's file is current)."""
    out = tmp_path / "run"
    assert main(SEARCH + ["--trials", "5", "--quiet", "--out", str(out)]) == 0
    assert main(SEARCH + ["--trials", "9", "--quiet", "--out", str(out)]) == 0  # resumed
    with open(out / "trials.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["number"]) for r in rows] == list(range(9))
    assert all(r["state"] == "COMPLETE" and r["feasible"] == "False" for r in rows)


def test_a_torn_last_csv_line_is_skipped(tmp_path):
    out = tmp_path / "run"
    assert main(SEARCH + ["--trials", "3", "--quiet", "--out", str(out)]) == 0
    path = out / "trials.csv"
    full = path.read_text()
    path.write_text(full + full.splitlines()[-1][:40])  # a row being appended right now
    assert len(read_trials_csv(path)) == 3
    assert main(SEARCH + ["--trials", "4", "--quiet", "--out", str(out)]) == 0  # resumes
    assert [r["number"] for r in read_trials_csv(path)] == [0, 1, 2, 3]


def test_the_journal_is_optunas_own(tmp_path):
    """The run directory's study is Optuna's journal through its public API: Optuna's
    ``JournalFileStorage`` (and so optuna-dashboard) reads the file a search wrote."""
    from optuna.storages.journal import JournalFileBackend

    out = tmp_path / "run"
    assert main(SEARCH + ["--trials", "6", "--quiet", "--out", str(out)]) == 0
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(out / "study.journal")))
    (summary,) = optuna.get_all_study_summaries(storage)
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    assert [t.number for t in study.trials] == list(range(6))
    assert {t.state.name for t in study.trials} == {"COMPLETE"}
    assert study.metric_names[1] == "latency_ms"


@pytest.mark.parametrize("extra", [[], ["--sampler", "tpe"]], ids=["nsga2", "tpe"])
def test_same_samples_as_optunas_own_nsga2_bookkeeping(tmp_path, extra):
    """A seeded search is reproducible: two runs with the same seed give the same
    trials.csv configs."""
    for name in ("a", "b"):
        assert main(SEARCH + ["--trials", "24", "--quiet", "--out", str(tmp_path / name)]
                    + extra) == 0
    configs = [[r["config"] for r in read_trials_csv(tmp_path / n / "trials.csv")]
               for n in ("a", "b")]
    assert configs[0] == configs[1]


def test_pages_are_written_while_the_search_runs(tmp_path, monkeypatch):
    """A long search shows its front before it ends (issue 11): the CLI's search rewrites
    pareto.html and summary.md every PAGES_S seconds (0 here: after every trial), marked as
    interim; the final pages carry no such mark."""
    from lowformer_nas.report import finish
    from lowformer_nas.search import bookkeeping

    seen = []
    real = finish.interim_pages

    def spy(run_path, settings):
        real(run_path, settings)
        seen.append(((run_path / "summary.md").read_text(), (run_path / "pareto.html").stat()))

    monkeypatch.setattr(bookkeeping, "PAGES_S", 0.0)
    monkeypatch.setattr(finish, "interim_pages", spy)
    out = tmp_path / "r"
    assert main(SEARCH + ["--trials", "4", "--out", str(out)]) == 0
    assert len(seen) == 4
    assert "interim: written" in seen[0][0] and "(1 trials so far)" in seen[0][0]
    assert "(4 trials so far)" in seen[-1][0]
    final = (out / "summary.md").read_text()
    assert "interim" not in final and "interim" not in (out / "pareto.html").read_text()


def test_the_typed_row_is_the_csv_header():
    """``TrialRow`` lists exactly trials.csv's fixed columns (its params ride as ``p:``)."""
    from lowformer_nas.rundir.rows import BASE_COLUMNS, TrialRow, make_row, params_of
    from lowformer_nas.space import load_space

    assert list(TrialRow.__annotations__) == [*BASE_COLUMNS, "config"]
    space = load_space("tiny")
    params = space.to_params(space.sample(0))
    row = make_row("zc", 3, "COMPLETE", params, {"latency_ms": 1.5, "feasible": True}, space)
    verify = {"trial_latency_ms", "predicted_ms", "measured_ms", "profile_sha"}  # the loop's
    assert set(row) - {f"p:{k}" for k in params} == set(TrialRow.__annotations__) - verify
    assert params_of(row) == params


def test_every_write_of_trials_csv_carries_the_annotation(tmp_path):
    """TrialsFile is the one writer: rewrite, append and verify's reannotate all apply the
    verify loop's latest latencies, so no path can write a row without them."""
    from lowformer_nas.rundir.rows import TrialsFile, make_row
    from lowformer_nas.space import load_space

    space = load_space("tiny")
    params = {d: choices[0] for d, choices in space.dimensions().items()}
    rows = [make_row("search", n, "COMPLETE", params, {"latency_ms": 9.0}, space)
            for n in range(3)]
    ms = {"now": 5.0}

    def annotate(rs):
        return [{**r, "measured_ms": ms["now"]} for r in rs]

    plain = TrialsFile(tmp_path / "trials.csv", space)
    plain.rewrite(rows[:2])
    assert [r["measured_ms"] for r in read_trials_csv(plain.path)] == [None, None]
    noted = TrialsFile(plain.path, space, annotate)
    noted.append(rows[2:])
    assert [r["measured_ms"] for r in read_trials_csv(plain.path)] == [None, None, 5.0]
    ms["now"] = 7.0
    noted.reannotate()
    assert [r["measured_ms"] for r in read_trials_csv(plain.path)] == [7.0] * 3
    assert [r["number"] for r in read_trials_csv(plain.path)] == [0, 1, 2]
