"""``--timeout``: a search stops starting trials, writes everything, and continues later."""
import csv

import pytest

from lowformer_nas.cli import main
from lowformer_nas.search.budget import BudgetError, parse_duration

ARGS = ["search", "--target", "jetson", "--latency-budget", "50ms", "--space", "tiny",
        "--trials", "400", "--references", "none", "--quiet"]


@pytest.mark.parametrize("text, seconds", [("30m", 1800), ("90s", 90), ("1.5h", 5400),
                                           (" 2 min", 120)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["30", "-5m", "0s", "soon", "5ms"])
def test_parse_duration_rejects(text):
    with pytest.raises(BudgetError, match="--timeout"):
        parse_duration(text)


def _rows(run):
    with open(run / "trials.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_timeout_stops_cleanly_and_the_same_command_continues(tmp_path):
    run = tmp_path / "run"
    assert main(ARGS + ["--out", str(run), "--timeout", "8s"]) == 0
    first = _rows(run)
    assert 0 < len(first) < 400  # stopped by the clock, not by the trial count
    for name in ("trials.csv", "pareto.html", "summary.md", "config.yaml", "models"):
        assert (run / name).exists(), name
    assert main(ARGS + ["--out", str(run), "--timeout", "8s"]) == 0
    second = _rows(run)
    assert len(second) > len(first)
    before = {r["number"]: r for r in first}
    assert all(before[n] == r for n, r in ((r["number"], r) for r in second) if n in before)
