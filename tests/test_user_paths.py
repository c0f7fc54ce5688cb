"""The paths users take, as a table: every subcommand with its default flags, the progress display
on, once as in a terminal (a pty) and once as under CI (no TTY, ``CI=true``); every search
backend (optuna, ray, ``--storage``), every proxy kind and every ``--zc-score``; on the tiny
space. Each row must exit 0 and leave the documented files.

Fast by sizing (tiny space, a few trials, one epoch, a few hundred images, one official
reference), never by skipping a path. To cover a new subcommand or flag, add a row to PATHS.
"""
from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from clirun import run_cli

pytestmark = pytest.mark.slow

# 2 ms: every tiny config fits on jetson (predicted 0.5-1.8 ms), so each row has B0-B3 to write
# whatever a worker's sampler draws (at 1 ms about half do not fit: 3 trials missed 1 time in 8)
SEARCH = ("search", "--target", "jetson", "--latency-budget", "2ms", "--space", "tiny",
          "--out", "{out}")
SMALL_DATA = ("--max-train", "200", "--max-val", "100")
# fixtures below, by placeholder name
INPUTS = ("run", "kit_results", "published", "verify_results")
RUN_FILES = ("config.yaml", "trials.csv", "pareto.html", "pareto.json", "summary.md",
             "models/B*.yaml")


@dataclass(frozen=True)
class UserPath:
    """One command line. ``{out}`` is this row's own output path, ``{run}`` a finished run,
    ``{kit_results}`` an export kit's results.csv, ``{published}`` a published-latency CSV."""

    name: str
    args: tuple[str, ...]
    files: tuple[str, ...] = ()  # globs under {out} that must exist afterwards
    shows: tuple[str, ...] = ()  # text the output must contain
    trials: int | None = None  # rows of {out}/trials.csv
    metric_names: tuple[str, ...] | None = None  # score names of the Optuna studies


PATHS = (
    UserPath("list", ("list",), shows=("lowformer_b0", "jetson")),
    UserPath("show", ("show", "lowformer_b0"), shows=("params",)),
    UserPath("predict", ("predict", "lowformer_test", "--target", "jetson"), shows=("ms",)),
    UserPath("measure", ("measure", "lowformer_test", "--resolution", "64"), shows=("median",)),
    UserPath("calibrate-on-device", ("calibrate", "--device", "matrixdev", "--space", "tiny",
                                     "--resolution", "64", "--budget-minutes", "0.1",
                                     "--out", "{out}.json"),
             files=(".json",), shows=("profile written",)),
    UserPath("calibrate-export-kit", ("calibrate", "--export-kit", "{out}", "--space", "tiny",
                                      "--resolution", "64"),
             files=("run_kit.py", "manifest.json", "onnx/*.onnx"), shows=("kit written",)),
    UserPath("calibrate-import-measurements", ("calibrate", "--device", "kitdev",
                                               "--import-measurements", "{kit_results}",
                                               "--out", "{out}.json"),
             files=(".json",), shows=("profile written",)),
    UserPath("calibrate-from-measurements", ("calibrate", "--device", "phone",
                                             "--from-measurements", "{published}",
                                             "--out", "{out}.json"),
             files=(".json",), shows=("profile written",)),
    # search: the default (optuna, zero-cost, naswot) with one official reference
    UserPath("search-default", SEARCH + ("--trials", "6", "--references", "lowformer_b0"),
             files=RUN_FILES + ("study.journal", "reference.json"), trials=6,
             shows=("zero-cost", "6/6"), metric_names=("naswot",)),
    UserPath("search-two-stage-synflow",
             SEARCH + ("--trials", "4", "--proxy", "two-stage", "--zc-score", "synflow",
                       "--top-k", "2", "--epochs", "1", "--references", "none") + SMALL_DATA,
             files=RUN_FILES + ("study.journal",), trials=6, shows=("zero-cost", "trained"),
             metric_names=("synflow", "accuracy")),
    UserPath("search-train-tpe", SEARCH + ("--trials", "3", "--proxy", "train", "--epochs", "1",
                                           "--sampler", "tpe", "--references", "none")
             + SMALL_DATA, files=RUN_FILES + ("study.journal",), trials=3,
             shows=("trained", "3/3"), metric_names=("accuracy",)),
    UserPath("search-storage-gradnorm",
             SEARCH + ("--trials", "3", "--zc-score", "gradnorm", "--storage",
                       "sqlite:///{out}.db", "--references", "none"),
             files=RUN_FILES + (".db",), trials=3, shows=("3/3",), metric_names=("gradnorm",)),
    UserPath("search-measure",  # measured here, so a budget this CPU meets (found 1's path)
             SEARCH[:4] + ("40ms",) + SEARCH[5:] + ("--trials", "2", "--measure",
                                                    "--references", "none"),
             files=RUN_FILES, trials=2, shows=("2/2",), metric_names=("naswot",)),
    UserPath("search-ray-two-stage-loss",  # Ray's accuracy scoring: tests/test_search_ray.py
             SEARCH + ("--trials", "3", "--backend", "ray", "--proxy", "two-stage",
                       "--top-k", "2", "--epochs", "1", "--train-score", "loss",
                       "--references", "none") + SMALL_DATA,
             files=RUN_FILES + ("study.journal", "ray_trials.jsonl"), trials=5,
             shows=("zero-cost", "trained"), metric_names=("naswot", "-train loss sum")),
    UserPath("report", ("report", "{run}"), shows=("B0",)),
    UserPath("plot", ("plot", "{run}", "--output", "{out}.html"), files=(".html",)),
    UserPath("verify", ("verify", "{run}"), shows=("B0-B3",)),
    UserPath("verify-import", ("verify", "{run}", "--import", "{verify_results}"),
             shows=("measured",)),
    UserPath("export-yaml", ("export", "{run}", "--output", "{out}"), files=("B*.yaml",)),
    UserPath("export-onnx", ("export", "{run}", "--format", "onnx", "--num-classes", "10",
                             "--output", "{out}"), files=("B*.onnx",)),
    UserPath("export-torchscript", ("export", "{run}", "--format", "torchscript",
                                    "--num-classes", "10", "--output", "{out}"),
             files=("B*.pt",)),
)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> str:
    """A finished run, made with the CLI (for report, plot, export)."""
    out = tmp_path_factory.mktemp("inputs") / "run"
    code, text = run_cli([s.format(out=out) for s in SEARCH] + ["--trials", "6", "--references",
                                                                "none"], tty=False)
    assert code == 0, text[-3000:]
    return str(out)


