"""Claim checks of the §V experiment of [optimal_beta] (deep/experiments/tractable_beta_vae.py).

Two kinds of check. (1) The TIE estimator the experiment applies to trained networks
(numerics.tractable_beta_vae: moments, relabellings) against routes that share no code
with it: Monte Carlo of log q(z|x) - log p_{g-t}(z|x) with scipy densities and Bayes'
rule, the exact TIE of eq. (25) for linear encoders, and brute force over all signed
permutations. (2) The stored result in results/tractable_beta_vae: its configuration must
be the command's current default (a stale result fails), its theory curves and criteria
are recomputed from the stored numbers, and each claim's criterion (fixed in the
experiment's docstring before the runs) is asserted. A ``slow`` check re-runs the whole
reduced-scale experiment. Nothing here imports torch except that slow check.
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize

from deep.experiments import tractable_beta_vae as experiment
from numerics import tractable_beta_vae as t
from numerics.reference import tractable_beta_vae as ref
from numerics.reference.monte_carlo import mean_and_error
from property_tests import strategies as s



def relabel_outputs(mu, log_sigma2, perm, signs):
    """The encoder outputs of z'_j = signs[j] z_{perm[j]}, written out directly."""
    perm = list(perm)
    return np.asarray(signs) * mu[:, perm], log_sigma2[:, perm]


def assert_quoted(actual, quoted, places: int = 2):
    """The catalogue quotes ``actual`` as ``quoted``, rounded to ``places`` decimals: they agree
    to half a unit in the last quoted digit."""
    actual, quoted = np.atleast_1d(np.asarray(actual, float)), np.atleast_1d(np.asarray(quoted, float))
    assert actual.shape == quoted.shape and np.all(np.abs(actual - quoted) <= 0.5 * 10.0**-places + 1e-9), \
        f"quoted {quoted.tolist()}, measured {np.round(actual, places + 2).tolist()}"


# ---------------------------------------------------------------- the TIE estimator


@pytest.mark.claim("optimal_beta.appendix_c_inference_error")
@s.examples(10)
@given(A=s.tbv_mixing(max_N=5, max_k=3), data=st.data())
def test_sample_tie_matches_monte_carlo_of_the_densities(A, data, evidence):
    """TIE of a nonlinear encoder from its moments on draws of x (any relabelling) equals the
    Monte Carlo mean of log q(z|x) - log p_{g-t}(z|x) over z ~ q, with p_{g-t} from Bayes' rule."""
    encoder = data.draw(s.tbv_nonlinear_encoders(A))
    perm, signs = data.draw(s.tbv_relabellings(A.shape[1]))
    rng = np.random.default_rng(0)
    _, x = ref.sample_data(A, 40_000, rng)
    mu, log_sigma2 = encoder(x)
    estimate = t.relabelled_tie(t.sample_moments(mu, log_sigma2, x, A), perm, signs)
    mu, log_sigma2 = relabel_outputs(mu, log_sigma2, perm, signs)
    z = mu + np.exp(0.5 * log_sigma2) * rng.standard_normal(mu.shape)
    log_q = -0.5 * np.sum((z - mu) ** 2 / np.exp(log_sigma2) + log_sigma2 + np.log(2 * np.pi), axis=1)
    mc, stderr = mean_and_error(log_q - ref.log_posterior_bayes(z, x, A))
    assert abs(estimate - mc) < 5 * stderr
    evidence("|moments - MC| / stderr", abs(estimate - mc) / stderr)


@pytest.mark.claim("optimal_beta.appendix_c_inference_error")
@s.examples(15)
@given(A=s.tbv_mixing(max_N=5, max_k=3), data=st.data())
def test_moments_of_a_linear_encoder_give_eq_25(A, data, evidence):
    """For the linear encoder of eq. (20) the exact moments give TIE of eq. (25) on every
    relabelled network, the per-latent KLs sum to the KL of eq. (39), and sample moments of
    200k draws approach the exact ones."""
    p = t.Parameters(**data.draw(s.tbv_networks(A)))
    perm, signs = data.draw(s.tbv_relabellings(A.shape[1]))
    m = t.encoder_moments(p, A)
    exact = t.tie(t.relabel(p, perm, signs), A)
    assert t.relabelled_tie(m, perm, signs) == pytest.approx(exact, rel=1e-10)
    assert t.latent_kl(m).sum() == pytest.approx(t.terms(p, A)[1], rel=1e-10)
    rng = np.random.default_rng(1)
    _, x = ref.sample_data(A, 200_000, rng)
    sampled = t.sample_moments(x @ p.W_mu.T + p.b_mu, x @ p.W_sigma.T + p.b_sigma, x, A)
    rel = abs(t.relabelled_tie(sampled, perm, signs) - exact) / exact
    assert rel < 0.05
    evidence("max rel. error, exact moments vs eq. (25)",
             abs(t.relabelled_tie(m, perm, signs) - exact) / exact)
    evidence("max rel. error, 200k-sample moments vs eq. (25)", rel)


