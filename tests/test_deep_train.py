"""deep.train: the one loop trains all three objectives, resumes exactly, logs, and runs the two-phase protocol."""
import json

import numpy as np
import pytest
import torch

from deep.config import UserError
from deep.runs import build, resolve_device
from deep.train import RunConfig, fit, train

pytestmark = pytest.mark.deep

OBJECTIVES = {
    "beta": {"name": "beta", "beta": 4.0},
    "lambda-beta": {"name": "lambda-beta", "beta": 4.0, "l2_weight": 8.0, "phase1_steps": 4},
    "lambda": {"name": "lambda", "delta": 1.01, "update_every": 3, "ramp_steps": 6},
}


def conv_config(objective, steps):
    return {"data": {"name": "dsprites", "subset": 256}, "model": {"architecture": "conv", "m": 4},
            "objective": objective, "steps": steps, "batch_size": 8, "lr": 1e-3, "seed": 3}


class Killed(Exception):
    """Stands for the process being killed in the middle of a step."""


def kill_at(objective, step):
    """Make ``objective`` raise :class:`Killed` at ``step``, after the optimiser moved, before any save."""
    original = objective.after_step

    def after_step(parts, s):
        if s == step:
            raise Killed
        original(parts, s)
    objective.after_step = after_step


def run(config, run_dir, steps=None, kill=None, **kw):
    data, model, objective = build(config)
    if kill is not None:
        kill_at(objective, kill)
        with pytest.raises(Killed):
            fit(model, data, objective, run_dir, steps=config["steps"], batch_size=config["batch_size"],
                lr=config["lr"], seed=config["seed"], checkpoint_every=3, log_every=2, config=config,
                progress=False)
        return model, objective
    fit(model, data, objective, run_dir, steps=steps or config["steps"], batch_size=config["batch_size"],
        lr=config["lr"], seed=config["seed"], checkpoint_every=3, log_every=2, config=config, progress=False, **kw)
    return model, objective


def lines(run_dir):
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def strip_speed(log):
    return [{k: v for k, v in line.items() if k != "images_per_s"} for line in log]


@pytest.mark.parametrize("name", OBJECTIVES)
def test_interrupted_run_resumes_to_the_uninterrupted_result(name, tmp_path):
    config = conv_config(OBJECTIVES[name], steps=10)
    straight, _ = run(config, tmp_path / "straight")
    run(config, tmp_path / "resumed", kill=7)  # dies in step 8 (index 7): checkpoint at 6, log at 6
    resumed, objective = run(config, tmp_path / "resumed")
    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), key
    assert strip_speed(lines(tmp_path / "straight")) == strip_speed(lines(tmp_path / "resumed"))
    if name == "lambda":
        log = lines(tmp_path / "straight")
        assert log[0]["exponent"] == [1.0] * 4 and any(v > 1 for v in log[-1]["exponent"])
        assert objective.schedule.ema is not None


def test_log_holds_per_dimension_kl_sigma_and_lambda(tmp_path):
    config = conv_config(OBJECTIVES["lambda-beta"], steps=6)
    run(config, tmp_path)
    log = lines(tmp_path)
    assert [line["step"] for line in log] == [2, 4, 6]
    assert [line["l2_weight"] for line in log] == [0.0, 0.0, 8.0]  # the L2 weight from step N1 = 4 on
    for line in log:
        assert len(line["kl"]) == len(line["sigma"]) == len(line["exponent"]) == 4
        assert line["kl_total"] == pytest.approx(sum(line["kl"]))
        assert line["images_per_s"] > 0
    assert json.loads((tmp_path / "config.json").read_text())["objective"]["l2_weight"] == 8.0


def test_killed_run_drops_log_lines_past_its_checkpoint(tmp_path):
    config = conv_config(OBJECTIVES["beta"], steps=8)
    run(config, tmp_path, kill=4)  # logged steps 2 and 4, checkpointed step 3, died in step 5
    assert [line["step"] for line in lines(tmp_path)] == [2, 4]
    run(config, tmp_path)
    assert [line["step"] for line in lines(tmp_path)] == [2, 4, 6, 8]
    straight = tmp_path / "straight"
    run(config, straight)
    assert strip_speed(lines(tmp_path)) == strip_speed(lines(straight))


