"""`collapse train` and `collapse evaluate`: the tiny CPU configuration, a killed process that resumes, bad input."""
import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from collapse import ROOT
from collapse.cli import main
from deep.config import UserError
from collapse.commands import train as train_command

pytestmark = pytest.mark.deep

SMALL = ["--data", "dsprites", "--subset", "256", "--latents", "3", "--objective", "lambda",
         "--lambda-update-every", "5", "--steps", "60", "--batch-size", "8", "--checkpoint-every", "10",
         "--log-every", "5", "--lr", "1e-3", "--eval-samples", "64", "--no-dci", "--no-progress"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """`collapse train --tiny`: the CPU smoke configuration (200 steps, batch 16, 2048 images)."""
    out = tmp_path_factory.mktemp("tiny")
    assert main(["train", "--tiny", "--no-progress", "--out", str(out)]) == 0
    return out


@pytest.mark.integration
def test_tiny_configuration_writes_checkpoint_log_and_metrics(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    for key in ("mig", "sap", "dci", "active_units", "kl_per_dim", "snr_capacity", "decoder_capacity",
                "reconstruction_nll", "reconstruction_mse"):
        assert key in metrics
    assert metrics["training"]["steps"] == 200 and len(metrics["kl_per_dim"]) == 10
    assert set(metrics["dci"]) == {"disentanglement", "completeness", "informativeness"}
    assert metrics["variants"] == {"sap": "dlib", "mig": "binned", "dci": "dlib", "active_units": "0.01"}
    assert set(metrics["by_variant"]) == {"sap:dlib", "mig:binned", "mig:chen", "dci:dlib", "active_units:0.01"}
    assert set(metrics["information_budget"]["estimators"]) == {"sap:dlib", "mig:binned", "mig:chen"}
    log = [json.loads(line) for line in (tiny_run / "log.jsonl").read_text().splitlines()]
    assert [line["step"] for line in log] == list(range(20, 201, 20))
    assert log[-1]["loss"] < log[0]["loss"]
    config = json.loads((tiny_run / "config.json").read_text())
    assert config["data"] == {"name": "dsprites", "subset": 2048, "subset_seed": 0, "size": 64} and config["batch_size"] == 16
    assert torch.load(tiny_run / "checkpoint.pt", weights_only=True)["step"] == 200


@pytest.mark.integration
def test_evaluate_reads_a_run_directory(tiny_run, capsys):
    out = tiny_run / "eval.json"
    assert main(["evaluate", str(tiny_run), "--samples", "200", "--no-dci", "--output", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["step"] == 200 and metrics["samples"] == 200 and metrics["dci"] is None
    assert "MIG" in capsys.readouterr().out


@pytest.mark.integration
def test_evaluate_computes_the_named_variants_and_reports_the_information_budget(tiny_run, capsys):
    out = tiny_run / "variants.json"
    specs = ["sap:logistic", "sap:dlib", "mig:chen", "mig", "lim:assignment", "active_units:0.05"]
    assert main(["evaluate", str(tiny_run), "--samples", "300", "--no-dci", "--chen-samples", "200",
                 *[a for spec in specs for a in ("--metric", spec)], "--output", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["variants"] == {"sap": "logistic", "mig": "chen", "lim": "assignment", "active_units": "0.05"}
    assert list(metrics["by_variant"]) == ["sap:logistic", "sap:dlib", "mig:chen", "mig:binned", "lim:assignment",
                                           "active_units:0.05"]
    assert metrics["sap"] == metrics["by_variant"]["sap:logistic"]["score"]
    assert metrics["mig"] == metrics["by_variant"]["mig:chen"]["score"] and metrics["dci"] is None
    assert metrics["lim"] == metrics["by_variant"]["lim:assignment"]["score"] >= 0
    budget = metrics["information_budget"]
    assert set(budget["estimators"]) == {"sap:logistic", "sap:dlib", "mig:chen", "mig:binned"}
    assert budget["kl_per_dim"] == pytest.approx(metrics["kl_per_dim"])  # lambda = 1: no sampling excess
    text = capsys.readouterr().out
    assert "MIG[chen]" in text and "SAP[logistic]" in text and "information budget" in text


def test_evaluate_help_lists_every_variant_with_its_source(capsys):
    from deep.metrics import VARIANTS

    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = capsys.readouterr().out
    for spec, v in VARIANTS.items():
        assert spec in text and v.source in text


@pytest.mark.parametrize("spec, message", [("sap:svm", "sap has no variant 'svm'"),
                                           ("mig:exact", "closed form for linear-Gaussian codes")])
@pytest.mark.integration
def test_evaluate_refuses_a_variant_it_cannot_compute(tiny_run, spec, message, capsys):
    assert main(["evaluate", str(tiny_run), "--samples", "50", "--no-dci", "--metric", spec,
                 "--output", str(tiny_run / "bad.json")]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.integration
def test_killed_process_resumes_to_the_uninterrupted_result(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert main(["train", *SMALL, "--out", str(straight)]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "collapse", "train", *SMALL, "--out", str(killed)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            ckpt = killed / "checkpoint.pt"
            if ckpt.exists() and torch.load(ckpt, weights_only=True)["step"] >= 20:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert torch.load(killed / "checkpoint.pt", weights_only=True)["step"] < 60
    assert main(["train", *SMALL, "--out", str(killed)]) == 0
    a = torch.load(straight / "checkpoint.pt", weights_only=True)
    b = torch.load(killed / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == 60 and a["objective"] == b["objective"]
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    strip = lambda path: [{k: v for k, v in json.loads(line).items() if k != "images_per_s"}
                          for line in (path / "log.jsonl").read_text().splitlines()]
    assert strip(straight) == strip(killed)
    drop = lambda path: {k: v for k, v in json.loads((path / "metrics.json").read_text()).items() if k != "training"}
    assert drop(straight) == drop(killed)


@pytest.mark.parametrize("args, message", [
    (["--objective", "beta"], "--steps is required"),
    (["--objective", "lambda-beta", "--steps", "5"], "objective needs the key 'l2_weight'"),
    (["--data", "dsprites-npz", "--steps", "5"], "data needs the key 'path'"),
    (["--data", "dsprites-npz", "--data-path", "nothing.npz", "--steps", "5"], "nothing.npz does not exist"),
    (["--data", "digits", "--architecture", "conv", "--steps", "5"], "conv architecture needs C x 64 x 64"),
    # parameters that would do nothing are refused (issue 17)
    (["--objective", "lambda", "--l2-weight", "32", "--steps", "5"],
     "'l2_weight', a parameter of the 'lambda-beta' objective only, which 'lambda' does not use"),
    (["--objective", "beta", "--delta", "1.5", "--steps", "5"], "'delta', a parameter of the 'lambda' objective only"),
    (["--objective", "lambda", "--fixed-exponent", "2", "--ema-decay", "0.5", "--steps", "5"],
     "ema_decay belong to the lambda* schedule, which fixed_exponent replaces"),
    (["--eta-dec", "0.5", "--steps", "5"], "likelihood 'bernoulli' does not use it"),
    (["--data-path", "x.npz", "--steps", "5"], "'path', a parameter of the 'dsprites-npz' and 'shapes3d-h5' data set"),
    (["--objective", "lambda", "--fixed-exponent", "0", "--steps", "5"], "fixed_exponent must lie in [1, inf); got 0"),
    (["--subset", "0", "--steps", "5"], "data.subset must be an integer >= 1; got 0"),
    (["--hidden", "8,x", "--data", "digits", "--steps", "5"], "--hidden must be comma-separated integers"),
    (["--device", "tpu", "--steps", "5"], "device must be auto, cpu, cuda or cuda:N; got 'tpu'"),
    (["--threads", "0", "--steps", "5"], "--threads must be an integer >= 1"),
    # the two lambdas have their own flags; the old ones name the new ones
    (["--lam", "32", "--steps", "5"], "--lam was renamed: paper 000's L2 weight is --l2-weight"),
    (["--fixed-lambda", "2", "--steps", "5"], "--fixed-lambda was renamed: the constant exponent of paper 002 is "
                                             "--fixed-exponent"),
])
def test_bad_train_arguments_exit_2_with_one_line(args, message, tmp_path, capsys):
    try:
        code = main(["train", *args, "--out", str(tmp_path / "run"), "--no-progress"])
    except SystemExit as exit_:  # argparse
        code = exit_.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


def test_an_output_that_is_a_file_and_a_debug_traceback(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["train", "--steps", "5", "--out", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.strip() == f"collapse train: error: --out must be a folder; {tmp_path / 'file'} is a file"
    with pytest.raises(UserError, match="is a file"):
        main(["train", "--steps", "5", "--out", str(tmp_path / "file"), "--debug"])


@pytest.mark.integration
def test_evaluate_refuses_a_missing_checkpoint_and_a_folder_as_output_before_any_work(tiny_run, tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nothing")]) == 2
    assert f"checkpoint {tmp_path / 'nothing'} does not exist" in capsys.readouterr().err
    assert main(["evaluate", str(tiny_run), "--output", str(tmp_path)]) == 2
    assert f"--output must be a file; {tmp_path} is a folder" in capsys.readouterr().err
    assert main(["evaluate", str(tiny_run), "--output", str(tmp_path / "no" / "e.json")]) == 2
    assert "must be in an existing folder" in capsys.readouterr().err


def test_cli_choices_match_the_deep_module():
    from deep.data import DATASETS
    from deep.objectives import OBJECTIVES

    assert set(train_command.DATA) == set(DATASETS)
    assert train_command.OBJECTIVES == OBJECTIVES


@pytest.mark.integration
def test_the_command_line_and_verify_do_not_import_torch():
    code = ("import sys, collapse.cli, collapse.verify, numerics.linear_gaussian_vae, numerics.lambda_vae; "
            "collapse.cli.build_parser(); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