def brute_force(m):
    k = m.sigma2.shape[0]
    return np.array([t.relabelled_tie(m, perm, signs) for perm, signs in t.signed_permutations(k)])


@pytest.mark.claim("optimal_beta.appendix_c_inference_error")
@s.examples(15)
@given(A=s.tbv_mixing(max_N=5, max_k=3), beta=s.log_uniform(0.1, 20.0), data=st.data())
def test_mean_and_best_relabelling_against_brute_force(A, beta, data, evidence):
    """Over all 2^k k! signed permutations: the closed-form mean equals the brute-force mean;
    at the optimum of the tractable model (E μμᵀ diagonal) the assignment finds the
    brute-force minimum; for a nonlinear encoder it returns a local minimum no smaller
    than the brute-force one."""
    optimum = t.encoder_moments(t.optimum(A, beta), A)
    values = brute_force(optimum)
    assert t.mean_relabelled_tie(optimum) == pytest.approx(values.mean(), rel=1e-10)
    assert t.best_relabelling(optimum)[2] == pytest.approx(values.min(), rel=1e-10)
    encoder = data.draw(s.tbv_nonlinear_encoders(A))
    _, x = ref.sample_data(A, 2000, np.random.default_rng(2))
    m = t.sample_moments(*encoder(x), x, A)
    values = brute_force(m)
    perm, signs, best = t.best_relabelling(m)
    assert t.mean_relabelled_tie(m) == pytest.approx(values.mean(), rel=1e-10)
    assert best >= values.min() * (1 - 1e-12) and best == pytest.approx(t.relabelled_tie(m, perm, signs))
    k = A.shape[1]
    for j in range(k):   # no sign flip improves
        flipped = np.array(signs) * np.where(np.arange(k) == j, -1, 1)
        assert t.relabelled_tie(m, perm, flipped) >= best * (1 - 1e-12)
    evidence("best relabelling / brute-force min (nonlinear encoders)", best / values.min())


def test_relabelling_arguments_are_checked():
    A = t.paper_mixing(4, 2)
    m = t.encoder_moments(t.optimum(A, 1.0), A)
    with pytest.raises(ValueError, match="perm must be a permutation of 0..1"):
        t.relabelled_tie(m, [0, 0], [1, 1])
    with pytest.raises(ValueError, match=r"signs must be 2 entries of \+1 or -1"):
        t.relabelled_tie(m, [1, 0], [1, 2])
    with pytest.raises(ValueError, match="mu must have shape 5x2"):
        t.sample_moments(np.zeros((5, 3)), np.zeros((5, 2)), np.zeros((5, 4)), A)
    with pytest.raises(ValueError, match="x must have shape"):
        t.sample_moments(np.zeros((5, 2)), np.zeros((5, 2)), np.zeros((5, 3)), A)
    with pytest.raises(ValueError, match="A's number of rows N must be an integer >= 3"):
        t.sample_moments(np.zeros((5, 3)), np.zeros((5, 3)), np.zeros((5, 2)), np.ones((2, 3)))


# ---------------------------------------------------------------- the stored experiment


