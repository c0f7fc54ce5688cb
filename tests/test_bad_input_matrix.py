"""Bad input at every entry point: exit code 2, one line naming the bad value, nothing written.

Each case runs with the working directory and the cache inside ``tmp_path``; the whole tree
(inputs included) is snapshotted before and after (paths, sizes, mtimes), so a file written
or touched before validation fails the case, as does a ``runs/`` directory appearing. Most
cases run in-process (fast); a few run as ``python -m lowformer_nas`` to prove no traceback.
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from collections.abc import Callable

import pytest
import yaml

from lowformer_nas.cli import main
from lowformer_nas.errors import LowFormerNASError

SEARCH = ["search", "--target", "jetson", "--latency-budget", "1ms", "--space", "tiny",
          "--trials", "2", "--references", "none", "--quiet"]
SPACES = Path(__file__).resolve().parents[1] / "search_spaces"


def _search(**override: str) -> list[str]:
    """The base search command with options replaced (``latency_budget="5"``)."""
    argv = list(SEARCH)
    for key, value in override.items():
        flag = "--" + key.replace("_", "-")
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    return argv


# ---------------------------------------------------------------- input files, all in IN/
def _arch_dict() -> dict[str, Any]:
    from lowformer_nas.arch.registry import get_arch
    from lowformer_nas.arch.yaml_io import config_to_dict

    return config_to_dict(get_arch("lowformer_test"))


def _arch_with(stage: int, **changes: Any) -> str:
    d = _arch_dict()
    d["stages"][stage].update(changes)
    return yaml.safe_dump(d, sort_keys=False)


def _space_with(mutate: Callable[[dict[str, Any]], None]) -> str:
    d = yaml.safe_load((SPACES / "tiny.yaml").read_text())
    mutate(d)
    return yaml.safe_dump(d, sort_keys=False)


def _run_config(**changes: Any) -> str:
    """A config.yaml as a search writes it (``changes`` replace top-level entries)."""
    from lowformer_nas.search.run import RUN_FORMAT, RUN_FORMAT_VERSION
    from lowformer_nas.search.settings import SearchSettings

    settings = SearchSettings(target="jetson", budget="1ms", space="tiny", trials=2,
                              references=["none"])
    doc = {"format": RUN_FORMAT, "format_version": RUN_FORMAT_VERSION,
           "settings": settings.to_dict(), "space": {"name": "tiny", "resolution": 32},
           "profile": {"name": "jetson-tx2", "sha256": "0" * 64}}
    doc.update(changes)
    return yaml.safe_dump(doc, sort_keys=False)


def _profile_text() -> str:
    from lowformer_nas.latency import get_target

    return json.dumps(get_target("jetson").data)


GOOD_CSV = "model,latency_ms\nlowformer_e1,6.2\nlowformer_e2,14.7\nlowformer_e3,25.0\n"
TRIALS_HEADER = "stage,number,state,feasible,latency_ms,score,config\n"


def _inputs() -> dict[str, Any]:
    """Relative path -> text (a file) or None (an empty directory)."""
    return {
        "arch/unknown_key.yaml": _arch_with(0, colour="red"),
        "arch/wrong_type.yaml": _arch_with(2, depth="two"),
        "arch/width30.yaml": _arch_with(2, width=30),
        "arch/depth_range.yaml": _arch_with(1, depth=0),
        "arch/depth_big.yaml": _arch_with(3, depth=17),
        "arch/attn3.yaml": _arch_with(3, attn_stride=3),
        "arch/broken.yaml": "stages: [1\n",
        "space/unknown_key.yaml": _space_with(lambda d: d.update(budget=5)),
        "space/bad_choice.yaml": _space_with(lambda d: d["stages"][2].update(width=[16, 30])),
        "space/bad_stage_key.yaml": _space_with(lambda d: d["stages"][0].update(attention=[1])),
        "profile/corrupt.json": '{"format": "lowformer-nas/latency-profile", "name": ',
        "profile/foreign.json": json.dumps({"name": "resnet50", "version": 3, "weights": []}),
        "profile/other_fit.json": _profile_text().replace('"format_version": 1',
                                                          '"format_version": 7'),
        "csv/missing_col.csv": "model,ms\nlowformer_e1,6.2\n",
        "csv/unknown_model.csv": GOOD_CSV.replace("lowformer_e2", "resnet_xl"),
        "csv/negative.csv": GOOD_CSV.replace("14.7", "-14.7"),
        "csv/kit_missing_col.csv": "id,kind\nk00001,kernel\n",
        "data/empty": None,
        "data/wrong_layout/train/a.png": "not an image",
        "data/flat_files/readme.txt": "no class folders here",
        "runs_in/not_a_run/notes.txt": "hello",
        "runs_in/other_version/config.yaml": _run_config(format_version=99),
        "runs_in/foreign_yaml/config.yaml": yaml.safe_dump({"experiment": "x", "lr": 0.1}),
        "runs_in/bad_settings/config.yaml": _run_config(settings={"target": "jetson"}),
        "runs_in/foreign_csv/config.yaml": _run_config(),
        "runs_in/foreign_csv/trials.csv": "epoch,loss\n1,0.5\n",
        "runs_in/bad_numbers/config.yaml": _run_config(),
        "runs_in/bad_numbers/trials.csv": TRIALS_HEADER + "zc,one,COMPLETE,True,1.0,0.5,{}\n",
        "runs_in/other_profile/config.yaml": _run_config(),
    }


def _write_inputs(root: Path) -> Path:
    base = root / "in"
    for rel, text in _inputs().items():
        path = base / rel
        if text is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return base


# ---------------------------------------------------------------- the table
# (id, argv with IN standing for the inputs directory, fragment of the one stderr line)
CASES: list[tuple[str, list[str], str]] = [
    # search options
    ("budget-no-unit", _search(latency_budget="5"), "'5'"),
    ("budget-negative", _search(latency_budget="-3ms"), "'-3ms'"),
    ("budget-negative-eq", SEARCH[:3] + ["--latency-budget=-3ms"] + SEARCH[5:], "'-3ms'"),
    ("budget-word", _search(latency_budget="fast"), "'fast'"),
    ("budget-zero", _search(latency_budget="0ms"), "'0ms'"),
    ("budget-quantile-one", _search(budget_quantile="1"), "--budget-quantile"),
    ("budget-quantile-word", _search(budget_quantile="high"), "'high'"),
    ("budget-quantile-percent", _search(budget_quantile="90"), "90"),
    ("target-unknown", _search(target="nowhere-device"), "'nowhere-device'"),
    ("target-missing-file", _search(target="IN/profile/none.json"), "none.json"),
    ("target-corrupt-json", _search(target="IN/profile/corrupt.json"), "corrupt.json"),
    ("target-foreign-json", _search(target="IN/profile/foreign.json"), "foreign.json"),
    ("target-other-version", _search(target="IN/profile/other_fit.json"), "format_version 7"),
    ("space-unknown", _search(space="nope"), "'nope'"),
    ("space-missing-file", _search(space="IN/space/none.yaml"), "none.yaml"),
    ("space-unknown-key", _search(space="IN/space/unknown_key.yaml"), "'budget'"),
    ("space-bad-choice", _search(space="IN/space/bad_choice.yaml"), "width=30"),
    ("space-key-not-in-stage", _search(space="IN/space/bad_stage_key.yaml"),
     "stages[0].attention"),
    ("trials-word", _search(trials="many"), "'many'"),
    ("trials-zero", _search(trials="0"), "--trials"),
    ("trials-negative", _search(trials="-5"), "-5"),
    ("proxy-unknown", _search(proxy="magic"), "'magic'"),
    ("backend-unknown", _search(backend="spark"), "'spark'"),
    ("sampler-unknown", _search(sampler="grid"), "'grid'"),
    ("zc-score-unknown", _search(zc_score="flops"), "'flops'"),
    ("train-score-unknown", _search(proxy="train", train_score="mse"), "'mse'"),
    ("train-score-without-training", _search(train_score="loss"), "--proxy zero-cost"),
    ("seed-negative", _search(seed="-1"), "-1"),
    ("epochs-zero", _search(proxy="train", epochs="0"), "--epochs"),
    ("proxy-resolution-small", _search(proxy_resolution="8"), "8"),
    ("dataset-unknown", _search(dataset="mnist"), "'mnist'"),
    ("dataset-imagefolder-missing", _search(dataset="imagefolder:IN/data/none"), "data/none"),
    ("dataset-imagefolder-empty", _search(dataset="imagefolder:IN/data/empty"), "data/empty"),
    ("dataset-imagefolder-flat", _search(dataset="imagefolder:IN/data/flat_files"),
     "flat_files"),
    ("dataset-fashion-missing", _search(dataset="fashion-mnist", data="IN/data/none"),
     "data/none"),
    ("dataset-fashion-empty", _search(dataset="fashion-mnist", data="IN/data/empty"),
     "train-images-idx3-ubyte"),
    ("dataset-cifar-wrong-layout", _search(dataset="cifar10", data="IN/data/wrong_layout"),
     "data_batch_1"),
    ("timeout-no-unit", _search(timeout="30"), "'30'"),
    ("timeout-negative", _search(timeout="-5m"), "'-5m'"),
    ("storage-not-a-url", _search(storage="nonsense"), "'nonsense'"),
    ("storage-unknown-dialect", _search(storage="foo://bar"), "'foo://bar'"),
    ("storage-unreachable", _search(storage="sqlite:////nonexistent-dir/x.db"),
     "nonexistent-dir"),
    ("storage-driver-missing", _search(storage="mysql+mysqldb://u@127.0.0.1:1/x"),
     "'MySQLdb' is not installed"),
    ("heartbeat-zero", _search(storage="sqlite:///IN/x.db", heartbeat="0"), "got 0"),
    ("references-unknown", _search(references="lowformer_b9"), "'lowformer_b9'"),
    ("out-not-a-run", _search(out="IN/runs_in/not_a_run"), "not_a_run"),
    ("out-other-version", _search(out="IN/runs_in/other_version"), "format_version 99"),
    ("out-other-profile", _search(out="IN/runs_in/other_profile"), "sha256"),
    # architecture YAML (show / predict / measure)
    ("arch-unknown-key", ["show", "IN/arch/unknown_key.yaml"], "stages[0].colour"),
    ("arch-wrong-type", ["show", "IN/arch/wrong_type.yaml"], "'two'"),
    ("arch-width-not-mult4", ["show", "IN/arch/width30.yaml"], "30"),
    ("arch-depth-zero", ["show", "IN/arch/depth_range.yaml"], "stage 1, but got 0"),
    ("arch-depth-big", ["predict", "IN/arch/depth_big.yaml", "--target", "jetson"], "17"),
    ("arch-attn-factor-3", ["show", "IN/arch/attn3.yaml"], "attn_stride"),
    ("arch-broken-yaml", ["show", "IN/arch/broken.yaml"], "broken.yaml"),
    ("arch-missing-file", ["show", "IN/arch/none.yaml"], "none.yaml"),
    ("arch-unknown-name", ["show", "lowformer_b9"], "'lowformer_b9'"),
    ("show-resolution-small", ["show", "lowformer_b0", "--resolution", "8"], "8"),
    ("predict-resolution-word", ["predict", "lowformer_b0", "--resolution", "big"], "'big'"),
    ("predict-target-corrupt", ["predict", "lowformer_b0", "--target",
                                "IN/profile/corrupt.json"], "corrupt.json"),
    ("measure-backend", ["measure", "lowformer_test", "--backend", "tensorflow"],
     "'tensorflow'"),
    ("measure-threads-zero", ["measure", "lowformer_test", "--threads", "0"], "'0'"),
    ("measure-batch-zero", ["measure", "lowformer_test", "--batch", "0"], "'0'"),
    ("measure-device", ["measure", "lowformer_test", "--device", "tpu"], "'tpu'"),
    ("measure-missing-yaml", ["measure", "IN/arch/none.yaml"], "none.yaml"),
    # calibrate and measurement CSVs
    ("calibrate-no-device", ["calibrate", "--space", "tiny"], "--device"),
    ("calibrate-budget-zero", ["calibrate", "--device", "x", "--budget-minutes", "0"], "'0'"),
    ("calibrate-threads-word", ["calibrate", "--device", "x", "--threads", "two"], "'two'"),
    ("calibrate-backend", ["calibrate", "--device", "x", "--backend", "tvm"], "'tvm'"),
    ("calibrate-check-level-none", ["calibrate", "--device", "nosuchdev", "--check-level"],
     "'nosuchdev'"),
    ("calibrate-space-unknown", ["calibrate", "--device", "x", "--space", "nope"], "'nope'"),
    ("calibrate-space-unknown-res", ["calibrate", "--device", "x", "--space", "nope",
                                     "--resolution", "64"], "'nope'"),
    ("calibrate-torch-device", ["calibrate", "--device", "x", "--space", "tiny",
                                "--torch-device", "tpu"], "'tpu'"),
    ("csv-missing-file", ["calibrate", "--device", "jetson", "--from-measurements",
                          "IN/csv/none.csv"], "none.csv"),
    ("csv-missing-column", ["calibrate", "--device", "jetson", "--from-measurements",
                            "IN/csv/missing_col.csv"], "latency_ms"),
    ("csv-unknown-model", ["calibrate", "--device", "jetson", "--from-measurements",
                           "IN/csv/unknown_model.csv"], "'resnet_xl'"),
    ("csv-negative-latency", ["calibrate", "--device", "jetson", "--from-measurements",
                              "IN/csv/negative.csv"], "'-14.7'"),
    ("kit-csv-missing-column", ["calibrate", "--device", "arm", "--import-measurements",
                                "IN/csv/kit_missing_col.csv"], "spec"),
    # run directories
    ("report-not-a-run", ["report", "IN/runs_in/not_a_run"], "not_a_run"),
    ("report-missing-dir", ["report", "IN/runs_in/none"], "runs_in/none"),
    ("report-other-version", ["report", "IN/runs_in/other_version"], "format_version 99"),
    ("report-foreign-yaml", ["report", "IN/runs_in/foreign_yaml"], "foreign_yaml"),
    ("report-bad-settings", ["report", "IN/runs_in/bad_settings"], "bad_settings"),
    ("report-foreign-csv", ["report", "IN/runs_in/foreign_csv"], "trials.csv"),
    ("report-bad-numbers", ["report", "IN/runs_in/bad_numbers"], "'one'"),
    ("plot-not-a-run", ["plot", "IN/runs_in/not_a_run"], "not_a_run"),
    ("plot-other-version", ["plot", "IN/runs_in/other_version", "--output",
                            "IN/p.html"], "format_version 99"),
    ("export-not-a-run", ["export", "IN/runs_in/not_a_run"], "not_a_run"),
    ("export-other-version", ["export", "IN/runs_in/other_version"], "format_version 99"),
    ("export-format", ["export", "IN/runs_in/foreign_csv", "--format", "pdf"], "'pdf'"),
    ("export-num-classes", ["export", "IN/runs_in/foreign_csv", "--num-classes", "0"],
     "got 0"),
]
SUBPROCESS_CASES = ("budget-no-unit", "arch-width-not-mult4", "csv-negative-latency",
                    "report-other-version", "dataset-imagefolder-empty",
                    "storage-driver-missing")


def _argv(argv: list[str], base: Path) -> list[str]:
    return [a.replace("IN", str(base)) for a in argv]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and mtime (a directory's changes with entries)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), root)] = (st.st_size,
                                                                       st.st_mtime_ns)
    return out


@pytest.fixture()
def sandbox(tmp_path, monkeypatch):
    """tmp_path as cwd and cache, with the input files written; yields (inputs dir, root)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOWFORMER_NAS_CACHE", str(tmp_path / "cache"))
    return _write_inputs(tmp_path), tmp_path


