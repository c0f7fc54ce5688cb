"""``lowformer-nas list`` / ``show``: output, and bad input as one line on stderr with exit 2."""
import json
import os
import subprocess
import sys

import pytest

from lowformer_nas import config_from_dict, get_arch, list_archs, load_config, save_config
from lowformer_nas.cli import main
from lowformer_nas.space import list_spaces


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in an empty directory, so 'nothing written' can be checked."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_names_archs_with_descriptions_and_spaces(capsys, in_tmp):
    code, out, err = _run(capsys, "list")
    assert code == 0 and err == ""
    for name in list_archs():
        line = next(x for x in out.splitlines() if x.split()[:1] == [name])
        assert len(line.split()) > 1  # a description follows the name
    assert "Search spaces:" in out and all(f"  {s}" in out for s in list_spaces())
    assert "Latency targets:" in out


def test_show_table(capsys, reference):
    code, out, err = _run(capsys, "show", "lowformer_b0")
    assert code == 0 and err == ""
    assert f"{reference['lowformer_b0']['params']:,} params" in out
    assert f"{reference['lowformer_b0']['macs_224']:,} MACs at 224x224" in out
    assert [line.split()[0] for line in out.splitlines()[-6:]] == \
        ["stem", "stage1", "stage2", "stage3", "stage4", "head"]


def test_show_json_matches_reference(capsys, reference):
    code, out, _ = _run(capsys, "show", "lowformer_e1", "--json")
    data = json.loads(out)
    assert code == 0
    assert (data["params"], data["macs"]) == (reference["lowformer_e1"]["params"],
                                              reference["lowformer_e1"]["macs_224"])
    assert sum(r["params"] for r in data["stages"]) == data["params"]
    assert sum(r["macs"] for r in data["stages"]) == data["macs"]
    assert config_from_dict(data["config"]) == get_arch("lowformer_e1")


def test_show_yaml_file_with_resolution(capsys, tmp_path):
    path = tmp_path / "mine.yaml"
    save_config(get_arch("lowformer_test"), path)
    code, out, _ = _run(capsys, "show", str(path), "--json", "--resolution", "128")
    data = json.loads(out)
    assert code == 0 and data["name"] == "mine.yaml" and data["resolution"] == 128
    assert [r["resolution"] for r in data["stages"][:5]] == [64, 32, 16, 8, 4]
    code224, out224, _ = _run(capsys, "show", str(path), "--json")
    assert json.loads(out224)["params"] == data["params"]
    assert json.loads(out224)["macs"] > data["macs"]


def test_show_yaml_output_loads_back(capsys, tmp_path):
    code, out, _ = _run(capsys, "show", "lowformer_b15", "--yaml")
    assert code == 0
    path = tmp_path / "out.yaml"
    path.write_text(out)
    assert load_config(path) == get_arch("lowformer_b15")


def _bad_cases(tmp):
    (tmp / "broken.yaml").write_text("stages: [\n  {width: 8\n")
    (tmp / "list.yaml").write_text("- 1\n")
    return [
        (["show", "lowformer_b9"], "'lowformer_b9'"),
        (["show", "missing.yaml"], "'missing.yaml' does not exist"),
        (["show", "broken.yaml"], "'broken.yaml' is not valid YAML"),
        (["show", "list.yaml"], "list.yaml must be a mapping"),
        (["show", "lowformer_b0", "--colour"], "--colour"),
        (["show", "lowformer_b0", "--resolution", "16"], "got 16"),
        (["show", "lowformer_b0", "--resolution", "big"], "'big'"),
        (["show", "lowformer_b0", "--yaml", "--json"], "not allowed with"),
        (["nonsense"], "'nonsense'"),
    ]


def test_bad_input_one_line_exit_2_nothing_written(capsys, in_tmp):
    for argv, needle in _bad_cases(in_tmp):
        before = sorted(os.listdir(in_tmp))
        try:
            code = main(argv)
        except SystemExit as e:  # argparse usage errors exit from the parser
            code = e.code
        out, err = capsys.readouterr()
        assert code == 2, argv
        assert out == "" and sorted(os.listdir(in_tmp)) == before, argv
        assert err.endswith("\n") and err.count("\n") == 1, (argv, err)
        assert err.startswith("lowformer-nas: error: ") and needle in err, (argv, err)


def _subprocess(*argv, cwd):
    return subprocess.run([sys.executable, "-m", "lowformer_nas", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_subprocess_show_json(tmp_path, reference):
    proc = _subprocess("show", "lowformer_b1", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["params"] == reference["lowformer_b1"]["params"]


def test_subprocess_bad_name_no_traceback(tmp_path):
    (tmp_path / "broken.yaml").write_text("version: [1\n")
    for argv, needle in [(["show", "no_such_arch"], "'no_such_arch'"),
                         (["show", "broken.yaml"], "not valid YAML")]:
        proc = _subprocess(*argv, cwd=tmp_path)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.count("\n") == 1 and needle in proc.stderr
        assert "Traceback" not in proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["broken.yaml"]


def test_closed_pipe_is_quiet():
    """`lowformer-nas show ... | head -c 20`: no BrokenPipeError traceback, exit 0."""
    cmd = f"{sys.executable} -m lowformer_nas show lowformer_b3 --json | head -c 20"
    out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True)
    assert out.returncode == 0 and out.stderr == "" and len(out.stdout) == 20
