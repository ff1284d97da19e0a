"""Claim checks of issue 7's confirmation experiments on trained conv VAEs.

Each fast check reads a stored result (``results/<experiment>/result.json``, :func:`deep.experiment.load`), refuses it
when its configuration is not the command's current default (a stale result), recomputes
the criterion that the experiment's docstring fixed before the runs from the stored
per-run numbers, asserts the outcome the catalogue records, and logs the key numbers as
evidence. Each slow check trains the experiment again at the same reduced scale (10-40
minutes on two shared CPU cores) and asserts the same outcome. Only JSON is read by the
fast checks: they need neither torch nor a GPU.
"""
import numpy as np
import pytest

from deep import confirmation
from deep import experiment as protocol
from deep.experiments import lambda_vae_conv as lvc
from deep.experiments import linear_gaussian_vae as lgv
from deep.experiments import linear_latent_model as thresholds

pytestmark = pytest.mark.deep


def rerun(name: str, tmp_path) -> dict:
    """Train experiment ``name`` at its default configuration into ``tmp_path``; its result."""
    from collapse.cli import main

    out = tmp_path / "out"
    assert main(["experiment", name.replace("_", "-"), "--workers", "2", "--output-dir", str(out),
                 "--work-dir", str(tmp_path / "work"), "--no-progress"]) == 0
    return protocol.load(protocol.module(name), root=out)


# ---------------------------------------------------------------- prediction 3: thresholds of [wang_ziyin]


def thresholds_transfer(result: dict, evidence) -> bool:
    """Collapse (no active unit) in every seed above beta_c and in none below, from the per-run numbers."""
    rows = result["rows"]
    for row in rows:
        assert row["collapsed"] == [au == 0 for au in row["active_units"]]
        assert row["beta"] == pytest.approx(row["multiple"] * result["beta_c"])
        evidence(f"AU at {row['multiple']:g} beta_c (per seed; theory {row['theory']['active_units']})",
                 str(row["active_units"]))
        evidence(f"KL nats at {row['multiple']:g} beta_c (mean; theory {row['theory']['kl']:.3f})",
                 float(np.mean(row["kl"])))
    evidence("beta_c = zeta_1^2 / eta_dec^2", result["beta_c"])
    multiples = sorted(r["multiple"] for r in rows)
    assert len(multiples) == 4 and multiples[-1] == 2.0
    for text, multiple in zip(("0.5", "0.9", "1.1"), multiples):
        evidence.quote(text, multiple)
    return (all(not any(r["collapsed"]) for r in rows if r["multiple"] < 1)
            and all(all(r["collapsed"]) for r in rows if r["multiple"] > 1))


@pytest.mark.claim("wang_ziyin.section_5_conv")
def test_collapse_thresholds_transfer_to_a_trained_conv_vae(evidence):
    result = protocol.load(thresholds)
    evidence.experiment(**thresholds.scale(result["config"]))
    assert result["beta_c"] == pytest.approx(result["zeta_squared"][0] / result["config"]["eta_dec"] ** 2)
    transfers = thresholds_transfer(result, evidence)
    assert transfers == result["criterion"]["transfers"]
    assert transfers


@pytest.mark.slow
@pytest.mark.claim("wang_ziyin.section_5_conv")
def test_collapse_thresholds_transfer_when_trained_again(tmp_path, evidence):
    result = rerun(thresholds.NAME, tmp_path)
    evidence.experiment(**thresholds.scale(result["config"]))
    assert thresholds_transfer(result, evidence)


# ---------------------------------------------------------------- predictions 1-2: paper 000's deep experiments


def values(block: dict, quantity: str) -> list:
    return block[quantity]["values"]