def test_two_phase_protocol_continues_a_beta_vae_run(tmp_path):
    """A beta-VAE run for N1 steps, then lambda-beta from its checkpoint == one lambda-beta run with phase1_steps = N1."""
    n1, total = 4, 8
    one = conv_config(OBJECTIVES["lambda-beta"], steps=total)
    single, _ = run(one, tmp_path / "single")
    phase1 = conv_config({"name": "beta", "beta": 4.0}, steps=n1)
    run(phase1, tmp_path / "phase1")
    phase2, _ = run(one, tmp_path / "phase2", init_from=tmp_path / "phase1" / "checkpoint.pt")
    for a, b in zip(single.state_dict().values(), phase2.state_dict().values()):
        assert torch.equal(a, b)
    assert json.loads((tmp_path / "phase2" / "config.json").read_text())["init_from"]["step"] == n1


def test_resuming_with_another_configuration_is_refused(tmp_path):
    config = conv_config(OBJECTIVES["beta"], steps=3)
    run(config, tmp_path)
    other = {**config, "objective": {"name": "beta", "beta": 8.0}}
    with pytest.raises(UserError, match="holds a run whose objective differ"):
        run(other, tmp_path)


def test_training_uses_the_latents_on_vector_data(tmp_path):
    """The loop learns: in 300 steps an MLP VAE on the 8x8 digits beats every constant reconstruction."""
    config = {"data": {"name": "digits"}, "model": {"architecture": "mlp", "m": 4, "hidden": [64, 64]},
              "objective": {"name": "beta", "beta": 0.1}, "steps": 300, "batch_size": 64, "lr": 3e-3, "seed": 0}
    data, model, objective = build(config)
    fit(model, data, objective, tmp_path, steps=300, lr=3e-3, log_every=50, config=config, progress=False)
    best_constant = data.observations(np.arange(len(data))).var(0).sum()  # E||x - E[x]||^2
    last = lines(tmp_path)[-1]
    assert last["l2"] < 0.7 * best_constant
    assert last["kl_total"] > 1.0


def test_train_writes_final_metrics(tmp_path):
    config = RunConfig(data={"name": "digits"}, model={"architecture": "mlp", "m": 3, "hidden": [32]},
                       objective={"name": "lambda", "delta": 1.01, "update_every": 5}, steps=20, batch_size=32,
                       log_every=10, evaluation={"samples": 200, "dci": False})
    metrics = train(config, tmp_path, progress=False)
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert metrics["training"]["steps"] == 20 and metrics["training"]["device"] == "cpu"
    assert len(metrics["exponent"]) == 3 and metrics["dci"] is None


def test_device_choice_and_bad_arguments(tmp_path):
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA is not available"):
            resolve_device("cuda")
    for name in ("tpu", "gpu", "cuda:x", "meta"):
        with pytest.raises(UserError, match=f"device must be auto, cpu, cuda or cuda:N; got '{name}'"):
            resolve_device(name)
    data, model, objective = build(conv_config(OBJECTIVES["beta"], steps=1))
    for kw, message in [({"steps": 0}, "steps must be an integer >= 1"),
                        ({"steps": 2, "lr": -1.0}, "lr must be a finite number > 0"),
                        ({"steps": 2, "batch_size": 0}, "batch_size must be an integer >= 1")]:
        with pytest.raises(ValueError, match=message):
            fit(model, data, objective, tmp_path, progress=False, **kw)