def load(setting: str) -> dict:
    """A stored result, checked against the command's current default configuration (a stale
    result fails) and against its own runs: summaries and criteria are recomputed from the
    per-network numbers, the theory from A with numerics.tractable_beta_vae."""
    result = experiment.stored(setting)
    cfg = result["config"]
    assert len(result["runs"]) == len(cfg["regimes"]) * len(cfg["betas"]) * len(cfg["seeds"])
    for regime, splits in result["regimes"].items():
        runs = [r for r in result["runs"] if r["regime"] == regime]
        for where, split in splits.items():
            summary = experiment.summarise_split(runs, cfg["betas"], cfg["seeds"], where)
            assert summary == split["summary"]
            assert experiment.criteria(summary, cfg["betas"]) == split["criteria"]
    for run in result["runs"]:
        for m in (run["heldout"], run.get("train", run["heldout"])):
            assert m["elbo"] == pytest.approx(m["reconstruction"] - m["kl"], rel=1e-12)
            assert m["tie_best"] <= min(m["tie"], m["tie_mean"]) * (1 + 1e-12)
    if "theory" in result:
        theory = experiment.theory(np.array(result["A"]), cfg["betas"])
        for key, values in theory.items():
            np.testing.assert_allclose(np.array(values, dtype=float), np.array(result["theory"][key], dtype=float),
                                       rtol=1e-9, atol=1e-12)
        assert experiment.criteria(experiment.theory_summary(theory), cfg["betas"]) == result["theory_criteria"]
    return result


@pytest.fixture(scope="module")
def mixture():
    return load("mixture")


@pytest.fixture(scope="module")
def canvas():
    return load("canvas")


def splits(result):
    """(name, split) for every evaluated split, e.g. ("paper/heldout", {...})."""
    return [(f"{regime}/{where}", split) for regime, s in result["regimes"].items() for where, split in s.items()]


def rotated_optimum(A, beta, i, j, angle):
    """The optimal encoder for the optimum's decoder with latents i, j rotated by ``angle``."""
    p = t.optimum(A, beta)
    R = np.eye(A.shape[1])
    R[[i, i, j, j], [i, j, i, j]] = [np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle)]
    return t.encoder_optimum(p.D @ R.T, np.zeros(A.shape[0]), beta)


@pytest.mark.parametrize("beta, cost, drop", [(0.25, 0.1, 13.6), (2.0, 0.1, 3.8), (2.0, 0.5, 10.1)])
def test_tie_is_not_pinned_by_the_objective(mixture, beta, cost, drop):
    """For the experiment's A, rotating the optimum's two leading latents (λ = 108.8, 12.5)
    until L_β has dropped by ``cost`` nats lowers the best-relabelled TIE by ``drop`` nats (as
    the notes of optimal_beta.section_5_tie quote it): L_β is flat (second order) along
    rotations of the latent basis while TIE is steep (first order). At β = 0.25 even a 45°
    rotation costs only 0.12 nats. (Theory only: whether this is why trained networks miss
    the optimum's TIE is a conjecture, so this is no claim check.)"""
    A = np.array(mixture["A"])
    optimum = t.optimum(A, beta)
    L0, tie0 = t.objective(optimum, A, beta), t.best_relabelling(t.encoder_moments(optimum, A))[2]
    loss = lambda angle: L0 - t.objective(rotated_optimum(A, beta, 0, 1, angle), A, beta)
    angle = optimize.brentq(lambda a: loss(a) - cost, 1e-9, np.pi / 4)
    tie = t.best_relabelling(t.encoder_moments(rotated_optimum(A, beta, 0, 1, angle), A))[2]
    assert_quoted(tie0 - tie, drop, 1)
    if beta == 0.25:
        assert_quoted(loss(np.pi / 4), 0.12)


def criteria_by_split(result) -> dict:
    return {name: split["criteria"] for name, split in splits(result)}


