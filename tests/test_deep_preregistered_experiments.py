"""The pre-registered reduced-size experiments (issue 19) wired into the experiment protocol:
deep/experiments/mi_collapse_reduced.py and lambda_vae_reduced.py.

- the pre-registered t-test against scipy's (p-values, and the interval that rejects with it);
- the decision rules on synthetic records whose answer is known (a clear effect: reproduced;
  none: not reproduced), with the p-values of the decisions recomputed by scipy from the cells;
- the plan at reduced and paper scale: the file's seeds and grid, differing only in sizes;
- a tiny configuration end to end through the one command (8 px, a few dozen steps, 2 seeds,
  3 beta), resumed by a second call that trains nothing; the summary records the converged
  flags, the steps, the scale and the decisions with effect sizes and intervals.
"""
import math

import numpy as np
import pytest
from scipy import stats

from collapse.cli import main
from deep import io
from deep import preregistration as P
from deep.config import UserError
from deep.experiments import lambda_vae_reduced as LR
from deep.experiments import mi_collapse_reduced as MR
from deep.sweep import Run


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_t_test_is_scipys_one_sided_t_test_and_its_interval_rejects_with_it(alternative):
    rng = np.random.default_rng(3)
    for shift in (0.0, 0.4, -0.4, 1.5):
        a, b = rng.normal(shift, 1, 7), rng.normal(0, 1, 9)
        got = P.t_test(a, b, alternative=alternative, alpha=0.025)
        want = stats.ttest_ind(a, b, equal_var=True, alternative=alternative)
        assert got["p"] == pytest.approx(want.pvalue, rel=1e-10) and got["t"] == pytest.approx(want.statistic)
        assert got["df"] == 14 and got["difference"] == pytest.approx(a.mean() - b.mean())
        side = got["ci"][0] > 0 if alternative == "greater" else got["ci"][1] < 0
        assert got["rejects"] == (want.pvalue < 0.025) == side
        one = P.t_test(a, alternative=alternative, alpha=0.025, margin=0.1)
        want = stats.ttest_1samp(a, 0.1, alternative=alternative)
        assert one["p"] == pytest.approx(want.pvalue, rel=1e-10) and one["df"] == 6
        assert one["d"] == pytest.approx((a.mean() - 0.1) / a.std(ddof=1))
    assert not P.t_test([1.0], [0.0], alternative="greater", alpha=0.025)["rejects"]
    with pytest.raises(ValueError, match="alternative must be 'greater' or 'less'"):
        P.t_test([1, 2], [0, 1], alternative="two-sided", alpha=0.025)


def test_localisation_is_the_best_latents_share_of_each_factors_mi():
    mi = [[0.9, 0.0, 0.1], [0.1, 0.0, 0.1]]           # m = 2 latents x K = 3 factors; factor 2 carried by none
    assert P.localisation(mi) == pytest.approx((0.9 + 0 + 0.5) / 3)


# ------------------------------------------------------------------ decisions on synthetic records

BETAS, LAMS, SEEDS = [1, 8, 128, 256], [8, 32], range(6)


def _mi_cell(beta, lam, effect: bool):
    """Clear effects: MIG / SAP peak at beta 8, collapse at 128 (lambda = 0) and 256, lambda restores, blur
    grows to the collapse and lambda sharpens, localisation higher at (8, 32); none: every cell alike."""
    if not effect:
        return {"mig": 0.3, "sap": 0.3, "active_units": 5, "kl": 5.0, "nll": 10.0, "blur": 2.0,
                "localisation": 0.5}
    collapsed = beta == 256 or (beta == 128 and lam == 0)
    return {"mig": 0.1 if collapsed else 0.2 + (0.2 if beta == 8 else 0) + 0.002 * lam,
            "sap": 0.05 if collapsed else 0.2 + (0.2 if beta == 8 else 0) + 0.002 * lam,
            "active_units": 0 if collapsed else 5, "kl": 0.01 if collapsed else 5.0 / (1 + math.log(beta)),
            "nll": 20.0 if collapsed else 5.0 + 3 * math.log(beta) - 0.05 * lam,
            "blur": {1: 1.0, 8: 2.0, 128: 7.0, 256: 7.0}[beta] * (0.5 if lam == 32 else 1.0),
            "localisation": 0.9 if (beta, lam) == (8, 32) else 0.3}


def _mi_records(effect: bool):
    rng = np.random.default_rng(0)
    runs, records = [], {}
    for lam in (0, *LAMS):
        for beta in BETAS:
            for seed in SEEDS:
                name = f"dsprites,beta={beta},seed={seed}" + (f"+l2_weight={lam}" if lam else "")
                runs.append(Run(name, {}, {"data": "dsprites", "beta_paper": beta, "seed": seed, "l2_weight": lam},
                                init_from=name.split("+")[0] if lam else None))
                cell = _mi_cell(beta, lam, effect)
                noise = {k: 0.0 if k == "active_units" else rng.normal(0, 0.01) for k in cell}
                records[name] = {k: v + noise[k] for k, v in cell.items()}
    return runs, records