def test_cpu_uses_one_thread(tmp_path):
    torch.set_num_threads(2)
    config = conv_config(OBJECTIVES["beta"], steps=1)
    run(config, tmp_path)
    assert torch.get_num_threads() == 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_mixed_precision_agrees_with_float32(tmp_path):
    """bfloat16 autocast against float32 on one batch (loss and gradients), then a short CUDA run."""
    config = conv_config(OBJECTIVES["lambda-beta"], steps=20)
    data, model, objective = build(config)
    device = torch.device("cuda")
    model.to(device)
    x = torch.from_numpy(data.observations(np.arange(64))).to(device)
    grads = {}
    for amp in (False, True):
        model.zero_grad()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss, _ = objective.loss(model, x, 10, torch.Generator(device=device).manual_seed(0))
        loss.backward()
        grads[amp] = (loss.item(), torch.cat([p.grad.flatten() for p in model.parameters()]))
    (l32, g32), (l16, g16) = grads[False], grads[True]
    assert abs(l16 - l32) <= 1e-2 * abs(l32)  # bfloat16 keeps 8 bits of mantissa
    assert torch.linalg.norm(g16 - g32) <= 0.1 * torch.linalg.norm(g32)
    data, model, objective = build(config)
    summary = fit(model, data, objective, tmp_path, steps=20, batch_size=8, device="cuda", config=config,
                  progress=False)
    assert summary["device"] == torch.cuda.get_device_name(0)


@pytest.mark.integration
def test_gpu_report_runs_every_section_tiny_on_the_cpu_and_resumes(tmp_path):
    """The accelerator script at --tiny on the CPU: every section recorded, CUDA-only numbers said not
    applicable; a second call recomputes nothing, --again recomputes, another size is refused."""
    from deep import gpu_report

    out, work = tmp_path / "r.json", tmp_path / "work"
    args = ["--tiny", "--device", "cpu", "--output", str(out), "--work-dir", str(work)]
    assert gpu_report.main(args) == 0
    first = json.loads(out.read_text())
    assert set(first["sections"]) == set(gpu_report.SECTIONS) and first["device"] == "cpu"
    assert first["sections"]["single"]["float32_images_per_s"] > 0
    _assert_interleaved_stack(first["sections"]["stack"], gpu_report.SIZES["tiny"])
    assert first["sections"]["precision"]["beta"]["tf32"] == "not applicable on the CPU"
    assert set(first["sections"]["grid"]["runs"]) == {"beta=1", "beta=8", "beta=64", "beta=256"}
    assert gpu_report.main(args) == 0
    assert json.loads(out.read_text())["sections"] == first["sections"]
    assert gpu_report.main([*args, "--again", "--sections", "single"]) == 0
    assert json.loads(out.read_text())["sections"]["single"] != first["sections"]["single"]
    with pytest.raises(SystemExit) as exit_:
        gpu_report.main(["--device", "cpu", "--output", str(out), "--sections", "single"])
    assert exit_.value.code == 2


def _assert_interleaved_stack(stack, size):
    """Every N has both sides timed in the same number of rounds, the ratio's min <= median, and
    the record's figures are the ones its per-round step times give."""
    assert stack["rounds"] == size["repeats"] and stack["batch_per_model"] == size["batch"]
    assert stack["precision"] == {"one_at_a_time": "float32", "stack": "float32"}
    assert set(stack["models"]) == {str(n) for n in size["stack"]}
    for n, row in stack["models"].items():
        one, many = (np.array(row["seconds_per_step"][side]) for side in ("one_at_a_time", "stack"))
        assert len(one) == len(many) == stack["rounds"] and (one > 0).all() and (many > 0).all()
        ratio = int(n) * one / many
        assert 0 < row["ratio_min"] <= row["ratio_median"]
        assert row["ratio_min"] == pytest.approx(ratio.min())
        assert row["ratio_median"] == pytest.approx(np.median(ratio))
        assert row["aggregate_images_per_s"] == pytest.approx(np.median(int(n) * size["batch"] / many))
        assert row["one_at_a_time_images_per_s"] == pytest.approx(np.median(size["batch"] / one))
        assert row["extrapolated_paper_000_grid_hours"] > 0


@pytest.mark.integration
def test_gpu_report_stack_section_stands_alone(tmp_path):
    """--sections stack alone (no single section before it) measures its own one-at-a-time side."""
    from deep import gpu_report

    out = tmp_path / "r.json"
    assert gpu_report.main(["--tiny", "--device", "cpu", "--output", str(out), "--sections", "stack"]) == 0
    record = json.loads(out.read_text())
    assert set(record["sections"]) == {"stack"}
    _assert_interleaved_stack(record["sections"]["stack"], gpu_report.SIZES["tiny"])
