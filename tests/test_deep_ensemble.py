"""deep.ensemble: N runs trained side by side equal the same runs trained one at a time by deep.train.fit.

The stack evaluates its convolutions as grouped convolutions, which add in another order
than one model's convolutions, so a member differs from its run trained alone by float32
rounding: measured after 10 Adam steps (lr 1e-3), the relative error of the parameter
change is about 3e-5 and of the losses about 1e-6. The tolerances below (1e-3 and 1e-5)
leave a margin of 30x and 10x; a wrong batch, noise draw, beta, L2 weight, exponent or Adam
state moves the parameters by whole steps (relative error of order 1).
"""
import json
import numpy as np
import pytest
import torch

from deep.ensemble import PACK, pack_key, train_side_by_side
from deep.objectives import Objective
from deep.runs import build
from deep.train import RunConfig, fit

pytestmark = pytest.mark.deep

OBJECTIVES = [{"name": "beta", "beta": 4.0},
              {"name": "lambda-beta", "beta": 4.0, "l2_weight": 8.0, "phase1_steps": 4},
              {"name": "lambda", "delta": 1.01, "update_every": 3, "ramp_steps": 6},
              {"name": "beta", "beta": 2.0, "warmup_steps": 5}]
SEEDS = [3, 3, 5, 7]
CHANGE_RTOL, LOSS_RTOL = 1e-3, 1e-5


def config(objective, seed, steps=10):
    return RunConfig(data={"name": "dsprites", "subset": 256}, model={"architecture": "conv", "m": 4},
                     objective=objective, steps=steps, batch_size=8, lr=1e-3, seed=seed, checkpoint_every=3,
                     log_every=2, evaluation={"samples": 64, "dci": False}).to_dict()


def alone(cfg, run_dir, **kw):
    data, model, objective = build(cfg)
    fit(model, data, objective, run_dir, steps=cfg["steps"], batch_size=cfg["batch_size"], lr=cfg["lr"],
        seed=cfg["seed"], checkpoint_every=cfg["checkpoint_every"], log_every=cfg["log_every"], config=cfg,
        progress=False, **kw)


def load(run_dir):
    return torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)


def log(run_dir):
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def change_error(a, b, start):
    """||theta_a - theta_b|| / ||theta_b - theta_start|| over every tensor of two state dicts."""
    num = sum(float(((a[k] - b[k]) ** 2).sum()) for k in b)
    den = sum(float(((b[k] - start[k]) ** 2).sum()) for k in b)
    return np.sqrt(num / den)


def initial_state(cfg):
    return build(cfg)[1].state_dict()


def assert_same_run(side, one, start, record):
    """Run directories ``side`` (trained in a stack) and ``one`` (alone) agree; ``start``: the initial state."""
    a, b = load(side), load(one)
    error = change_error(a["model"], b["model"], start)
    assert error < CHANGE_RTOL
    for i, state in b["optimizer"]["state"].items():
        other = a["optimizer"]["state"][i]
        assert float(other["step"]) == float(state["step"])
        for name in ("exp_avg", "exp_avg_sq"):
            assert float(torch.linalg.norm(other[name] - state[name])) <= CHANGE_RTOL * float(torch.linalg.norm(state[name]))
    assert a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]
    assert a["step"] == b["step"] and a["config"] == b["config"]
    assert json.loads((side / "config.json").read_text()) == json.loads((one / "config.json").read_text())
    if b["objective"]:
        assert a["objective"]["lambdas"] == pytest.approx(b["objective"]["lambdas"], rel=LOSS_RTOL)
        assert a["objective"]["ema"] == pytest.approx(b["objective"]["ema"], rel=LOSS_RTOL)
    la, lb = log(side), log(one)
    assert [line["step"] for line in la] == [line["step"] for line in lb]
    for x, y in zip(la, lb):
        assert x["l2_weight"] == y["l2_weight"] and x["exponent"] == pytest.approx(y["exponent"], rel=LOSS_RTOL)
        for key in ("loss", "nll", "l2", "kl_total"):
            assert x[key] == pytest.approx(y[key], rel=LOSS_RTOL, abs=1e-6), key
    record(error)


@pytest.mark.integration
def test_side_by_side_equals_one_at_a_time(tmp_path):
    """Four runs (beta, lambda-beta, lambda, KL warm-up; seeds 3, 3, 5, 7) in one stack vs fit one by one."""
    configs = [config(o, s) for o, s in zip(OBJECTIVES, SEEDS)]
    metrics = train_side_by_side(configs, [tmp_path / f"side{k}" for k in range(4)], progress=False)
    errors = []
    for k, cfg in enumerate(configs):
        alone(cfg, tmp_path / f"one{k}")
        assert_same_run(tmp_path / f"side{k}", tmp_path / f"one{k}", initial_state(cfg), errors.append)
        assert json.loads((tmp_path / f"side{k}" / "metrics.json").read_text()) == metrics[k]
        assert metrics[k]["training"]["models"] == 4 and len(metrics[k]["kl_per_dim"]) == 4
    assert not list((tmp_path / ".packs").glob(f"*/{PACK}"))  # the stack's checkpoint is removed at the end
    assert max(errors) > 0  # grouped convolutions do round differently: the comparison is not vacuous


