"""The command line's one error path: a UserError is one line and exit 2, --debug shows the traceback,
renamed options name the new ones, outputs are checked before the work; the shipped examples work."""
import json

import numpy as np
import pytest

from collapse import ROOT, verify
from collapse.cli import UserError, main


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_a_user_error_is_one_line_and_exit_2_and_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    def fails(path, appendix="", cache_dir=None):
        raise UserError("--thing must be\nsomething else")  # a message over several lines is joined
    monkeypatch.setattr("collapse.commands.latex.document.write", fails)
    args = ["latex", "--output", str(tmp_path / "d.tex")]
    assert main(args) == 2
    assert one_line(capsys) == "collapse latex: error: --thing must be something else"
    for debug in (["--debug", *args], [*args, "--debug"]):
        with pytest.raises(UserError, match="--thing"):
            main(debug)


def test_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    monkeypatch.setattr("collapse.commands.latex.document.write", lambda path, appendix="", cache_dir=None: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        main(["latex", "--output", str(tmp_path / "d.tex"), "--no-pdf"])


@pytest.mark.parametrize("args, message", [
    (["phase", "lambda-vae", "--lam", "3"], "collapse phase lambda-vae: error: --lam was renamed: the exponent lambda "
                                            "of paper 002 is --exponent"),
    (["phase", "linear-gaussian-vae", "--lambdas", "0", "2"], "--lambdas was renamed: paper 000's L2 weights are "
                                                              "--l2-weights"),
    (["phase", "lambda-vae", "--expo", "3"], "unrecognized arguments: --expo"),  # no silent abbreviations
])
def test_renamed_and_abbreviated_options_are_refused(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["phase", "wang-ziyin", "--zeta", "1e300"], "--zeta must lie in (0, 1e+100); got 1e+300"),  # not --beta-max
    (["phase", "wang-ziyin", "--zeta", "3", "--d0", "0"], "--d0 must be an integer >= 1; got 0"),
    (["phase", "linear-gaussian-vae", "--betas", "-1"], "--betas must lie in (0, 1e+12); got -1"),
    (["phase", "linear-gaussian-vae", "--trials", "0"], "--trials must be an integer >= 1; got 0"),
    (["phase", "lambda-vae", "--t-max", "nan"], "--t-max must be finite"),
    (["phase", "lambda-vae", "--grid", "100000"], "--grid must be at most 2000; got 100000"),
    (["phase", "optimal-beta", "--mixing", "missing.csv"], "--mixing must be an existing .npy or .csv file; "
                                                           "missing.csv does not exist"),
    (["phase", "optimal-beta", "--k", "9"], "--k must be at most 6"),
])
def test_phase_validation_errors_are_one_line(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert message in one_line(capsys)
    assert not list(tmp_path.iterdir())  # refused before anything was written


@pytest.mark.integration
def test_phase_outputs_are_checked_first_and_go_to_runs_not_the_current_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("")
    assert main(["phase", "optimal-beta", "--output-dir", "file"]) == 2
    assert "--output-dir must be a folder; file is a file" in one_line(capsys)
    assert main(["phase", "optimal-beta", "--N", "4", "--points", "5"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "runs"]
    assert len(list((tmp_path / "runs" / "phase").iterdir())) == 3


def test_verify_checks_its_outputs_before_the_checks_run(tmp_path, capsys, monkeypatch):
    ran = []
    monkeypatch.setattr("collapse.commands.verify.verify", lambda **kw: ran.append(kw) or 0)
    for option in ("--json", "--markdown", "--latex"):
        assert main(["verify", option, str(tmp_path / "missing" / "v.json")]) == 2
        assert f"{option} must be in an existing folder" in one_line(capsys)
        assert main(["verify", option, str(tmp_path)]) == 2
        assert f"{option} must be a file; {tmp_path} is a folder" in one_line(capsys)
    assert not ran


def test_verify_with_a_keyword_that_selects_no_check_is_an_error(capsys, monkeypatch):
    def no_checks(markexpr, keyword, paper, report, extra, workers):
        report.write_text(json.dumps({"tests": []}))
        return 5  # pytest: no tests collected
    monkeypatch.setattr(verify, "run_checks", no_checks)
    assert main(["verify", "-k", "nomatch"]) == 2
    assert one_line(capsys) == "collapse verify: error: -k 'nomatch' selects no claim check (pytest exit status 5)"


def test_latex_refuses_a_folder_as_output(tmp_path, capsys):
    assert main(["latex", "--output", str(tmp_path), "--no-pdf"]) == 2
    assert f"--output must be a .tex file; {tmp_path} is a folder" in one_line(capsys)


@pytest.mark.integration
def test_the_shipped_mixing_matrix_runs(tmp_path, capsys):
    """examples/A.csv: the README's `collapse phase optimal-beta --mixing examples/A.csv` (fewer points)."""
    A = np.loadtxt(ROOT / "examples" / "A.csv", delimiter=",", ndmin=2)
    assert A.shape == (2, 2)
    assert main(["phase", "optimal-beta", "--mixing", str(ROOT / "examples" / "A.csv"), "--beta-min", "0.1",
                 "--beta-max", "100", "--points", "30", "--output-dir", str(tmp_path), "--name", "fig"]) == 0
    assert (tmp_path / "fig.png").stat().st_size > 10_000 and "tie" in capsys.readouterr().out