@pytest.mark.claim("optimal_beta.section_5_terms")
def test_section_5_terms(mixture, evidence):
    """KL and reconstruction decrease with β (criterion "terms") on the data the networks are
    trained on, fresh draws and the 1000-example set, and KL also on held-out data; the held-out
    reconstruction of the 1000-example networks rises from β = 0.25 to 0.5. Every number the
    catalogue quotes."""
    evidence.experiment(**experiment.scale(mixture["config"]))
    c = criteria_by_split(mixture)
    assert all(c[name]["kl_decreases"] for name in c)
    assert c["population/heldout"]["reconstruction_decreases"] and c["paper/train"]["reconstruction_decreases"]
    assert not c["paper/heldout"]["reconstruction_decreases"]
    pop = mixture["regimes"]["population"]["heldout"]["summary"]
    assert_quoted(pop["kl"]["mean"], [15.93, 11.96, 8.63, 5.31, 2.94, 1.45, 0.91, 0.56, 0])
    assert_quoted(np.take(pop["reconstruction"]["mean"], [0, -1]), [-87.98, -162.75])
    train = mixture["regimes"]["paper"]["train"]
    assert_quoted(np.take(train["summary"]["kl"]["mean"], [0, -1]), [21.75, 0])
    assert_quoted(np.take(train["summary"]["reconstruction"]["mean"], [0, -1]), [-75.06, -166.03])
    assert_quoted(train["theory_on_data"]["reconstruction"][0], -87.07)
    held = mixture["regimes"]["paper"]["heldout"]
    rec = held["summary"]["reconstruction"]
    assert_quoted(rec["mean"][:2] + rec["se"][:2], [-96.82, -94.86, 0.17, 0.15])
    rise = (rec["mean"][1] - rec["mean"][0]) / math.hypot(*rec["se"][:2])
    assert experiment._exceeds(rec["mean"], rec["se"], 1, 0)
    assert_quoted(rise, 8.7, 1)
    assert_quoted([held["summary"]["kl"]["mean"][0], held["theory_on_data"]["kl"][0]], [21.42, 16.14])
    evidence("paper held out: rise of the reconstruction from beta = 0.25 to 0.5 (combined SE)", rise)
    evidence("population: KL at beta = 0.25 / 128 (nats)", f"{pop['kl']['mean'][0]:.2f} / {pop['kl']['mean'][-1]:.2f}")


@pytest.mark.claim("optimal_beta.section_5_elbo")
def test_section_5_elbo(mixture, evidence):
    """Criterion "elbo" holds on every split: the seed-mean ELBO peaks within a factor 2 of β = 1,
    does not rise significantly after β = 1 and ends below its value at β = 1; the theory
    peaks at exactly 1."""
    evidence.experiment(**experiment.scale(mixture["config"]))
    assert mixture["theory_criteria"]["elbo_argmax_beta"] == 1.0
    for name, c in criteria_by_split(mixture).items():
        assert c["elbo_max_near_1"], name
        evidence(f"{name}: grid argmax of ELBO", c["elbo_argmax_beta"])
    c = criteria_by_split(mixture)
    assert (c["population/heldout"]["elbo_argmax_beta"], c["paper/heldout"]["elbo_argmax_beta"],
            c["paper/train"]["elbo_argmax_beta"]) == (1.0, 2.0, 0.5)
    pop = mixture["regimes"]["population"]["heldout"]
    assert_quoted(np.take(pop["summary"]["elbo"]["mean"], [0, 1, 2, 3, 4, -1]),
                  [-103.92, -101.88, -101.21, -103.27, -107.81, -162.75])
    assert_quoted(pop["theory_on_data"]["elbo"][:4], [-103.08, -100.85, -99.87, -101.32])
    assert int(np.argmax(pop["theory_on_data"]["elbo"])) == mixture["config"]["betas"].index(1.0)
    for where, at, other in (("heldout", 3, 2), ("train", 1, 2)):     # argmax vs β = 1
        e = mixture["regimes"]["paper"][where]["summary"]["elbo"]
        quoted = {"heldout": [-104.50, 0.20, -104.93, 0.13], "train": [-95.97, 0.20, -97.38, 0.15]}[where]
        assert_quoted([e["mean"][at], e["se"][at], e["mean"][other], e["se"][other]], quoted)
    e = mixture["regimes"]["paper"]["heldout"]["summary"]["elbo"]
    assert not experiment._exceeds(e["mean"], e["se"], 3, 2)          # not significant


