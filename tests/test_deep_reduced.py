"""The reduced-size protocol (issue 19) in the real code: the images at 32 / 16 / 8 px are block
means of the 64-px render held in memory, the conv net at 64 px is Table 1 and drops one stride-2
layer per side per halving, and a run stops where the held-out criterion says and records it."""
import json
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from deep import data as D
from deep import models as M
from deep.config import UserError
from deep.runs import load_checkpoint
from deep.train import Convergence, ConvergenceConfig, RunConfig, heldout_split, train

pytestmark = pytest.mark.deep


# ---------------------------------------------------------------- data


@pytest.mark.parametrize("name, size", [("dsprites", 32), ("dsprites", 16), ("shapes3d", 32), ("shapes3d", 8)])
def test_images_at_a_reduced_size_are_block_means_of_the_64_px_render(name, size):
    small = D.build_data({"name": name, "subset": 40, "subset_seed": 5, "size": size})
    big = D.build_data({"name": name, "subset": 40, "subset_seed": 5})
    idx = np.arange(40)
    expected = F.avg_pool2d(torch.from_numpy(big.observations(idx)), 64 // size).numpy()  # torch's pooling
    got = small.observations(idx)
    assert got.shape == (40, big.shape[0], size, size) and got.dtype == np.float32 and small.shape == got.shape[1:]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(small.factor_classes(idx), big.factor_classes(idx))
    np.testing.assert_array_equal(small.factor_values(idx), big.factor_values(idx))
    assert small.exact_counts == (name == "dsprites")  # binary dSprites held as uint8 counts, Shapes3D as float32
    if name == "dsprites":
        cells = (64 // size) ** 2
        np.testing.assert_array_equal(got * cells, np.rint(got * cells))


def test_size_is_checked_and_only_image_sets_take_it():
    with pytest.raises(UserError, match="data.size must be one of 64, 32, 16, 8; got 24"):
        D.data_config({"name": "dsprites", "size": 24})
    with pytest.raises(UserError, match="data has the key 'size', a parameter of the 'dsprites' and .* which 'digits' does not use"):
        D.data_config({"name": "digits", "size": 16})
    with pytest.raises(ValueError, match=r"images must be \(N, C, 64, 64\)"):
        D.downsample(np.zeros((1, 1, 32, 32)), 16)
    with pytest.raises(ValueError, match="data must hold C x 64 x 64 images"):
        D.Downsampled(D.Digits(), 16)
    assert D.data_config({"name": "dsprites"}).size == 64  # the default: the 64-px render, unchanged
    spec = {"name": "dsprites", "subset": 8, "size": 16}
    assert D.build_data(spec) is D.build_data(dict(spec))  # rendered once per process
    assert isinstance(D.build_data({"name": "dsprites", "subset": 8}), D.Subset)


# ---------------------------------------------------------------- network


def table_1(channels, m):
    """Table 1 of [mi_collapse] written out layer by layer (the route the scaled classes must equal at 64 px)."""
    enc = nn.Sequential(nn.Conv2d(channels, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(),
                        nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(), nn.Conv2d(64, 64, 4, 2, 1), nn.ReLU(),
                        nn.Flatten(), nn.Linear(1024, 256), nn.ReLU(), nn.Linear(256, 2 * m))
    dec = nn.Sequential(nn.Linear(m, 256), nn.ReLU(), nn.Linear(256, 1024), nn.ReLU(), nn.Unflatten(1, (64, 4, 4)),
                        nn.ConvTranspose2d(64, 64, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
                        nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, channels, 4, 2, 1))
    return enc, dec


def test_the_conv_net_at_64_px_is_table_1():
    torch.manual_seed(3)
    enc, dec = table_1(3, 7)
    torch.manual_seed(3)
    enc2, dec2 = M.ConvEncoder(3, 7), M.ConvDecoder(3, 7)
    for a, b in ((enc, enc2.net), (dec, dec2.net)):
        sa, sb = a.state_dict(), b.state_dict()
        assert list(sa) == list(sb)
        for k in sa:
            torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=0)  # same initialisation from the same seed
    x = torch.rand(2, 3, 64, 64)
    torch.testing.assert_close(enc2.net(x), enc(x), rtol=0, atol=0)


@pytest.mark.parametrize("size", [64, 32, 16, 8])
def test_the_scaled_net_drops_one_stride_2_layer_per_side_per_halving(size):
    vae = M.build_model({"architecture": "conv", "m": 5, "init_logvar": -4.0}, (3, size, size))
    halvings = int(math.log2(64 // size))
    convs = [layer for layer in vae.encoder.net if isinstance(layer, nn.Conv2d)]
    tconvs = [layer for layer in vae.decoder.net if isinstance(layer, nn.ConvTranspose2d)]
    assert len(convs) == len(tconvs) == 4 - halvings
    assert [c.out_channels for c in convs] == [32, 32, 64, 64][halvings:]  # Table 1's last layers, widths kept
    assert [c.out_channels for c in tconvs] == [64, 32, 32][:3 - halvings] + [3]
    mu, logvar = vae.encode(torch.rand(4, 3, size, size))
    assert mu.shape == logvar.shape == (4, 5) and vae.decode(mu).shape == (4, 3, size, size)
    torch.testing.assert_close(vae.encoder.net[-1].bias[5:], torch.full((5,), -4.0))


def test_forward_macs_count_table_1_layer_by_layer():
    # written out: (output values or input values) x channels x 16 for each conv, in x out for each linear
    enc64 = 32 * 32 * 32 * 1 * 16 + 16 * 16 * 32 * 32 * 16 + 8 * 8 * 64 * 32 * 16 + 4 * 4 * 64 * 64 * 16
    dec64 = 4 * 4 * 64 * 64 * 16 + 8 * 8 * 64 * 32 * 16 + 16 * 16 * 32 * 32 * 16 + 32 * 32 * 32 * 1 * 16
    linear = 1024 * 256 + 256 * 20 + 10 * 256 + 256 * 1024
    assert M.forward_macs(M.build_model({"m": 10}, (1, 64, 64)), (1, 64, 64)) == enc64 + dec64 + linear
    enc16 = 8 * 8 * 64 * 1 * 16 + 4 * 4 * 64 * 64 * 16
    dec16 = 4 * 4 * 64 * 64 * 16 + 8 * 8 * 64 * 1 * 16
    assert M.forward_macs(M.build_model({"m": 10}, (1, 16, 16)), (1, 16, 16)) == enc16 + dec16 + linear
    with pytest.raises(UserError, match="conv architecture needs C x 64 x 64"):
        M.build_model({"m": 3}, (1, 24, 24))


# ---------------------------------------------------------------- convergence criterion


class _Tracker(Convergence):
    """The criterion's bookkeeping without a model (no held-out images needed)."""

    def __init__(self, config, start=0):
        self.config, self.start, self.history, self.step = config, start, [], None


def test_criterion_holds_where_the_half_window_means_say_after_min_steps_and_restarts_with_the_objective():
    cfg = ConvergenceConfig(every=10, window=80, tol=1e-3, min_steps=300, heldout=1)
    steps = np.arange(10, 5001, 10)
    loss = 100 + 50 * np.exp(-steps / 400.0)
    tracker = _Tracker(cfg)
    first = next(s for s, v in zip(steps, loss) if tracker.add(s, v, 1.0, 0.0))
    expected = None  # the criterion written out again: means over the last 4 values and the 4 before
    for i in range(7, len(steps)):
        last, before = loss[i - 3:i + 1].mean(), loss[i - 7:i - 3].mean()
        if (before - last) / last <= cfg.tol and steps[i] >= cfg.min_steps:
            expected = steps[i]
            break
    assert first == expected and tracker.step == first
    # a flat loss meets the criterion at once, but not before min_steps (counted from the start)
    flat = _Tracker(cfg, start=1000)
    held = [s for s in range(1010, 1500, 10) if flat.add(s, 5.0, 1.0, 0.0)]
    assert held[0] == 1300
    # the window restarts when a weight in force changes (warm-up, phase switch)
    ramp = _Tracker(ConvergenceConfig(every=10, window=80, tol=1e-3, min_steps=0, heldout=1))
    for s in range(10, 80, 10):
        assert not ramp.add(s, 5.0, s / 100, 0.0)  # KL weight still ramping: never a full window of one objective
    assert [ramp.add(s, 5.0, 1.0, 0.0) for s in range(80, 160, 10)] == [False] * 7 + [True]
    rising = _Tracker(ConvergenceConfig(every=10, window=40, tol=1e-3, min_steps=0, heldout=1))
    assert [rising.add(s, 1.0 + s, 1.0, 0.0) for s in range(10, 50, 10)][-1] is True  # a rise stops too


def test_convergence_config_is_checked():
    with pytest.raises(UserError, match="multiple of 2 \\* every = 500"):
        RunConfig.from_dict({"data": {"name": "dsprites"}, "model": {}, "objective": {}, "steps": 10,
                             "convergence": {"window": 900}})
    with pytest.raises(UserError, match=r"convergence.tol must be a relative change in \(0, 1\)"):
        RunConfig.from_dict({"data": {"name": "dsprites"}, "model": {}, "objective": {}, "steps": 10,
                             "convergence": {"tol": 2.0}})
    with pytest.raises(UserError, match="convergence has an unknown key 'windw'"):
        RunConfig.from_dict({"data": {"name": "dsprites"}, "model": {}, "objective": {}, "steps": 10,
                             "convergence": {"windw": 900}})
    assert RunConfig.from_dict({"data": {"name": "dsprites"}, "model": {}, "objective": {}, "steps": 10}
                               ).convergence is None  # the default: train `steps` steps, as before


def test_heldout_images_are_kept_out_of_the_training_draws():
    data = D.build_data({"name": "dsprites", "subset": 300})
    train_data, held = heldout_split(data, ConvergenceConfig(heldout=50, heldout_seed=4))
    assert len(train_data) == 250 and len(held) == 50
    assert not set(train_data.indices) & set(held.indices)
    assert sorted([*train_data.indices, *held.indices]) == list(range(300))
    with pytest.raises(UserError, match="convergence.heldout must be below the data size 300"):
        heldout_split(data, ConvergenceConfig(heldout=300))


# ---------------------------------------------------------------- a reduced run


@pytest.mark.integration
def test_a_tiny_reduced_run_converges_records_it_and_trains_no_further(tmp_path):
    """CPU, seconds: dSprites at 8 px, the scaled net, a loose criterion; the run stops where the
    criterion, recomputed from the checkpointed held-out history, first holds."""
    cfg = {"data": {"name": "dsprites", "subset": 600, "size": 8}, "model": {"architecture": "conv", "m": 3},
           "objective": {"name": "beta", "beta": 0.5, "warmup_steps": 20}, "steps": 400, "batch_size": 16,
           "lr": 1e-3, "seed": 1, "checkpoint_every": 100, "log_every": 20,
           "evaluation": {"samples": 200, "dci": False, "metrics": ["mig:binned"]},
           "convergence": {"every": 10, "window": 40, "tol": 0.02, "min_steps": 60, "heldout": 100,
                           "heldout_batch": 64}}
    metrics = train(cfg, tmp_path / "run", progress=False)
    summary = metrics["training"]
    conv = summary["convergence"]
    assert summary["shape"] == [1, 8, 8]
    assert summary["forward_macs"] == M.forward_macs(M.build_model({"m": 3}, (1, 8, 8)), (1, 8, 8))
    assert conv["criterion"]["window"] == 40 and conv["start"] == 0 and conv["steps_run"] == summary["steps"]
    state = load_checkpoint(tmp_path / "run")
    history = np.array(state["convergence"]["history"])
    assert state["step"] == summary["steps"] and history[-1, 0] == summary["steps"]
    # the criterion written out from the stored history: first step >= 60 where 2 x 2 values of one objective
    # (the KL weight constant since step 20) have (mean of the 2 before - mean of the last 2) / |last| <= 0.02
    expected = None
    for i in range(3, len(history)):
        window = history[i - 3:i + 1]
        if history[i, 0] >= 60 and np.all(window[:, 2:] == window[-1, 2:]):
            last, before = window[2:, 1].mean(), window[:2, 1].mean()
            if (before - last) / abs(last) <= 0.02:
                expected = int(history[i, 0])
                break
    assert conv["converged"] and conv["step"] == expected == summary["steps"] == 70 < 400
    assert conv["relative_change"] <= 0.02
    again = train(cfg, tmp_path / "run", progress=False)["training"]  # resuming a converged run: no step more
    assert again["steps"] == expected and again["convergence"]["step"] == expected
    assert load_checkpoint(tmp_path / "run")["step"] == expected
    stored = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert stored["training"]["convergence"]["converged"] is True
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["size"] == 8
    # phase 2 from the converged network: the criterion counts from the phase's start; a cap that comes
    # first is reported as not converged
    phase2 = {**cfg, "objective": {"name": "lambda-beta", "beta": 0.5, "l2_weight": 8.0, "phase1_steps": expected},
              "steps": expected + 30, "convergence": {**cfg["convergence"], "tol": 1e-9, "min_steps": 20}}
    capped = train(phase2, tmp_path / "phase2", init_from=tmp_path / "run", progress=False)["training"]
    assert capped["steps"] == expected + 30
    assert capped["convergence"] | {"relative_change": None, "heldout_loss": None} == {
        "converged": False, "step": None, "start": expected, "steps_run": 30, "relative_change": None,
        "heldout_loss": None, "criterion": {**phase2["convergence"], "heldout_seed": 12345}}


def test_side_by_side_training_refuses_a_convergence_criterion_it_cannot_apply(tmp_path):
    from deep.ensemble import train_side_by_side

    cfg = {"data": {"name": "dsprites", "subset": 64, "size": 8}, "model": {"m": 2}, "objective": {}, "steps": 5,
           "convergence": {"every": 1, "window": 2, "min_steps": 0, "heldout": 8}}
    with pytest.raises(UserError, match="a pack trains every run for the same steps"):
        train_side_by_side([cfg, {**cfg, "seed": 1}], [tmp_path / "a", tmp_path / "b"])
