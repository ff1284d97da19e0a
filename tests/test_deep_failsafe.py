"""Runs fail safely (issue 17): divergence, damaged checkpoints, a second writer, orphaned sweep
workers, corrupt run files, going back in steps, a bad --init-from.

Each test reproduces a failure the newcomer probe found; on the code before the fix it fails.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

from collapse import ROOT
from collapse.cli import main
from deep import sweep
from deep.config import UserError
from deep.runs import CHECKPOINT, PREVIOUS, build, load_checkpoint, run_lock
from deep.train import Diverged, fit

pytestmark = pytest.mark.deep

CONFIG = {"data": {"name": "digits"}, "model": {"architecture": "mlp", "m": 2, "hidden": [8]},
          "objective": {"name": "beta", "beta": 1.0}, "steps": 9, "batch_size": 16, "lr": 1e-3, "seed": 0,
          "checkpoint_every": 3, "log_every": 3, "evaluation": {"samples": 64, "dci": False}}
TRAIN = ["train", "--data", "digits", "--latents", "2", "--hidden", "8", "--batch-size", "16", "--lr", "1e-3",
         "--checkpoint-every", "3", "--log-every", "3", "--eval-samples", "64", "--no-dci", "--no-progress"]


def fit_config(run_dir, config=CONFIG, steps=None, patch=None, **kw):
    data, model, objective = build(config)
    if patch is not None:
        patch(model, objective)
    fit(model, data, objective, run_dir, steps=steps or config["steps"], batch_size=config["batch_size"],
        lr=config["lr"], seed=config["seed"], checkpoint_every=config["checkpoint_every"],
        log_every=config["log_every"], config=config, progress=False, **kw)
    return model


def steps_logged(run_dir):
    return [json.loads(line)["step"] for line in (run_dir / "log.jsonl").read_text().splitlines()]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


# ------------------------------------------------------------------ divergence


def infinite_loss_at(step):
    def patch(model, objective):
        original = objective.loss

        def loss(model_, x, t, generator):
            value, parts = original(model_, x, t, generator)
            if t == step:
                parts = {**parts, "kl": parts["kl"] * float("inf")}
                value = value * float("inf")
            return value, parts
        objective.loss = loss
    return patch


def test_a_diverging_loss_stops_at_once_and_keeps_the_last_finite_checkpoint(tmp_path):
    with pytest.raises(Diverged, match=r"diverged at step 7: the loss is inf \(kl inf\)"):
        fit_config(tmp_path, patch=infinite_loss_at(7))
    ckpt = load_checkpoint(tmp_path)
    assert ckpt["step"] == 6
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    assert steps_logged(tmp_path) == [3, 6]


def test_a_non_finite_gradient_names_the_parameter(tmp_path):
    def patch(model, objective):
        weight = next(model.decoder.parameters())
        original = objective.loss

        def loss(model_, x, t, generator):
            if t == 4:
                weight.register_hook(lambda g: g * float("nan"))
            return original(model_, x, t, generator)
        objective.loss = loss
    with pytest.raises(Diverged, match=r"diverged at step 4: the gradient of decoder\.net\.0\.weight is not finite"):
        fit_config(tmp_path, patch=patch)
    assert load_checkpoint(tmp_path)["step"] == 3


def test_train_with_a_huge_beta_says_it_diverged_and_writes_no_nan_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, "--beta", "1e300", "--steps", "6", "--out", str(out)]) == 2
    err = one_line_error(capsys)
    assert "diverged at step 0" in err and "beta" in err
    assert not (out / CHECKPOINT).exists()


# ------------------------------------------------------------------ checkpoints


def test_two_checkpoints_are_kept_and_a_damaged_one_falls_back_to_the_previous(tmp_path):
    straight = fit_config(tmp_path / "straight")
    run = tmp_path / "run"
    fit_config(run, steps=6)
    assert load_checkpoint(run / CHECKPOINT)["step"] == 6 and load_checkpoint(run / PREVIOUS)["step"] == 3
    data = (run / CHECKPOINT).read_bytes()
    (run / CHECKPOINT).write_bytes(data[: len(data) // 2])  # truncated
    with pytest.warns(UserWarning, match=r"checkpoint\.pt .*corrupt.*falling back to checkpoint\.prev\.pt \(step 3\)"):
        resumed = fit_config(run)
    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), key
    assert steps_logged(run) == [3, 6, 9]


def test_a_flipped_byte_is_caught_by_the_checksum(tmp_path):
    fit_config(tmp_path, steps=6)
    data = bytearray((tmp_path / CHECKPOINT).read_bytes())
    data[len(data) // 2] ^= 0xFF  # the middle of the file: tensor bytes
    (tmp_path / CHECKPOINT).write_bytes(bytes(data))
    with pytest.raises(UserError, match="corrupt"):
        load_checkpoint(tmp_path / CHECKPOINT)
    with pytest.warns(UserWarning, match="falling back"):
        assert load_checkpoint(tmp_path)["step"] == 3


def test_two_damaged_checkpoints_are_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, "--steps", "6", "--out", str(out)]) == 0
    capsys.readouterr()
    for name in (CHECKPOINT, PREVIOUS):
        (out / name).write_bytes(b"not a checkpoint")
    assert main([*TRAIN, "--steps", "9", "--out", str(out)]) == 2
    err = one_line_error(capsys)
    assert str(out / CHECKPOINT) in err and "checkpoint.prev.pt" in err and "delete" in err
    assert main(["evaluate", str(out), "--no-dci", "--samples", "64"]) == 2
    assert "corrupt" in one_line_error(capsys)


# ------------------------------------------------------------------ one writer per run folder


@pytest.mark.integration
def test_a_second_writer_of_a_run_folder_is_refused(tmp_path):
    code = ("import sys, time; from deep.runs import run_lock\n"
            "with run_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(UserError, match=rf"{tmp_path} is being written by another process \(pid {holder.pid}\)"):
            fit_config(tmp_path)
        assert not (tmp_path / CHECKPOINT).exists()
    finally:
        holder.kill()
        holder.wait()
    fit_config(tmp_path)  # the lock dies with its process
    with run_lock(tmp_path), run_lock(tmp_path):  # re-entrant within one thread
        pass
    held, release = threading.Event(), threading.Event()

    def hold():
        with run_lock(tmp_path):
            held.set()
            release.wait(60)
    other = threading.Thread(target=hold)
    other.start()
    try:
        held.wait(60)
        with pytest.raises(UserError, match="being written by another thread of this process"):
            fit_config(tmp_path, steps=12)
    finally:
        release.set()
        other.join()


def _children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(c) for c in f.read().split()]
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.integration
def test_sweep_workers_die_with_their_parent(tmp_path):
    config = {"name": "orphans", "base": {**CONFIG, "steps": 100000, "checkpoint_every": 5, "log_every": 5},
              "grid": {"seed": [0]}}
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(config))
    parent = subprocess.Popen([sys.executable, "-m", "collapse", "sweep", str(path), "--root", str(tmp_path / "out"),
                               "--workers", "1", "--no-progress"], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    workers = []
    try:
        log = tmp_path / "out" / "runs" / "seed=0" / "log.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (log.exists() and log.read_text()):
            time.sleep(0.1)
        assert log.exists(), "the worker never started training"
        workers = [c for c in _children(parent.pid) if _alive(c)]
        assert workers
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers), "orphaned workers kept training"
    finally:
        parent.kill()
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)


# ------------------------------------------------------------------ corrupt run files


def test_a_corrupt_log_line_is_named_and_a_half_written_last_line_is_dropped(tmp_path):
    fit_config(tmp_path, steps=6)
    log = tmp_path / "log.jsonl"
    lines = log.read_text().splitlines()
    log.write_text(lines[0] + "\n" + lines[1] + "\n" + '{"step": 9, "lo')  # killed while appending
    fit_config(tmp_path)
    assert steps_logged(tmp_path) == [3, 6, 9]
    lines = log.read_text().splitlines()
    log.write_text("garbage\n" + "\n".join(lines[1:]) + "\n")
    with pytest.raises(UserError, match=rf"{log} line 1 is not JSON .*delete"):
        fit_config(tmp_path, steps=12)


SWEEP = {"name": "s", "base": {**CONFIG, "steps": 3}, "grid": {"seed": [0]}}


def test_corrupt_sweep_files_are_named_and_the_run_is_evaluated_again(tmp_path, capsys):
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(SWEEP))
    root = tmp_path / "out"
    args = ["sweep", str(path), "--root", str(root), "--workers", "0", "--no-progress"]
    assert main(args) == 0
    run = root / "runs" / "seed=0"
    good = json.loads((run / "metrics.json").read_text())
    for name in ("metrics.json", "config.json"):
        (run / name).write_text("{broken")
        capsys.readouterr()
        assert main([*args, "--dry-run"]) == 0
        out = capsys.readouterr()
        assert "todo  seed=0" in out.out and str(run / name) in out.err and "corrupt" in out.err
        assert main(args) == 0
        assert str(run / name) in capsys.readouterr().err
        again = json.loads((run / "metrics.json").read_text())
        assert {k: v for k, v in again.items() if k != "training"} == {k: v for k, v in good.items() if k != "training"}


def test_fewer_steps_on_a_finished_run_are_refused_and_nothing_is_rewritten(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, "--steps", "6", "--out", str(out)]) == 0
    before = {name: (out / name).read_bytes() for name in ("config.json", "metrics.json", CHECKPOINT)}
    capsys.readouterr()
    assert main([*TRAIN, "--steps", "3", "--out", str(out)]) == 2
    err = one_line_error(capsys)
    assert "trained to step 6" in err and "--steps 3" in err
    assert before == {name: (out / name).read_bytes() for name in before}


@pytest.mark.parametrize("content", [None, b"", b"garbage"])
def test_a_missing_or_corrupt_init_from_is_refused_before_a_folder_is_made(tmp_path, capsys, content):
    source = tmp_path / "phase1.pt"
    if content is not None:
        source.write_bytes(content)
    out = tmp_path / "run"
    assert main([*TRAIN, "--steps", "6", "--init-from", str(source), "--out", str(out)]) == 2
    assert str(source) in one_line_error(capsys)
    assert not out.exists()


def test_a_sweep_whose_first_phase_is_corrupt_reports_it(tmp_path):
    runs = sweep.expand({**SWEEP, "then": {"steps": 6, "grid": {"objective.beta": [2.0]}}})
    with sweep.executor(0) as pool:
        sweep.execute(runs[:1], tmp_path, pool, progress=False)
        for name in (CHECKPOINT, PREVIOUS):
            path = runs[0].directory(tmp_path) / name
            if path.exists():
                path.write_bytes(b"junk")
        with pytest.raises(UserError, match=r"seed=0\+objective\.beta=2: .*corrupt"):
            sweep.execute(runs, tmp_path, pool, progress=False)


def test_a_diverging_member_of_a_pack_is_named(tmp_path):
    from deep.ensemble import train_side_by_side

    configs = [{**CONFIG, "steps": 4}, {**CONFIG, "steps": 4, "objective": {"name": "beta", "beta": 1e300}}]
    dirs = [tmp_path / "fine", tmp_path / "huge"]
    with pytest.raises(Diverged, match=rf"diverged at step 0: the loss is inf .*no checkpoint was written in {dirs[1]}"):
        train_side_by_side(configs, dirs, progress=False)
    assert not any((d / CHECKPOINT).exists() for d in dirs)