@pytest.fixture(scope="module")
def kit_results(tmp_path_factory) -> str:
    """results.csv of an export kit run by its own runner (what a board sends back)."""
    base = tmp_path_factory.mktemp("kit")
    code, text = run_cli(["calibrate", "--export-kit", str(base / "kit"), "--space", "tiny",
                          "--resolution", "64"], tty=False)
    assert code == 0, text[-3000:]
    subprocess.run([sys.executable, str(base / "kit" / "run_kit.py"), "--out",
                    str(base / "results.csv"), "--runs", "3"], check=True, capture_output=True)
    return str(base / "results.csv")


@pytest.fixture(scope="module")
def verify_results(run, tmp_path_factory) -> str:
    """results.csv of the run's verification kit, timed by its own runner (the device's part)."""
    out = tmp_path_factory.mktemp("verify") / "results.csv"
    subprocess.run([sys.executable, str(Path(run) / "verify" / "kit" / "run_kit.py"), "--out",
                    str(out), "--runs", "3"], check=True, capture_output=True)
    return str(out)


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> str:
    """Whole-model latencies as a paper publishes them (calibrate --from-measurements)."""
    path = tmp_path_factory.mktemp("published") / "published.csv"
    path.write_text("model,latency_ms,batch,resolution\nlowformer_b0,1.45,1,224\n"
                    "lowformer_b1,1.90,1,224\nlowformer_e1,1.7,1,224\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> dict[str, str]:
    """A fresh cache for profiles the rows calibrate (the user's own is left alone)."""
    return {"LOWFORMER_NAS_CACHE": str(tmp_path_factory.mktemp("cache"))}


def _metric_names(row: UserPath, out: Path) -> list:
    import optuna

    if "--storage" in row.args:
        storage: object = f"sqlite:///{out}.db"
    else:
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(str(out / "study.journal")))
    studies = optuna.get_all_study_summaries(storage)
    return sorted(optuna.load_study(study_name=s.study_name, storage=storage).metric_names[0]
                  for s in studies)


@pytest.mark.parametrize("tty", [True, False], ids=["terminal", "ci"])
@pytest.mark.parametrize("row", PATHS, ids=[p.name for p in PATHS])
def test_user_path(row, tty, tmp_path, cache, request):
    out = tmp_path / "out"
    inputs = {name: request.getfixturevalue(name) for name in INPUTS
              if any(f"{{{name}}}" in a for a in row.args)}  # made only for rows that use them
    args = [a.format(out=out, **inputs) for a in row.args]
    code, text = run_cli(args, tty=tty, cwd=tmp_path, env=cache)
    assert code == 0, text[-4000:]
    assert "Traceback" not in text, text[-4000:]
    for glob in row.files:
        found = list(out.parent.glob(f"out{glob}")) if glob.startswith(".") \
            else list(out.glob(glob))
        assert found, f"{row.name}: no {glob} in {out}; output:\n{text[-2000:]}"
    for needle in row.shows:
        assert needle in text, f"{row.name}: {needle!r} not in output:\n{text[-2000:]}"
    if row.trials is not None:
        with open(out / "trials.csv", newline="", encoding="utf-8") as fh:
            assert len(list(csv.DictReader(fh))) == row.trials
    if row.metric_names is not None:
        assert _metric_names(row, out) == sorted(row.metric_names)