def rise_and_fall(result: dict, data: str, evidence) -> dict:
    """Per data set: does MIG / SAP at the best intermediate beta exceed beta = 1 and the largest beta? Collapse?"""
    betas = result["config"]["betas"]
    cells = result["prediction_1"][data]["beta"]
    out = {}
    for q in ("mig", "sap"):
        means = {b: np.mean(values(cells[f"{b:g}"], q)) for b in betas}
        best = max(betas[1:-1], key=means.get)
        over_1 = confirmation.exceeds(values(cells[f"{best:g}"], q), values(cells[f"{betas[0]:g}"], q))
        over_top = confirmation.exceeds(values(cells[f"{best:g}"], q), values(cells[f"{betas[-1]:g}"], q))
        out[q] = over_1[0] and over_top[0]
        evidence(f"{data} {q} by beta (means)", str({f"{b:g}": round(float(m), 4) for b, m in means.items()}))
        evidence(f"{data} {q}: best intermediate beta {best:g} over beta=1 / largest (z)",
                 f"{over_1[1]:.2f} / {over_top[1]:.2f}")
    top, first = cells[f"{betas[-1]:g}"], cells[f"{betas[0]:g}"]
    au, info, kl = (np.mean(values(top, q)) for q in ("active_units", "factor_information", "kl"))
    info_1, kl_1 = np.mean(values(first, "factor_information")), np.mean(values(first, "kl"))
    out["collapse_as_fixed"] = bool(au <= 1 and info < 0.1 * info_1)
    out["collapse_kl_bound"] = bool(au <= 1 and kl < 0.1 * kl_1)
    evidence(f"{data} AU at beta = 1 / {betas[-1]:g}", f"{np.mean(values(first, 'active_units')):.1f} / {au:.1f}")
    evidence(f"{data} total KL nats (bounds I(z;v)) at beta = 1 / {betas[-1]:g}", f"{kl_1:.3f} / {kl:.4f}")
    evidence(f"{data} binned MI of mu nats at beta = 1 / {betas[-1]:g}", f"{info_1:.3f} / {info:.3f}")
    stored = result["prediction_1"][data]["criteria"]
    assert (out["mig"], out["sap"], out["collapse_as_fixed"], out["collapse_kl_bound"]) == (
        stored["rise_and_fall"]["mig"]["holds"], stored["rise_and_fall"]["sap"]["holds"],
        stored["collapse"]["holds_as_fixed"], stored["collapse"]["holds_kl_bound"])
    return out


def cell(result: dict, beta: float, lam: float) -> dict:
    return result["prediction_2"]["cells"][f"beta={beta:g},l2_weight={lam:g}"]


@pytest.mark.claim("mi_collapse.section_5_2")
def test_beta_grid_collapses_at_high_beta_without_a_mig_peak(evidence):
    """Stored numbers: both data sets collapse at beta = 256 (AU 0, KL < 0.1 % of beta = 1); MIG shows no peak."""
    result = protocol.load(lgv)
    evidence.experiment(**lgv.scale(result["config"], "phase1"))
    dsprites, shapes = rise_and_fall(result, "dsprites", evidence), rise_and_fall(result, "shapes3d", evidence)
    assert dsprites["collapse_kl_bound"] and shapes["collapse_kl_bound"]
    assert not dsprites["collapse_as_fixed"] and not shapes["collapse_as_fixed"]  # the binned MI of mu is no bound
    assert not dsprites["mig"] and not shapes["mig"] and not dsprites["sap"] and shapes["sap"]


@pytest.mark.claim("mi_collapse.figure_5")
def test_lambda_restores_reconstruction_and_kl_below_complete_collapse_but_not_mig(evidence):
    result = protocol.load(lgv)
    evidence.experiment(**lgv.scale(result["config"], "phase2"))
    betas, lams = result["config"]["betas"], result["config"]["l2_weights"]
    for beta in betas:
        kl = [np.mean(values(cell(result, beta, lam), "kl")) for lam in lams]
        evidence(f"beta={beta:g}: KL nats for lam = {lams}", str(np.round(kl, 3).tolist()))
        evidence(f"beta={beta:g}: -log p(x|z) for lam = {lams}",
                 str([round(float(np.mean(values(cell(result, beta, lam), "reconstruction_nll"))), 1) for lam in lams]))
        assert kl[0] < min(kl[1:]) and (beta == betas[-1] or kl[1] < kl[2])  # informativeness grows with lam
    for beta in (8.0, 64.0):
        for lam in (8.0, 32.0):
            nll = confirmation.exceeds(values(cell(result, beta, 0.0), "reconstruction_nll"),
                                       values(cell(result, beta, lam), "reconstruction_nll"))
            mig = confirmation.exceeds(values(cell(result, beta, lam), "mig"), values(cell(result, beta, 0.0), "mig"))
            sap = confirmation.exceeds(values(cell(result, beta, lam), "sap"), values(cell(result, beta, 0.0), "sap"))
            evidence(f"beta={beta:g}, lam={lam:g}: z of nll drop / MIG rise / SAP rise",
                     f"{nll[1]:.1f} / {mig[1]:.2f} / {sap[1]:.2f}")
            assert nll[0] and not mig[0] and not sap[0]
    assert not result["prediction_2"]["criterion"]["holds"]  # the criterion fixed before the runs, at beta = 256
    assert [cell(result, 256.0, lam)["active_units"]["values"] for lam in lams] == [[0, 0], [7, 0], [5, 0]]


