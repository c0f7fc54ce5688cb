"""Budget parsing: the spellings people use, and one-line errors for everything else."""
import pytest

from lowformer_nas.errors import LowFormerNASError
from lowformer_nas.search.budget import format_budget, parse_budget


@pytest.mark.parametrize("text,ms", [
    ("5ms", 5.0), ("5 ms", 5.0), ("0.005s", 5.0), ("5000us", 5.0), ("5000µs", 5.0),
    ("2.5ms", 2.5), (" 12ms ", 12.0), ("1e1ms", 10.0), (".5ms", 0.5), ("1s", 1000.0),
])
def test_accepted(text, ms):
    assert parse_budget(text) == pytest.approx(ms)


@pytest.mark.parametrize("text", [
    "5", "", "ms", "-5ms", "0ms", "0 s", "5 sec", "5msec", "five ms", "5ms5", "nan ms",
    "inf ms", "5 m s", "5MS", "1e-400s",
])
def test_rejected_with_one_line(text):
    with pytest.raises(LowFormerNASError) as e:
        parse_budget(text)
    assert "\n" not in str(e.value) and repr(text) in str(e.value)


def test_format_is_file_name_safe():
    assert format_budget(5.0) == "5ms" and format_budget(0.5) == "0.5ms"