@pytest.mark.claim("optimal_beta.section_5_tie")
def test_section_5_tie(mixture, evidence):
    """Fig. 2B's seed-averaged TIE as printed shows no finite optimal β at this scale (criterion
    "tie" fails on every split); the numbers of the verdict's reason and notes: the theory's mean
    over the equivalent labellings (which a uniformly random labelling averages to) decreases
    strictly to its full-collapse value, and so does every split's labelling-averaged network
    TIE; the best-relabelled TIE has a finite optimum in the theory (β = 2) and for the
    1000-example networks, not for the fresh-data networks at 2000 steps, whose TIE stays below
    the optimum's while their ELBO approaches it (also after 8000 steps)."""
    evidence.experiment(**experiment.scale(mixture["config"]))
    c = criteria_by_split(mixture)
    for name in c:
        assert not c[name]["tie_finite_optimum"], name
    pop = mixture["regimes"]["population"]["heldout"]["summary"]
    assert_quoted(pop["tie"]["mean"], [153.58, 175.34, 180.68, 171.56, 149.52, 148.81, 150.14, 145.64, 137.03])
    assert int(np.argmin(pop["tie"]["mean"])) == len(mixture["config"]["betas"]) - 1
    one = mixture["config"]["betas"].index(1.0)
    per_seed = [r["heldout"]["tie"] for r in mixture["runs"] if r["regime"] == "population" and r["beta"] == 1.0]
    assert_quoted(per_seed, [169.0, 177.3, 195.7], 1)
    paper = mixture["regimes"]["paper"]["heldout"]["summary"]["tie"]
    g = int(np.argmin(paper["mean"]))
    assert mixture["config"]["betas"][g] == 8.0
    assert_quoted([paper["mean"][i] for i in (g, -1, 0)] + [paper["se"][i] for i in (g, -1, 0)],
                  [124.45, 136.13, 194.71, 17.42, 0.80, 28.77])
    assert not experiment._exceeds(paper["mean"], paper["se"], -1, g)     # not below β = 128 ...
    assert experiment._exceeds(paper["mean"], paper["se"], 0, g)          # ... though below β = 0.25
    assert_quoted([(paper["mean"][0] - paper["mean"][g]) / math.hypot(paper["se"][0], paper["se"][g]),
                   paper["mean"][-1] - paper["mean"][g], 2 * math.hypot(paper["se"][-1], paper["se"][g])],
                  [2.1, 11.7, 34.9], 1)
    assert_quoted(math.hypot(paper["se"][-1], paper["se"][g]), 17.44)
    th = mixture["theory"]
    assert not mixture["theory_criteria"]["tie_finite_optimum"]
    assert np.all(np.diff(th["tie_mean"]) < 0)
    assert_quoted(th["tie_mean"], [155.74, 152.27, 148.80, 145.40, 142.70, 141.19, 140.52, 140.18, 139.57])
    for name, split in splits(mixture):
        m = split["summary"]["tie_mean"]
        g = int(np.argmin(m["mean"]))
        assert not (g < len(m["mean"]) - 1 and experiment._exceeds(m["mean"], m["se"], -1, g)), name
        evidence(f"{name}: labelling-averaged TIE at beta = 0.25 / 128",
                 f"{m['mean'][0]:.2f} / {m['mean'][-1]:.2f}")
    ends = {name: np.take(split["summary"]["tie_mean"]["mean"], [0, -1]) for name, split in splits(mixture)}
    assert_quoted(np.concatenate([ends["population/heldout"], ends["paper/heldout"], ends["paper/train"]]),
                  [144.21, 137.18, 177.23, 137.17, 189.55, 140.49])
    assert mixture["theory_criteria"]["tie_best_finite_optimum"]
    assert mixture["theory_criteria"]["tie_best_argmin_beta"] == 2.0
    assert_quoted(np.take(th["tie_best"], [3, 0, -1]), [87.00, 92.99, 139.57])
    assert c["paper/heldout"]["tie_best_finite_optimum"] and c["paper/train"]["tie_best_finite_optimum"]
    assert (c["paper/heldout"]["tie_best_argmin_beta"], c["paper/train"]["tie_best_argmin_beta"]) == (1.0, 2.0)
    best = mixture["regimes"]["paper"]["heldout"]["summary"]["tie_best"]
    assert_quoted([best["mean"][one], best["se"][one], best["mean"][0], best["mean"][-1]], [77.07, 0.78, 94.29, 134.47])
    assert not c["population/heldout"]["tie_best_finite_optimum"]
    assert c["population/heldout"]["tie_best_argmin_beta"] == 0.25
    assert_quoted([pop["tie_best"]["mean"][0], pop["tie_best"]["se"][0]], [77.87, 0.95])
    gap = -np.array(mixture["regimes"]["population"]["heldout"]["agreement"]["elbo"]["deviation"][:-1])
    assert_quoted([gap.min(), gap.max()], [0.8, 3.1], 1)                # ELBO below the optimum, β ≤ 32
    paired = mixture["regimes"]["population"]["heldout"]["theory_on_data"]
    betas = mixture["config"]["betas"]
    gaps = []
    for run in mixture["long_runs"]:
        g, h = betas.index(run["beta"]), run["heldout"]
        gaps += [paired["elbo"][g] - h["elbo"], paired["tie_best"][g] - h["tie_best"]]
        evidence(f"8000 steps, beta = {run['beta']:g}: ELBO / TIE_best below the optimum (nats)",
                 f"{gaps[-2]:.2f} / {gaps[-1]:.2f}")
    assert [r["beta"] for r in mixture["long_runs"]] == [0.25, 2.0]
    assert_quoted(gaps, [0.5, 7.4, 1.1, 2.5], 1)


