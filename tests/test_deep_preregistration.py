"""The pre-registrations of issue 19 parse, name every open deep claim they cover, and state only
numbers that their computation gives: the power function against a Monte Carlo simulation of the
test, the seed counts from the stated spreads and effects, the fraction of the paper's compute and
the CPU-hours from the stated grid."""
import math
import tomllib

import numpy as np
import pytest
from scipy import stats

from collapse import ROOT
from deep import preregistration as P
from deep.config import strict
from deep.train import ConvergenceConfig

pytestmark = pytest.mark.deep


def _monte_carlo_power(delta, sd, n, alpha, design, draws=4000, seed=0):
    """The share of simulated experiments in which scipy's one-sided t-test rejects (normal seeds)."""
    rng = np.random.default_rng(seed)
    if design == "two-sample":
        a, b = rng.normal(delta, sd, (draws, n)), rng.normal(0.0, sd, (draws, n))
        p = stats.ttest_ind(a, b, axis=1, alternative="greater").pvalue
    else:  # values whose mean lies delta below the margin 0
        p = stats.ttest_1samp(rng.normal(-delta, sd, (draws, n)), 0.0, axis=1, alternative="less").pvalue
    return float(np.mean(p < alpha))


@pytest.mark.parametrize("design, delta, sd, n, alpha", [
    ("two-sample", 0.1, 0.07, 15, 0.025), ("two-sample", 0.1, 0.074, 25, 0.025 / 6),
    ("two-sample", 1.0, 0.82, 6, 0.025), ("one-sample", 0.1, 0.056, 5, 0.025), ("one-sample", 0.1, 0.11, 9, 0.025)])
def test_power_by_the_noncentral_t_matches_a_simulation_of_the_test(design, delta, sd, n, alpha):
    exact = P.DESIGNS[design](delta, sd, n, alpha)
    draws = 4000
    assert abs(_monte_carlo_power(delta, sd, n, alpha, design, draws) - exact) < 4 * math.sqrt(0.25 / draws)


def test_seed_count_is_the_smallest_reaching_the_power_and_the_upper_sd_is_the_chi_square_limit():
    n = P.seeds_for_power(0.1, 0.07, 0.025, 0.8, k=4)
    assert P.power_two_sample(0.1, 0.07, n, 0.025) >= 0.8 ** 0.25 > P.power_two_sample(0.1, 0.07, n - 1, 0.025)
    # the pilot's 80 % upper limits (docs/reduced_scale.md): MIG 0.053 -> 0.070, SAP 0.056 -> 0.073 over 8 dof
    assert P.upper_sd(0.053, 8) == pytest.approx(0.0699, abs=5e-4)
    assert P.upper_sd(0.056, 8) == pytest.approx(0.0739, abs=5e-4)
    # by simulation: the sd of 9 normal draws lies below the limit in 80 % of experiments
    rng = np.random.default_rng(1)
    sds = rng.normal(0, 1, (20_000, 9)).std(axis=1, ddof=1)
    assert np.mean(sds * P.upper_sd(1.0, 8) >= 1.0) == pytest.approx(0.8, abs=4 * math.sqrt(0.16 / 20_000))
    with pytest.raises(ValueError, match="design must be one of"):
        P.seeds_for_power(0.1, 0.07, 0.025, design="paired")


@pytest.mark.parametrize("name", P.FILES)
def test_the_stated_numbers_are_the_computed_ones(name):
    prereg = P.load(name)
    stated = prereg["stated"]
    assert stated["seeds"] == P.seeds(prereg)["all"]
    assert stated["cpu_hours"] == pytest.approx(P.cpu_hours(prereg["budget"], stated["seeds"]), rel=0.02)
    protocol, paper = prereg["protocol"], prereg["paper_protocol"]
    if name == "mi_collapse_reduced":
        steps = protocol["phase1_cap"] + protocol["phase2_cap"]
        paper_steps = paper["phase1_steps"] + paper["phase2_steps"]
        fraction = P.fraction_of_paper_compute(size=protocol["size"], channels=1, m=protocol["m"], steps=steps,
                                               batch_size=protocol["batch_size"], paper_steps=paper_steps,
                                               paper_batch_size=paper["batch_size"])
        assert stated["fraction_of_paper_compute"] == pytest.approx(fraction, abs=5e-4)
        assert stated["fraction_of_paper_examples"] == pytest.approx(
            steps * protocol["batch_size"] / (paper_steps * paper["batch_size"]), abs=5e-4)
        # the seed count decides: the largest comparison (rise and fall, SAP, k = 8, alpha / 6)
        assert P.seeds(prereg)["mi_collapse.section_5_2:rise_and_fall"] == stated["seeds"]
    else:
        assert stated["fraction_of_paper_examples"] == pytest.approx(
            protocol["steps_cap"] * protocol["batch_size"] / paper["examples"], abs=5e-3)