MI_CONFIG = MR.Config(seeds=tuple(SEEDS), protocol={"datasets": ["dsprites"], "beta_paper": BETAS, "l2_weights": LAMS})


@pytest.mark.parametrize("effect", [True, False])
def test_mi_collapse_decisions_reproduce_a_clear_effect_and_not_its_absence(effect):
    runs, records = _mi_records(effect)
    decisions = MR.decide(MI_CONFIG, runs, records)
    assert {claim: d["reproduced"] for claim, d in decisions.items()} == dict.fromkeys(
        ["mi_collapse.section_5_2", "mi_collapse.figure_5", "mi_collapse.section_6", "mi_collapse.appendix_f"],
        effect)
    cell = lambda beta, lam, key: [records[r.name][key] for r in runs
                                   if (r.values["beta_paper"], r.values["l2_weight"]) == (beta, lam)]
    for comparison in decisions["mi_collapse.figure_5"]["restoration"]["comparisons"]:   # alpha = 0.025 each
        (_, _, lam), key = comparison["a"], comparison["statistic"]
        alternative = "less" if key == "nll" else "greater"
        want = stats.ttest_ind(cell(128, lam, key), cell(128, 0, key), alternative=alternative)
        assert comparison["p"] == pytest.approx(want.pvalue, rel=1e-10) and comparison["alpha"] == 0.025
        assert len(comparison["ci"]) == 2 and comparison["d"] is not None
    rise = decisions["mi_collapse.section_5_2"]["rise_and_fall"]
    assert len(rise["comparisons"]) == 4 and rise["candidates"] == 2
    assert all(c["alpha"] == pytest.approx(0.025 / 2) for c in rise["comparisons"])   # Bonferroni over candidates
    if effect:
        assert all(c["a"][1] == 8 for c in rise["comparisons"])                        # the peak
        assert decisions["mi_collapse.appendix_f"]["blur_grows"]["first_collapsed"] == 128
        assert decisions["mi_collapse.section_6"]["recovery"]["best_l2_weight"] == 32
        selection = decisions["mi_collapse.section_6"]["selection"]
        assert [b for b, _ in selection["selected"]] == [1, 8, 8] and selection["bootstrap_support"] > 0.9


def _lambda_records(effect: bool):
    from numerics import lambda_vae as lv

    lam_j, sigma_j = (float(v) for v in lv.joint_fixed_point(1.01))
    rng = np.random.default_rng(1)
    runs, records = [], {}
    for model in ("vae", "beta_half", "lambda"):
        for seed in range(8):
            name = f"dsprites,{model},seed={seed}"
            runs.append(Run(name, {}, {"data": "dsprites", "model": model, "seed": seed}))
            if model == "lambda" and effect:   # at the joint fixed point of eq. (13) and (16): on both curves
                sigma, exponent, units = sigma_j + rng.normal(0, 1e-3, 10), np.full(10, lam_j), 9 + seed % 2
            else:
                sigma, exponent, units = rng.uniform(0.1, 1.0, 10), np.ones(10), 5 + seed % 2
            records[name] = {"sigma_mean": sigma.tolist(), "exponent": exponent.tolist(), "active_units": units}
    return runs, records


@pytest.mark.parametrize("effect", [True, False])
def test_lambda_vae_decisions_reproduce_a_clear_effect_and_not_its_absence(effect):
    runs, records = _lambda_records(effect)
    decisions = LR.decide(LR.Config(seeds=tuple(range(8))), runs, records)
    assert [d["reproduced"] for d in decisions.values()] == [effect, effect]
    units = lambda model: [records[r.name]["active_units"] for r in runs if r.values["model"] == model]
    got = decisions["lambda_vae.section_6_2_conv"]["more_units"]["vae"]
    assert got["p"] == pytest.approx(stats.ttest_ind(units("lambda"), units("vae"), alternative="greater").pvalue,
                                     rel=1e-10)
    curve = decisions["lambda_vae.section_6_3_conv"]["on_the_curve"]
    per_seed = [LR.statistics(LR.Config(), records[r.name])["curve"] for r in runs if r.values["model"] == "lambda"]
    assert curve["p"] == pytest.approx(stats.ttest_1samp(per_seed, 0.1, alternative="less").pvalue, rel=1e-10)


# ------------------------------------------------------------------ the plan at both scales