@pytest.mark.claim("optimal_beta.section_6_agreement")
def test_section_6_agreement(mixture, evidence):
    """Criterion "agreement": with fresh data the networks follow the tractable model within 10 %
    of its range for KL, reconstruction and ELBO, but not for TIE (printed or best relabelled);
    with 1000 examples even KL departs. Every number of the verdict's reason."""
    evidence.experiment(**experiment.scale(mixture["config"]))
    held = mixture["regimes"]["population"]["heldout"]
    pop = held["agreement"]
    for q, quoted in (("kl", [0.71, 0.044]), ("reconstruction", [3.12, 0.040]), ("elbo", [3.08, 0.047])):
        assert pop[q]["within_10_percent"], q
        assert np.all(np.array(pop[q]["deviation"][:-1]) < 0), q          # below the optimum for β ≤ 32
        assert abs(pop[q]["deviation"][-1]) < 0.07 + 0.005, q
        assert_quoted(pop[q]["max_abs"], quoted[0])
        assert_quoted(pop[q]["max_relative_to_range"], quoted[1], 3)
        evidence(f"population: max |network - theory| for {q} (nats, share of range)",
                 f"{pop[q]['max_abs']:.2f}, {pop[q]['max_relative_to_range']:.3f}")
    for q in ("tie", "tie_best"):
        assert not pop[q]["within_10_percent"], q
    assert_quoted([pop["tie_best"]["max_abs"], pop["tie_best"]["max_relative_to_range"]], [12.50, 0.24])
    assert_quoted(pop["tie"]["max_abs"], 34.71)
    best, theory = held["summary"]["tie_best"]["mean"], held["theory_on_data"]["tie_best"]
    assert_quoted(best[:3] + theory[:3], [77.87, 81.81, 79.07, 90.37, 87.55, 85.47])
    one = mixture["config"]["betas"].index(1.0)
    tie = held["summary"]["tie"]
    assert_quoted([tie["mean"][one], tie["se"][one], held["theory_on_data"]["tie_mean"][one]], [180.68, 7.89, 145.96])
    worst = 0.0
    for g, beta in enumerate(mixture["config"]["betas"]):   # sorted per-latent KL against ½ log(λ_i/β)
        nets = [np.sort(r["heldout"]["latent_kl"]) for r in mixture["runs"]
                if r["regime"] == "population" and r["beta"] == beta]
        worst = max(worst, np.max(np.abs(np.mean(nets, 0) - np.sort(mixture["theory"]["latent_kl"][g]))))
        if beta == 8.0:            # the latent of λ = 9.76 collapses early
            assert_quoted([mixture["collapse_thresholds"][2], np.sort(mixture["theory"]["latent_kl"][g])[-3],
                           np.mean(nets, 0)[-3]], [9.76, 0.10, 0.00])
    assert_quoted(worst, 0.63)
    evidence("population: max |per-latent KL - theory| (nats)", worst)
    paper = mixture["regimes"]["paper"]["heldout"]["agreement"]
    assert not paper["kl"]["within_10_percent"] and not paper["reconstruction"]["within_10_percent"]
    assert_quoted([paper["kl"]["deviation"][0], paper["reconstruction"]["deviation"][0]], [5.28, -9.88])
    evidence("paper held out: max KL excess over theory (nats)", max(paper["kl"]["deviation"]))


@pytest.mark.slow
@pytest.mark.deep
@pytest.mark.claim("optimal_beta.section_5_terms", "optimal_beta.section_5_elbo", "optimal_beta.section_5_tie",
                   "optimal_beta.section_6_agreement", "optimal_beta.figure_3")
