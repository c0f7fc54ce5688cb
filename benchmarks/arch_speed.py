"""Architecture speed: building a model, and ``lowformer-nas show`` end to end.

    flock /tmp/lfnas-cpu.lock python -m benchmarks.arch_speed [--repeats 7] [--no-write]

Targets: ``build_model(get_arch("lowformer_b1"))`` < 0.5 s (median, in process, imports warm);
``lowformer-nas show lowformer_b3`` < 3 s (median, fresh subprocess each time). Also times a
bare ``import timm.models.lowformer`` in a fresh process, which ``show`` avoids.
Writes the figures into the "## Architecture" section of docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import datetime
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
SHOW = [sys.executable, "-m", "lowformer_nas", "show", "lowformer_b3"]
IMPORT = [sys.executable, "-c", "import timm.models.lowformer"]


def _median_time(fn: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _run_quiet(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)


def measure(repeats: int) -> dict[str, list[float]]:
    """Seconds per run of each measured operation."""
    from lowformer_nas import build_model, get_arch

    cfg = get_arch("lowformer_b1")
    build_model(cfg)  # warm-up: imports and first-call costs are not the build's
    return {
        "build": _median_time(lambda: build_model(cfg), repeats),
        "show": _median_time(lambda: _run_quiet(SHOW), repeats),
        "import": _median_time(lambda: _run_quiet(IMPORT), repeats),
    }


def _machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = re.search(r"^Model name:\s*(.+)$", out, re.M)
        cpu = model.group(1).strip() if model else platform.processor()
    except (OSError, subprocess.CalledProcessError):
        cpu = platform.processor() or "unknown CPU"
    import os

    import torch

    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def section(times: dict[str, list[float]], repeats: int) -> str:
    """The markdown of the "## Architecture" section."""
    med = {k: statistics.median(v) for k, v in times.items()}
    spread = {k: f"{min(v):.3f}-{max(v):.3f}" for k, v in times.items()}
    verdict = {k: "met" if med[k] < t else "**missed**"
               for k, t in (("build", 0.5), ("show", 3.0))}
    rows = [
        ("`build_model(get_arch(\"lowformer_b1\"))`, in process", "build", "< 0.5 s"),
        ("`lowformer-nas show lowformer_b3`, fresh process", "show", "< 3 s"),
        ("`python -c \"import timm.models.lowformer\"` (what `show` no longer pays)", "import", "-"),
    ]
    lines = ["## Architecture", "",
             f"Command: `flock /tmp/lfnas-cpu.lock python -m benchmarks.arch_speed "
             f"--repeats {repeats}`  ", f"Machine: {_machine()}  ",
             f"Date: {datetime.date.today().isoformat()}", "",
             "| what | median (s) | min-max (s) | target |", "|---|---|---|---|"]
    for label, key, target in rows:
        mark = f"{target} ({verdict[key]})" if key in verdict else target
        lines.append(f"| {label} | {med[key]:.3f} | {spread[key]} | {mark} |")
    lines += ["", "`show` counts parameters and MACs from the analytic kernel list "
              "(`lowformer_nas.latency.tracing.counts`, tested equal to torch's count on the built "
              "network), so it imports neither torch nor timm; importing timm alone costs the "
              "last row."]
    return "\n".join(lines) + "\n"


def write_section(text: str, doc: Path = DOC) -> None:
    """Replace (or append) the "## Architecture" section, leaving the others untouched."""
    old = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Architecture\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(old):
        new = pattern.sub(lambda _: text + "\n", old, count=1).rstrip("\n") + "\n"
    else:
        new = old.rstrip("\n") + "\n\n" + text
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    text = section(measure(args.repeats), args.repeats)
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"written to {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