def test_second_phase_side_by_side_equals_fit_from_the_same_checkpoints(tmp_path):
    """The two-phase protocol: beta-VAE checkpoints continued with l2_weight 0 and 8, side by side vs alone."""
    phase1 = [config({"name": "beta", "beta": 4.0}, seed, steps=4) for seed in (1, 2)]
    for k, cfg in enumerate(phase1):
        alone(cfg, tmp_path / f"p1-{k}")
    phase2 = [config({"name": "beta", "beta": 4.0}, 1, steps=8),
              config({"name": "lambda-beta", "beta": 4.0, "l2_weight": 8.0, "phase1_steps": 4}, 2, steps=8)]
    starts = [tmp_path / "p1-0" / "checkpoint.pt", tmp_path / "p1-1" / "checkpoint.pt"]
    train_side_by_side(phase2, [tmp_path / "side0", tmp_path / "side1"], init_from=starts, evaluate=False,
                       progress=False)
    for k, (cfg, start) in enumerate(zip(phase2, starts)):
        alone(cfg, tmp_path / f"one{k}", init_from=start)
        assert_same_run(tmp_path / f"side{k}", tmp_path / f"one{k}", load(start.parent)["model"], lambda e: None)
        assert load(tmp_path / f"side{k}")["config"]["init_from"]["step"] == 4


class Killed(Exception):
    """Stands for the process being killed in the middle of a step."""


@pytest.mark.integration
def test_killed_pack_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    configs = [config(o, s) for o, s in zip(OBJECTIVES[:3], SEEDS[:3])]
    straight = [tmp_path / f"straight{k}" for k in range(3)]
    train_side_by_side(configs, straight, progress=False, evaluate=False)
    resumed = [tmp_path / f"resumed{k}" for k in range(3)]
    original = Objective.after_step

    def dies_at_step_7(self, parts, step):
        if step == 7:
            raise Killed
        original(self, parts, step)
    monkeypatch.setattr(Objective, "after_step", dies_at_step_7)
    with pytest.raises(Killed):
        train_side_by_side(configs, resumed, progress=False, evaluate=False)
    assert torch.load(tmp_path / ".packs" / pack_key(configs) / PACK, weights_only=True)["step"] == 6
    assert [line["step"] for line in log(resumed[0])] == [2, 4, 6]
    monkeypatch.setattr(Objective, "after_step", original)
    train_side_by_side(configs, resumed, progress=False, evaluate=False)
    strip = lambda lines: [{k: v for k, v in line.items() if k != "images_per_s"} for line in lines]  # noqa: E731
    for a, b in zip(straight, resumed):
        sa, sb = load(a), load(b)
        for key, value in sa["model"].items():
            assert torch.equal(value, sb["model"][key]), key
        assert sa["objective"] == sb["objective"]
        assert strip(log(a)) == strip(log(b))


def test_bad_packs_are_refused(tmp_path):
    a, b = config(OBJECTIVES[0], 0), config(OBJECTIVES[0], 1)
    for configs, dirs, message in [
        ([], [], "at least one run"),
        ([a, b], [tmp_path / "x"], "the same length"),
        ([a, b], [tmp_path / "x", tmp_path / "x"], "distinct directories"),
        ([a, {**b, "lr": 1e-4}], [tmp_path / "x", tmp_path / "y"], "config 1 differs from config 0 in lr"),
        ([a, {**b, "model": {"architecture": "conv", "m": 5}}], [tmp_path / "x", tmp_path / "y"], "in model"),
    ]:
        with pytest.raises(ValueError, match=message):
            train_side_by_side(configs, dirs, progress=False)
    alone(config(OBJECTIVES[0], 0, steps=2), tmp_path / "p1")
    with pytest.raises(ValueError, match="for every run or for none"):
        train_side_by_side([a, b], [tmp_path / "x", tmp_path / "y"], init_from=[tmp_path / "p1" / "checkpoint.pt", None],
                           progress=False)


@pytest.mark.slow
def test_compiled_stack_matches_eager(tmp_path):
    """torch.compile of the vmapped loss (about 90 s of compilation on one CPU thread) against eager mode."""
    configs = [config({"name": "beta", "beta": b}, 3, steps=6) for b in (1.0, 4.0)]
    train_side_by_side(configs, [tmp_path / "e0", tmp_path / "e1"], evaluate=False, progress=False)
    train_side_by_side(configs, [tmp_path / "c0", tmp_path / "c1"], evaluate=False, progress=False, compile=True)
    for k in range(2):
        assert change_error(load(tmp_path / f"c{k}")["model"], load(tmp_path / f"e{k}")["model"],
                            initial_state(configs[k])) < CHANGE_RTOL


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_stack_bf16_tf32_compile_agree_with_float32(tmp_path):
    """On CUDA: the float32 stack equals the runs alone; bfloat16 + TF32 + compile stays near float32.

    bfloat16 keeps 8 bits of mantissa, so after 10 steps the losses agree to about 1e-2 and
    the parameter change to about 10 % (a wrong batch or hyper-parameter gives order 1).
    """
    configs = [config(o, s) for o, s in zip(OBJECTIVES, SEEDS)]
    f32 = [tmp_path / f"f32-{k}" for k in range(4)]
    fast = [tmp_path / f"fast-{k}" for k in range(4)]
    train_side_by_side(configs, f32, device="cuda", amp=False, tf32=False, evaluate=False, progress=False)
    train_side_by_side(configs, fast, device="cuda", amp=True, tf32=True, compile=True, evaluate=False,
                       progress=False)
    for k, cfg in enumerate(configs):
        alone(cfg, tmp_path / f"one{k}", device="cuda", amp=False)
        assert_same_run(f32[k], tmp_path / f"one{k}", initial_state(cfg), lambda e: None)
        assert change_error(load(fast[k])["model"], load(f32[k])["model"], initial_state(cfg)) < 0.1
        assert log(fast[k])[-1]["loss"] == pytest.approx(log(f32[k])[-1]["loss"], rel=1e-2)