def test_stored_experiment_is_reproduced(tmp_path, evidence):
    """`collapse experiment tractable-beta-vae` from scratch (about 30 minutes on two shared
    cores): every criterion on every split, and the theory's, as stored."""
    for setting in experiment.SETTINGS:
        stored = load(setting)
        result = experiment.experiment(experiment.config(setting), tmp_path / "out", tmp_path / "networks",
                                       progress=False)
        evidence.experiment(**experiment.scale(result["config"]))
        assert result.get("theory_criteria") == stored.get("theory_criteria")
        for (name, split), (_, again) in zip(splits(stored), splits(result)):
            assert again["criteria"] == split["criteria"], (setting, name)
            evidence(f"{setting} {name}: max |rerun - stored| ELBO mean (nats)",
                     float(np.max(np.abs(np.subtract(again["summary"]["elbo"]["mean"], split["summary"]["elbo"]["mean"])))))


@pytest.mark.claim("optimal_beta.figure_3")
def test_figure_3(canvas, evidence):
    """ELBO, reconstruction and KL behave as in Fig. 1 (criteria "terms" and "elbo"); the
    pre-registered criterion for a non-monotonic trend of TIE's minima over initialisations
    (interior minimum below both ends by twice the larger standard error) fails at 3 seeds,
    and the average over initialisations (= over the 8 labellings) has no interior minimum.
    Every number of the verdict's reason."""
    evidence.experiment(**experiment.scale(canvas["config"]))
    c = canvas["regimes"]["population"]["heldout"]["criteria"]
    s = canvas["regimes"]["population"]["heldout"]["summary"]
    assert canvas["config"]["betas"] == [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0]
    A = np.array(canvas["config"]["A"])
    assert A.shape == (2, 2) and np.allclose(A - A[0, 1], 2 * np.eye(2), atol=1e-12)    # A_ij = 2δ_ij + 0.73
    evidence.quote("0.73", A[0, 1])
    assert c["kl_decreases"] and c["reconstruction_decreases"] and c["elbo_max_near_1"]
    assert_quoted(s["kl"]["mean"], [3.97, 3.44, 3.21, 2.68, 2.03, 0.01, 0, 0, 0])
    assert_quoted(np.take(s["reconstruction"]["mean"], [0, -1]), [-42.24, -62.02])
    e = s["elbo"]
    assert c["elbo_argmax_beta"] == 0.5
    assert_quoted([e["mean"][2], e["se"][2], e["mean"][3], e["se"][3], e["mean"][-1]], [-45.20, 0.67, -46.18, 0.40, -62.02])
    assert not c["tie_seed_min_finite_optimum"]
    low, se, full = np.array(s["tie"]["min"]), np.array(s["tie"]["se"]), s["tie_mean"]["mean"][-1]
    g = int(np.argmin(low))
    assert canvas["config"]["betas"][g] == 2.0
    assert_quoted([low[0], low[g], low[-1], se[0], se[g]], [10.14, 6.49, 13.90, 5.67, 4.96])
    assert low[0] - low[g] < 2 * max(se[0], se[g]) and low[-1] - low[g] < 2 * max(se[-1], se[g])
    assert_quoted([low[0] - low[g], low[-1] - low[g]], [3.65, 7.41])
    active = np.array(s["kl"]["mean"]) > 0.1
    assert active.tolist() == [True] * 5 + [False] * 4
    assert_quoted(low[active], [10.14, 7.69, 12.01, 8.66, 6.49])
    assert_quoted(full, 13.90)
    assert np.all(low[active] < full - 1.0) and np.allclose(low[~active], full, atol=0.1)
    m, tse = s["tie_mean"]["mean"], s["tie_mean"]["se"]
    assert experiment._no_increase(m, tse) and experiment._exceeds(m, tse, 0, len(m) - 1)
    assert int(np.argmin(np.round(m, 6))) >= int(np.argmax(~active))        # no interior minimum while active
    assert_quoted(m[:6], [19.15, 18.13, 17.82, 16.65, 15.84, 13.91])
    evidence("KL at beta = 1/8 / 64 (nats)", f"{s['kl']['mean'][0]:.2f} / {s['kl']['mean'][-1]:.2f}")
    evidence("grid argmax of ELBO", c["elbo_argmax_beta"])
    evidence("seed-minimum TIE, active latents (nats)", ", ".join(f"{v:.2f}" for v in low[active]))
    evidence("full-collapse TIE (nats)", full)
    evidence("labelling-averaged TIE at beta = 1/8 (nats)", m[0])
