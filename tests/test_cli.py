"""The CLI skin: dispatch, the exit-code contract for bad arguments, crashes and interrupts."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from runner import __version__
from runner.cli import main
from runner.commands.registry import COMMANDS, load


def test_validate_ok_prints_a_summary(mini_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    assert capsys.readouterr().out == (
        "ok: 2 Model, 1 Prompt, 1 Dataset, 4 Grader, 1 Eval, 1 FineTune in 2 files; 6 dataset items\n"
    )


def test_validate_points_at_values_yaml_1_1_read_differently(
    mini_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    triage = mini_repo / "specs/triage.yaml"
    triage.write_text(triage.read_text().replace("choices: [order_status, other]", "choices: [yes, 'no', off]"))
    assert main(["validate"]) == 0
    assert capsys.readouterr().out == (
        "specs/triage.yaml:24:13: note: 'yes' is the string 'yes' (Flywheel reads YAML 1.2), not the boolean true "
        "of YAML 1.1; write true if you meant the boolean, or quote it to say you meant the text\n"
        "   24 |   choices: [yes, 'no', off]\n"
        "      |             ^\n"
        "specs/triage.yaml:24:24: note: 'off' is the string 'off' (Flywheel reads YAML 1.2), not the boolean false "
        "of YAML 1.1; write false if you meant the boolean, or quote it to say you meant the text\n"
        "   24 |   choices: [yes, 'no', off]\n"
        "      |                        ^\n"
        "ok: 2 Model, 1 Prompt, 1 Dataset, 4 Grader, 1 Eval, 1 FineTune in 2 files; 6 dataset items\n"
    )


def test_validate_notes_come_with_errors_too(mini_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = mini_repo / "specs/models.yaml"
    models.write_text(models.read_text().replace("temperature: 0", "temperature: 1:30"))
    assert main(["validate"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(
        "specs/models.yaml:9:18: note: '1:30' is the string '1:30' (Flywheel reads YAML 1.2), not the int 90 of "
        "YAML 1.1; write 90 if you meant the number, or quote it to say you meant the text\n"
    )
    assert "specs/models.yaml:9:18: Model/small -> spec -> parameters -> temperature: " in captured.err


def test_bad_arguments_exit_1_not_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate", "--no-such-flag"])
    assert info.value.code == 1
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err


def test_missing_path_is_a_clean_error(mini_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "nowhere"]) == 1
    assert capsys.readouterr().err == "error: nowhere: no such file or folder; pass a spec folder such as specs/\n"


def test_internal_error_writes_a_log_and_exits_70(capsys: pytest.CaptureFixture[str]) -> None:
    def boom(args: argparse.Namespace, out: Console, err: Console) -> int:
        raise RuntimeError("kaboom")

    assert main(["validate"], run=boom) == 70
    err = capsys.readouterr().err
    assert err.startswith("flywheel: internal error: RuntimeError: kaboom\nthe traceback is in ")
    log = Path(err.split("the traceback is in ")[1].split(";")[0])
    assert "raise RuntimeError" in log.read_text()
    assert "Traceback" not in err


def test_ctrl_c_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(args: argparse.Namespace, out: Console, err: Console) -> int:
        raise KeyboardInterrupt

    assert main(["validate"], run=interrupted) == 130
    assert capsys.readouterr().err == "flywheel: interrupted\n"


def test_console_script_reports_bad_specs_without_traceback(mini_repo: Path) -> None:
    (mini_repo / "specs/models.yaml").write_text("apiVersion: flywheel/v1\nkind: Model\n")
    exe = Path(sys.executable).parent / "flywheel"
    proc = subprocess.run([str(exe), "validate", "specs"], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        "specs/models.yaml:1:1: Model -> metadata: missing required field 'metadata'; add `metadata:`"
    )
    assert "Traceback" not in proc.stderr
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout == f"flywheel {__version__}\n"


def test_every_registered_command_owns_its_arguments_and_handler() -> None:
    for name in COMMANDS:
        module = load(name)
        assert callable(module.add_arguments) and callable(module.handle), name


def test_a_command_imports_only_its_own_module(mini_repo: Path) -> None:
    code = (
        "import sys; from runner.cli import main; code = main(['validate']); "
        "print(code, sorted(m for m in sys.modules if m.startswith('runner.commands.')), "
        "[m for m in ('openai', 'runner.engine.run', 'runner.engine.calls') if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[-1] == "0 ['runner.commands.registry', 'runner.commands.validate'] []"