def test_the_plan_is_the_files_grid_and_paper_scale_differs_only_in_sizes():
    prereg = P.load("mi_collapse_reduced")
    reduced, paper = MR.plan(MR.default("reduced")), MR.plan(MR.default("paper"))
    seeds, proto = prereg["stated"]["seeds"], prereg["protocol"]
    assert MR.default().seeds == tuple(range(25)) and LR.default().seeds == tuple(range(18))
    assert len(reduced) == len(paper) == seeds * len(proto["beta_paper"]) * (len(proto["datasets"])
                                                                             + len(proto["l2_weights"]))
    for r, p in zip(reduced, paper):
        assert (r.name, r.values, r.init_from) == (p.name, p.values, p.init_from)
        if r.init_from is None:
            assert (r.config["data"]["size"], r.config["steps"], p.config["data"]["size"], p.config["steps"]) == (
                16, 60000, 64, 150000)
            assert p.config["objective"]["beta"] == pytest.approx(r.config["objective"]["beta"] * 16)
            same = lambda c: {k: v for k, v in c.items() if k not in ("data", "steps", "objective")}
            assert same(r.config) == same(p.config)
    lam = LR.plan(LR.default("paper"))
    assert len(lam) == 18 * 3 and {r.config["data"]["size"] for r in lam} == {64}


def test_an_override_the_file_does_not_have_is_refused_by_name():
    with pytest.raises(UserError, match="sizee"):
        MR.Config(protocol={"sizee": 8})
    with pytest.raises(UserError, match="windw"):
        LR.Config(convergence={"windw": 8})


# ------------------------------------------------------------------ end to end, resumed


@pytest.mark.parametrize("experiment", [MR, LR])
@pytest.mark.integration
def test_a_tiny_configuration_runs_end_to_end_and_resumes_without_training(experiment, tmp_path, monkeypatch, capsys):
    name = experiment.NAME.replace("_", "-")
    args = ["experiment", name, "--smoke", "--scale", "reduced", "--workers", "0", "--device", "cpu",
            "--no-progress", "--output-dir", str(tmp_path / "out"), "--work-dir", str(tmp_path / "work")]
    assert main(args) == 0
    first = io.read_json(tmp_path / "out" / "reduced" / "result.json")

    def train_nothing(*a, **k):
        raise AssertionError("a resumed experiment trained a run")

    monkeypatch.setattr("deep.sweep.train_task", train_nothing)
    assert main(args) == 0
    result = io.read_json(tmp_path / "out" / "reduced" / "result.json")
    assert result["decisions"] == first["decisions"] and result["compute"] == first["compute"]
    compute, runs = result["compute"], experiment.plan(experiment.default("reduced", smoke=True))
    assert compute["scale"] == "reduced" and compute["runs"] == len(runs) == len(result["records"])
    assert set(compute["converged"]) == set(compute["steps"]) == {r.name for r in runs}
    assert compute["every_run_converged"] == all(v is True for v in compute["converged"].values())
    assert all(0 < s <= 80 for s in compute["steps"].values())
    scale = result["provenance"]["scale"]
    assert scale["converged"] == compute["every_run_converged"] and 0 < scale["fraction"] < 1e-3
    for decision in result["decisions"].values():
        assert isinstance(decision["reproduced"], bool)
    comparisons = (result["decisions"]["mi_collapse.figure_5"]["restoration"]["comparisons"] if experiment is MR
                   else [result["decisions"]["lambda_vae.section_6_3_conv"]["on_the_curve"]])
    for c in comparisons:
        assert set(c) >= {"difference", "ci", "d", "p", "alpha", "rejects"} and c["ci"][0] <= c["difference"]
    if experiment is MR:   # phase 2 starts from the phase-1 run's converged (or capped) step
        for r in runs:
            if r.init_from:
                assert compute["steps"][r.name] > compute["steps"][r.init_from]
        assert 0 < compute["fraction_of_paper_compute"]["largest_chain"] < scale["fraction"]


def test_compute_at_the_caps_is_the_files_stated_fraction():
    """A dSprites chain run to the caps (60k + 20k steps of 64 at 16 px) is [stated] fraction_of_paper_compute
    (0.068, MACs) and fraction_of_paper_examples (0.4) of Table 2's 150k + 50k at 64 px."""
    stated = P.load("mi_collapse_reduced")["stated"]
    cfg = MR.Config(seeds=(0,), protocol={"datasets": ["dsprites"]})
    runs = MR.plan(cfg)
    records = {r.name: {"steps_run": 20000 if r.init_from else 60000, "batch_size": 64, "converged": True,
                        "steps": 80000 if r.init_from else 60000, "shape": [1, 16, 16]} for r in runs}
    compute = MR.compute(cfg, runs, records)
    assert round(compute["fraction_of_paper_compute"]["largest_chain"], 3) == stated["fraction_of_paper_compute"]
    assert compute["fraction_of_paper_examples"]["largest_chain"] == pytest.approx(stated["fraction_of_paper_examples"])
    assert compute["every_run_converged"] and compute["steps_run"] == 8 * 60000 + 16 * 20000