def _check(code: Any, err: str, fragment: str, before: dict, root: Path) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("lowformer-nas: error: ") and fragment in err, err
    assert snapshot(root) == before, "something was written or changed on disk"
    assert not (root / "runs").exists()


def test_matrix_is_big_and_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 40


@pytest.mark.parametrize("argv, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_in_process(sandbox, capsys, argv, fragment):
    base, root = sandbox
    before = snapshot(root)
    try:
        code = main(_argv(argv, base))
    except SystemExit as e:  # argparse usage errors exit from the parser
        code = e.code
    out, err = capsys.readouterr()
    _check(code, err, fragment.replace("IN", str(base)), before, root)


@pytest.mark.parametrize("case", SUBPROCESS_CASES)
def test_bad_input_subprocess_no_traceback(sandbox, case):
    base, root = sandbox
    argv, fragment = {c[0]: c[1:] for c in CASES}[case]
    before = snapshot(root)
    proc = subprocess.run([sys.executable, "-m", "lowformer_nas", *_argv(argv, base)],
                          cwd=root, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, LOWFORMER_NAS_CACHE=str(root / "cache")))
    assert proc.stdout == ""
    _check(proc.returncode, proc.stderr, fragment, before, root)


# ---------------------------------------------------------------- library entry points
def _lib_cases(base: Path) -> list[tuple[str, Callable[[], Any]]]:
    from lowformer_nas import (config_from_dict, get_arch, load_config, load_space,
                               resolve_arch)
    from lowformer_nas.arch.config import ArchConfig, StageConfig
    from lowformer_nas.latency import get_target, load_profile
    from lowformer_nas.latency.targets.calibrate_models import read_model_csv
    from lowformer_nas.latency.targets.export_kit import read_results
    from lowformer_nas.search.budget import parse_budget
    from lowformer_nas.accuracy.datasets import load_dataset
    from lowformer_nas.rundir.rows import read_trials_csv
    from lowformer_nas.rundir.config import read_run_config
    from lowformer_nas.search.settings import SearchSettings
    from lowformer_nas.space import space_from_dict

    good = _arch_dict()
    tiny = load_space("tiny")
    params = {k: v[0] for k, v in tiny.dimensions().items()}
    no_width = copy.deepcopy(good)
    del no_width["stages"][2]["width"]
    return [
        ("load_config-missing", lambda: load_config(base / "none.yaml")),
        ("load_config-broken", lambda: load_config(base / "arch/broken.yaml")),
        ("load_config-width30", lambda: load_config(base / "arch/width30.yaml")),
        ("config_from_dict-none", lambda: config_from_dict(None)),
        ("config_from_dict-stage-ints", lambda: config_from_dict({"stages": [1, 2, 3, 4, 5]})),
        ("config_from_dict-no-width", lambda: config_from_dict(no_width)),
        ("config_from_dict-head-str", lambda: config_from_dict(dict(good, head_widths="ab"))),
        ("config_from_dict-version", lambda: config_from_dict(dict(good, version=2))),
        ("ArchConfig-short", lambda: ArchConfig(stages=(StageConfig(width=8, depth=1),))),
        ("ArchConfig-width-str", lambda: ArchConfig(stages=tuple(
            StageConfig(width="8", depth=1) for _ in range(5)))),
        ("load_space-unknown", lambda: load_space("nope")),
        ("load_space-bad-choice", lambda: load_space(base / "space/bad_choice.yaml")),
        ("space_from_dict-list", lambda: space_from_dict([1, 2])),
        ("space.build-missing", lambda: tiny.build({})),
        ("space.build-bad-head", lambda: tiny.build(dict(params, head_widths="axb"))),
        ("space.build-bad-width", lambda: tiny.build({**params, "stage0.width": 30})),
        ("get_arch-unknown", lambda: get_arch("lowformer_b9")),
        ("resolve_arch-unknown", lambda: resolve_arch("lowformer_b9")),
        ("resolve_arch-missing", lambda: resolve_arch(str(base / "none.yaml"))),
        ("get_target-unknown", lambda: get_target("nowhere")),
        ("get_target-foreign", lambda: get_target(str(base / "profile/foreign.json"))),
        ("load_profile-corrupt", lambda: load_profile(base / "profile/corrupt.json")),
        ("parse_budget-no-unit", lambda: parse_budget("5")),
        ("parse_budget-none", lambda: parse_budget(None)),
        ("load_dataset-unknown", lambda: load_dataset("mnist")),
        ("load_dataset-cifar-missing", lambda: load_dataset("cifar10", str(base / "none"))),
        ("load_dataset-fashion-empty", lambda: load_dataset("fashion-mnist",
                                                            str(base / "data/empty"))),
        ("SearchSettings-trials", lambda: SearchSettings(target="jetson", budget="1ms",
                                                         trials=0)),
        ("SearchSettings-budget", lambda: SearchSettings(target="jetson", budget="-1ms")),
        ("read_run_config-not-run", lambda: read_run_config(base / "runs_in/not_a_run")),
        ("read_run_config-version", lambda: read_run_config(base / "runs_in/other_version")),
        ("read_run_config-settings", lambda: read_run_config(base / "runs_in/bad_settings")),
        ("read_trials_csv-foreign", lambda: read_trials_csv(
            base / "runs_in/foreign_csv/trials.csv")),
        ("read_model_csv-unknown", lambda: read_model_csv(str(base / "csv/unknown_model.csv"))),
        ("read_results-columns", lambda: read_results(str(base / "csv/kit_missing_col.csv"))),
    ]


LIB_IDS = [c[0] for c in _lib_cases(Path("/nonexistent"))]


@pytest.mark.parametrize("index", range(len(LIB_IDS)), ids=LIB_IDS)
def test_library_raises_one_exception_family(sandbox, index):
    base, _ = sandbox
    name, call = _lib_cases(base)[index]
    with pytest.raises(Exception) as info:
        call()
    assert isinstance(info.value, LowFormerNASError), (name, type(info.value), info.value)
    assert str(info.value) and "\n" not in str(info.value)