@pytest.mark.parametrize("name", P.FILES)
def test_a_preregistration_covers_its_claims_and_runs_as_configured(name):
    prereg = P.load(name)
    catalogue = tomllib.loads((ROOT / "collapse" / "claims" / f"{prereg['paper']}.toml").read_text())
    known = {c["id"]: c for c in catalogue["claim"]}
    claims = {c["id"] for c in prereg["claim"]}
    assert claims <= set(known) and claims == {c["claim"] for c in prereg["comparison"]}
    if name == "mi_collapse_reduced":  # paper 000's four open deep claims, all of them
        assert claims == {"mi_collapse.section_5_2", "mi_collapse.figure_5", "mi_collapse.section_6",
                          "mi_collapse.appendix_f"}
        assert all(known[c]["verdict"] == "open" for c in claims)  # nothing here decides them
    for comparison in prereg["comparison"]:
        assert comparison["spread"] in prereg["spread"] and comparison["effect"] > 0 and comparison["k"] >= 1
    # the convergence criteria are valid configurations of deep.train
    tables = prereg["convergence"]
    for table in tables.values() if "phase1" in tables else [tables]:
        strict(ConvergenceConfig, table, where="convergence")
    # paper scale differs only in size parameters
    assert set(prereg["protocol"]["paper_scale"]) <= {"size", "phase1_cap", "phase2_cap", "steps_cap", "batch_size"}


def test_the_effects_of_paper_000_are_the_stated_shares_of_the_measured_ranges():
    prereg = P.load("mi_collapse_reduced")
    effect = prereg["effect"]
    by_id = {c["id"]: c for c in prereg["comparison"]}
    assert by_id["restoration_nll"]["effect"] == pytest.approx(effect["range_share"] * effect["nll_range"])
    assert by_id["blur_grows"]["effect"] == pytest.approx(effect["range_share"] * effect["blur_range"], abs=1e-3)
    for key in ("rise_and_fall", "restoration", "localised"):
        assert by_id[key]["effect"] == effect["metric"]
    # beta on the paper's scale maps by the pixel ratio: Table 2's grid at 16 px
    assert [P.scaled_beta(b, 16) for b in prereg["protocol"]["beta_paper"]] == [
        1 / 16, 1 / 4, 1 / 2, 1, 2, 4, 8, 16]


@pytest.mark.parametrize("name", P.FILES)
def test_reduced_and_paper_scale_runs_differ_only_in_size_parameters(name):
    from deep.train import RunConfig

    prereg = P.load(name)
    data = prereg["protocol"]["datasets"][0]
    reduced = P.phase1_configs(prereg, scale="reduced", data=data, seed=3)
    paper = P.phase1_configs(prereg, scale="paper", data=data, seed=3)
    grid = prereg["protocol"]["beta_paper"] if name == "mi_collapse_reduced" else prereg["protocol"]["models"]
    assert list(reduced) == list(paper) and len(reduced) == len(grid)
    for key in reduced:
        small, full = RunConfig.from_dict(reduced[key]).to_dict(), RunConfig.from_dict(paper[key]).to_dict()
        assert small["data"]["size"] == 16 and full["data"]["size"] == 64
        assert small["convergence"] == full["convergence"] == {**prereg["convergence"].get("phase1", prereg[
            "convergence"]), "heldout_batch": 512}
        differ = {k for k in small if small[k] != full[k]}
        assert differ <= {"data", "steps", "batch_size", "objective"}
        if "objective" in differ:  # only beta, by the pixel-ratio rule
            assert {k for k in small["objective"] if small["objective"][k] != full["objective"][k]} == {"beta"}
            assert small["objective"]["beta"] == P.scaled_beta(full["objective"]["beta"], 16)
    if name == "mi_collapse_reduced":
        first = next(iter(reduced.values()))
        cont = RunConfig.from_dict(P.phase2_config(prereg, first, 23_000, 8.0)).to_dict()
        assert cont["steps"] == 23_000 + prereg["protocol"]["phase2_cap"]
        assert cont["objective"]["phase1_steps"] == 23_000 and cont["convergence"]["min_steps"] == 8000