@pytest.mark.claim("mi_collapse.section_6")
def test_tchebycheff_selects_beta_1_for_every_preference_on_the_cpu_grid(evidence):
    from numerics import tchebycheff

    result = protocol.load(lgv)
    evidence.experiment(**lgv.scale(result["config"], "phase2"))
    cfg = result["config"]
    keys = [(b, lam) for b in cfg["betas"] for lam in cfg["l2_weights"]]
    F = np.array([[np.mean(values(cell(result, b, lam), "reconstruction_nll")),
                   1 - np.mean(values(cell(result, b, lam), "mig"))] for b, lam in keys])
    chosen = [keys[tchebycheff.select(F, omega, cfg["rho"])] for omega in cfg["preferences"]]
    assert chosen == [(s["beta"], s["l2_weight"]) for s in result["section_6"]["selections"]]
    evidence("selected (beta, lam) for omega = (0.8,0.2), (0.5,0.5), (0.2,0.8)", str(chosen))
    best_mig = max(keys, key=lambda k: np.mean(values(cell(result, *k), "mig")))
    best_nll = min(keys, key=lambda k: np.mean(values(cell(result, *k), "reconstruction_nll")))
    evidence("grid argmax of MIG / argmin of -log p(x|z)", f"{best_mig} / {best_nll}")
    assert chosen == [(1.0, 0.0)] * 3 and best_mig == (1.0, 0.0)
    assert not result["section_6"]["criteria"]["holds"]


@pytest.mark.claim("mi_collapse.appendix_f")
def test_reconstructions_blur_with_beta_lambda_sharpens_below_collapse_mi_not_more_localised(evidence):
    result = protocol.load(lgv)
    evidence.experiment(**lgv.scale(result["config"], "phase2"))
    betas = result["config"]["betas"]
    mse = {(b, lam): np.mean(values(cell(result, b, lam), "reconstruction_mse")) for b in betas for lam in (0.0, 32.0)}
    evidence("||x - E[x|mu]||^2 at lam = 0 by beta", str([round(float(mse[b, 0.0]), 1) for b in betas]))
    evidence("||x - E[x|mu]||^2 at lam = 32 by beta", str([round(float(mse[b, 32.0]), 1) for b in betas]))
    assert all(mse[a, 0.0] <= mse[b, 0.0] for a, b in zip(betas, betas[1:]))  # blur grows with beta at lam = 0
    assert mse[8.0, 32.0] < mse[8.0, 0.0] and mse[64.0, 32.0] < mse[64.0, 0.0] and mse[256.0, 32.0] > mse[256.0, 0.0]
    base, restored = cell(result, 1.0, 0.0), cell(result, 8.0, 32.0)
    z = confirmation.exceeds(values(restored, "localisation"), values(base, "localisation"))[1]
    evidence("MI localisation (8, 32) vs (1, 0) (mean; z)",
             f"{np.mean(values(restored, 'localisation')):.3f} vs {np.mean(values(base, 'localisation')):.3f}; {z:.2f}")
    assert z < 0 and not result["appendix_f"]["holds"]


@pytest.mark.slow
@pytest.mark.claim("mi_collapse.section_5_2", "mi_collapse.figure_5", "mi_collapse.appendix_f")
def test_paper_000_grid_trained_again(tmp_path, evidence):
    """The reduced grid again (about 45 minutes on two cores): collapse at beta = 256, lam restores below it."""
    result = rerun(lgv.NAME, tmp_path)
    evidence.experiment(**lgv.scale(result["config"], "phase2"))
    for data in result["config"]["datasets"]:
        assert rise_and_fall(result, data, evidence)["collapse_kl_bound"]
    for beta in (8.0, 64.0):
        assert confirmation.exceeds(values(cell(result, beta, 0.0), "reconstruction_nll"),
                                    values(cell(result, beta, 32.0), "reconstruction_nll"))[0]
    assert result["appendix_f"]["blur_at_l2_weight_0"]["holds"]


# ---------------------------------------------------------------- prediction 4: variance equalisation of [lambda_vae]


def lambda_dimensions(result: dict):
    """Per seed of the lambda-VAE: sigma_i, lambda_i, sigma*(lambda_i) (eq. 13), min(20, lambda*(sigma_i)) (eq. 16)."""
    from numerics import lambda_vae as lv

    schedule = result["config"]["models"]["lambda"]
    for d in result["models"]["lambda"]["dimensions"]:
        sigma, lam = np.asarray(d["sigma"]), np.asarray(d["lambda"])
        yield sigma, lam, lv.sigma_star(lam), np.minimum(schedule["lambda_max"], lv.lambda_star(sigma, schedule["delta"]))


@pytest.mark.claim("lambda_vae.section_6_2_conv")
def test_lambda_vae_narrows_sigma_and_raises_capacity_but_sigma_sits_below_sigma_star(evidence):
    """Not reproduced at 0.64 % of the paper's training examples: the spread of sigma_i narrows and capacity
    rises, but sigma_i sit below sigma*(lambda_i), not around it, and active units are not more."""
    result = protocol.load(lvc)
    scale = lvc.scale(result["config"])
    evidence.experiment(**scale)
    models = result["models"]
    spread = {name: [float(np.std(d["sigma"])) for d in block["dimensions"]] for name, block in models.items()}
    for name, block in models.items():
        evidence(f"{name}: active units per seed", str(block["active_units"]))
        evidence(f"{name}: std of sigma_i across dimensions per seed", str(np.round(spread[name], 3).tolist()))
        evidence(f"{name}: SNR / decoder capacity nats (mean)",
                 f"{np.mean(block['snr_capacity']):.1f} / {np.mean(block['decoder_capacity']):.0f}")
    # reproduced: the spread narrows in every seed, capacity rises; not: more active units
    assert all(a < b for a, b in zip(spread["lambda"], spread["vae"]))
    assert all(a < b for a, b in zip(spread["lambda"], spread["beta_0.5"]))
    for key in ("snr_capacity", "decoder_capacity"):
        assert confirmation.exceeds(models["lambda"][key], models["vae"][key])[0]
    for other in ("vae", "beta_0.5"):
        assert not confirmation.exceeds(models["lambda"]["active_units"], models[other]["active_units"])[0]
    # not reproduced: "around sigma*(lambda_i)": the sigma_i sit well below eq. (13)
    ratios = [float(np.median(sigma / s_star)) for sigma, _, s_star, _ in lambda_dimensions(result)]
    evidence("median sigma_i / sigma*(lambda_i) per seed", str(np.round(ratios, 3).tolist()))
    assert all(r < 0.9 for r in ratios)
    assert not result["criteria"]["equalisation"]["holds"] and not result["criteria"]["active_units"]["holds"]
    # the numbers the catalogue entry quotes
    evidence.quote("1.01", result["config"]["models"]["lambda"]["delta"])
    evidence.quote("0.64", 100 * scale["fraction"])
    for name, texts in (("lambda", ("0.115", "0.147")), ("vae", ("0.330", "0.336")), ("beta_0.5", ("0.301", "0.301"))):
        for value, text in zip(spread[name], texts):
            evidence.quote(text, value)
    for key, name, texts in (("snr_capacity", "lambda", ("45.0", "41.1")), ("snr_capacity", "vae", ("17.1", "16.9")),
                             ("decoder_capacity", "lambda", ("499", "524")),
                             ("decoder_capacity", "vae", ("248", "232")),
                             ("reconstruction_nll", "lambda", ("84.0", "71.3")),
                             ("reconstruction_nll", "vae", ("89.4", "81.3")),
                             ("reconstruction_nll", "beta_0.5", ("85.8", "83.7")),
                             ("kl", "lambda", ("8.3", "12.3")), ("kl", "vae", ("19.1", "18.8"))):
        for value, text in zip(models[name][key], texts):
            evidence.quote(text, value)
    for value, text in zip(ratios, ("0.75", "0.67")):
        evidence.quote(text, value)
    assert models["lambda"]["active_units"] == [20, 20] and models["vae"]["active_units"] == [17, 19]
    assert models["beta_0.5"]["active_units"] == [20, 20]
    evidence.quote("2.0", result["criteria"]["active_units"]["vae"]["z"])
    evidence.quote("0", result["criteria"]["active_units"]["beta_0.5"]["z"])
    sigma, lam, s_star, _ = next(lambda_dimensions(result))
    low = int(np.argmin(sigma))
    for value, text in ((lam[low], "3.43"), (s_star[low], "0.602"), (sigma[low], "0.331")):
        evidence.quote(text, value)
    deviations = result["criteria"]["equalisation"]["median_relative_deviation_from_sigma_star"]
    for value, text in zip(deviations, ("0.25", "0.33")):
        evidence.quote(text, value)


@pytest.mark.claim("lambda_vae.section_6_3_conv")
def test_sigma_lambda_pairs_are_off_eq_16_where_the_ema_lags_sigma(evidence):
    """Not reproduced at 0.64 % of the paper's training examples: the pairs (sigma_i, lambda_i) lie up to 64 %
    off the curve of eq. (16) at the end of training. Measured from the stored numbers: the sigma that the
    schedule last saw, sigma_EMA = (1 - 1/delta)^(1/(2 lambda_i)) (eq. 16 inverted, every lambda_i being
    unclamped), lies above the final sigma_i."""
    from numerics import lambda_vae as lv

    result = protocol.load(lvc)
    evidence.experiment(**lvc.scale(result["config"]))
    schedule = result["config"]["models"]["lambda"]
    lags, above, worst, correlations = [], [], [], []
    for seed, (sigma, lam, _, target) in zip(result["config"]["seeds"], lambda_dimensions(result)):
        # consistency check, not evidence: lambda_i is computed from the EMA of sigma_i, so the two correlate
        r = float(np.corrcoef(lam, target)[0, 1])
        assert r > 0.95
        deviation = np.abs(lam - target) / target
        assert np.all((lam > 1) & (lam < schedule["lambda_max"]))
        ema = lv.lambda_star_inverse(lam, schedule["delta"])
        lag = np.median(ema / sigma)
        evidence(f"seed {seed}: Pearson r / max relative deviation / median sigma_EMA / sigma_i",
                 f"{r:.4f} / {deviation.max():.3f} / {lag:.3f}")
        assert deviation.max() > 0.1                          # off the curve at the end of training
        assert np.all((lam >= target) == (ema >= sigma))       # above the curve exactly where the EMA is above sigma_i
        lags.append(lag)
        above.append(float(np.mean(ema > sigma)))
        worst.append(float(deviation.max()))
        correlations.append(r)
    assert not result["criteria"]["on_the_curve"]["holds"]
    # the first EMA window's weight after steps / update_every updates: too small to carry the excess
    updates = result["config"]["steps"] // schedule["update_every"]
    first = schedule["ema_decay"] ** (updates - 1)
    evidence("weight of the first window in the final EMA", first)
    evidence.quote("1.6", 100 * first)
    for values, texts in (([100 * a for a in above], ("95", "100")), ([100 * w for w in worst], ("64", "48")),
                          (lags, ("1.25", "1.24")), (correlations, ("0.984", "0.989"))):
        for value, text in zip(values, texts):
            evidence.quote(text, value)
    sigma, lam, _, target = next(lambda_dimensions(result))
    low = int(np.argmin(sigma))
    for value, text in ((sigma[low], "0.331"), (lam[low], "3.43"), (target[low], "2.09")):
        evidence.quote(text, value)
    sigma, lam, _, target = list(lambda_dimensions(result))[1]
    worst_1 = int(np.argmax(np.abs(lam - target) / target))
    for value, text in ((sigma[worst_1], "0.213"), (lam[worst_1], "2.21"), (target[worst_1], "1.49")):
        evidence.quote(text, value)
    sigmas = np.concatenate([d[0] for d in lambda_dimensions(result)])
    lams = np.concatenate([d[1] for d in lambda_dimensions(result)])
    joint = result["joint_fixed_point"]
    for value, text in ((sigmas.min(), "0.21"), (sigmas.max(), "0.81"), (lams.min(), "2.1"), (lams.max(), "10.5"),
                        (joint["lambda"], "7.34"), (joint["sigma"], "0.730")):
        evidence.quote(text, value)


@pytest.mark.slow
@pytest.mark.claim("lambda_vae.section_6_2_conv", "lambda_vae.section_6_3_conv")
def test_variance_equalisation_trained_again(tmp_path, evidence):
    result = rerun(lvc.NAME, tmp_path)
    evidence.experiment(**lvc.scale(result["config"]))
    spread = {name: [float(np.std(d["sigma"])) for d in block["dimensions"]] for name, block in result["models"].items()}
    evidence("std of sigma_i: lambda-VAE / standard VAE", f"{spread['lambda']} / {spread['vae']}")
    assert all(a < b for a, b in zip(spread["lambda"], spread["vae"]))
    assert all(np.median(sigma / s_star) < 0.9 for sigma, _, s_star, _ in lambda_dimensions(result))
    assert all(np.max(np.abs(lam - target) / target) > 0.1 for _, lam, _, target in lambda_dimensions(result))
