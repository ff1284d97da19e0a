"""Known-answer checks of deep.metrics, and the histogram metrics against the exact linear-Gaussian values.

Known answers: an identity representation scores ~1, a constant one exactly 0, noise ~0,
a duplicated latent gives its factor MIG = SAP = 0, a rotation by theta of two factors has
SAP = |cos 2 theta|. Independent routes: scikit-learn's mutual_info_score, a literal
transcription of disentanglement_lib's DCI aggregation, the KSG estimator of scikit-learn,
closed forms for a linear decoder, and for the linear-Gaussian VAE of [mi_collapse] the
exact eq. (9)-(10) from numerics.linear_gaussian_vae and the exact information of the
binned Gaussian pair from numerics.reference.deep_metrics.

The histogram MIG measures the MI of discretised variables (20 bins over the sample
range), not the continuous MI -1/2 log(1 - S) of §4.1: the two are compared below and the
binned value converges to the continuous one only as the bins are refined.
"""
import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given
from sklearn.feature_selection import mutual_info_regression
from sklearn.metrics import mutual_info_score

from deep import metrics as M
from deep.models import VAE, Gaussian
from numerics import linear_gaussian_vae as lgv
from numerics.reference import deep_metrics as ref
from numerics.reference.monte_carlo import gaussian
from property_tests import strategies as s

SIZES = (3, 6, 10, 8)
DISCRETE = (True, False, False, False)  # a categorical factor and three ordinal ones


@pytest.fixture(scope="module")
def factors():
    rng = np.random.default_rng(0)
    return np.stack([rng.integers(0, k, 4000) for k in SIZES], axis=1)


@s.examples(30)
@given(pair=s.deep_label_pairs())
def test_discrete_information_matches_scikit_learn(pair, evidence):
    a, b = pair
    mi = M.discrete_mutual_information(a[:, None], b[:, None])[0, 0]
    expected = mutual_info_score(a, b)
    assert abs(mi - expected) <= 1e-12 + 1e-10 * expected
    h = M.discrete_entropy(np.column_stack([a, b]))
    np.testing.assert_allclose(h, [scipy.stats.entropy(np.bincount(c)) for c in (a, b)], rtol=1e-12, atol=1e-15)
    evidence("max |MI - sklearn|", abs(mi - expected))


def test_histogram_discretisation_is_equal_width_over_the_range():
    x = np.random.default_rng(1).standard_normal((1000, 2))
    labels = M.histogram_discretize(x, 20)
    lo, width = x.min(0), (x.max(0) - x.min(0)) / 20
    expected = np.minimum(np.floor((x - lo) / width).astype(int) + 1, 20)
    assert np.mean(labels == expected) > 0.998  # rounding at the edges aside
    assert labels.min() == 1 and labels.max() == 20


def test_identity_representation_scores_one(factors, evidence):
    codes = factors.astype(float)
    mig = M.mig(codes, factors)
    # plug-in bias of an unrelated pair ~ (bins - 1)(K - 1) / 2N nats
    assert np.all(mig["per_factor"] > 0.99)
    sap = M.sap(codes, factors, DISCRETE)
    own = sap["matrix"][np.arange(4), np.arange(4)]
    assert own[0] == 1.0  # the classifier on the own code is exact
    np.testing.assert_allclose(own[1:], 1.0, rtol=1e-12)  # and so is the correlation
    assert np.all(sap["per_factor"][1:] > 0.99)
    # the categorical factor: the gap to an unrelated code's accuracy, chance 1/3
    unrelated = np.max(sap["matrix"][1:, 0])
    assert sap["per_factor"][0] == pytest.approx(1 - unrelated)
    assert abs(unrelated - 1 / 3) < 5 * np.sqrt(2 / 9 / 2000) + 0.02
    dci = M.dci(codes[:2000], factors[:2000], n_estimators=20)
    assert dci["disentanglement"] > 0.95 and dci["completeness"] > 0.95 and dci["informativeness"] > 0.98
    evidence("min identity MIG", mig["score"], reduce=min)
    evidence("identity DCI D", dci["disentanglement"])


def test_constant_representation_scores_zero(factors):
    codes = np.full((len(factors), 4), 0.3)
    assert M.mig(codes, factors)["score"] == 0.0
    assert M.sap(codes, factors, DISCRETE)["score"] == 0.0
    dci = M.dci(codes[:1000], factors[:1000], n_estimators=10)
    assert dci["disentanglement"] == 0.0 and dci["completeness"] == 0.0
    assert M.active_units(codes)["count"] == 0


def test_noise_representation_scores_near_zero(factors, evidence):
    codes = np.random.default_rng(2).standard_normal((len(factors), 4))
    mig, sap = M.mig(codes, factors)["score"], M.sap(codes, factors, DISCRETE)["score"]
    assert mig < 0.02 and sap < 0.05
    dci = M.dci(codes[:2000], factors[:2000], n_estimators=20)
    assert dci["disentanglement"] < 0.1 and dci["completeness"] < 0.1
    chance = np.mean([1 / k for k in SIZES])
    assert abs(dci["informativeness"] - chance) < 0.05
    evidence("noise MIG", mig)
    evidence("noise SAP", sap)


def test_duplicated_latent_zeroes_mig_and_sap_of_its_factor(factors):
    codes = factors[:, [0, 0, 1, 2, 3]].astype(float)
    mig, sap = M.mig(codes, factors), M.sap(codes, factors, DISCRETE)
    assert mig["per_factor"][0] == 0.0 and sap["per_factor"][0] == 0.0
    assert np.all(mig["per_factor"][1:] > 0.99) and np.all(sap["per_factor"][1:] > 0.99)
    dci = M.dci(codes[:2000], factors[:2000], n_estimators=20)
    # factor 0's importance is shared by two of five codes: completeness 1 - H_5(p, 1-p) <= 1 - ...
    p = dci["importance"][:2, 0] / dci["importance"][:, 0].sum()
    assert dci["per_factor"][0] == pytest.approx(1 + np.sum(p * np.log(p)) / np.log(5), abs=1e-9)
    assert dci["per_factor"][0] < 0.9 and np.all(dci["per_factor"][1:] > 0.95)


@s.examples(8)
@given(theta=s.deep_mixing_angles)
def test_rotating_two_factors_gives_sap_cos_2theta(theta, evidence):
    """Codes (cos t v1 + sin t v2, -sin t v1 + cos t v2) of equal-variance factors: S = cos^2 t, sin^2 t."""
    n = 20_000
    v = np.random.default_rng(3).uniform(-1, 1, (n, 2))
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    codes = v @ rot
    sap = M.sap(codes, v, (False, False))
    # each r^2 has standard error <= 2|r| sqrt(1 - r^2)... bounded by 1/sqrt(n); the gap by twice that
    assert np.all(np.abs(sap["per_factor"] - abs(np.cos(2 * theta))) <= 2 * 5 / np.sqrt(n))
    evidence("max |SAP - |cos 2t|| * sqrt(n)", np.max(np.abs(sap["per_factor"] - abs(np.cos(2 * theta)))) * np.sqrt(n))


def test_mixing_at_45_degrees_zeroes_mig(factors):
    v = factors[:, 1:3].astype(float)
    v = (v - v.mean(0)) / v.std(0)
    codes = np.column_stack([v[:, 0] + v[:, 1], v[:, 0] - v[:, 1]])
    assert M.mig(codes, factors[:, 1:3])["score"] < 0.05
    assert M.sap(codes, v, (False, False))["score"] < 0.05


@s.examples(20)
@given(importance=s.dense_matrices(5, 3, (0.1, 3.0)).map(np.abs))
def test_dci_aggregation_matches_disentanglement_lib(importance):
    """A literal transcription of disentanglement_lib/evaluation/metrics/dci.py (scipy entropies)."""
    per_code = 1.0 - scipy.stats.entropy(importance.T + 1e-11, base=importance.shape[1])
    per_factor = 1.0 - scipy.stats.entropy(importance + 1e-11, base=importance.shape[0])
    d = np.sum(per_code * importance.sum(axis=1) / importance.sum())
    c = np.sum(per_factor * importance.sum(axis=0) / importance.sum())
    ours = M.dci_scores(importance)
    assert ours["disentanglement"] == pytest.approx(d, abs=1e-9)
    assert ours["completeness"] == pytest.approx(c, abs=1e-9)


def test_active_units_count_latent_variances_above_001():
    rng = np.random.default_rng(4)
    mu = rng.standard_normal((20_000, 4)) * np.sqrt([1.0, 0.02, 0.005, 0.0])
    au = M.active_units(mu)
    assert au["count"] == 2
    np.testing.assert_allclose(au["variance"], [1.0, 0.02, 0.005, 0.0], rtol=0.05, atol=1e-12)


def test_snr_capacity_is_the_gaussian_channel_information(evidence):
    """eq. (7) of [lambda_vae] against scikit-learn's KSG estimate of I(mu; z)."""
    rng = np.random.default_rng(5)
    n, signal, sigma, lam = 4000, 2.0, 0.6, 2.0
    for name, mu in (("gaussian", rng.standard_normal(n) * np.sqrt(signal)),
                     ("uniform", rng.uniform(-1, 1, n) * np.sqrt(3 * signal))):
        noise = sigma ** lam  # the lambda-VAE's sampling noise sigma^lambda (eq. 9)
        z = mu + noise * rng.standard_normal(n)
        capacity = M.snr_capacity(mu[:, None], np.full((n, 1), sigma ** (2 * lam)))[0]
        assert capacity == pytest.approx(0.5 * np.log(1 + signal / sigma ** (2 * lam)), rel=0.05)
        ksg = mutual_info_regression(mu[:, None], z, n_neighbors=5, random_state=0)[0]
        if name == "gaussian":
            assert abs(ksg - capacity) < 0.05  # exact for a Gaussian signal
        else:
            assert ksg < capacity - 0.05  # the Gaussian channel's capacity bounds any other signal
        evidence(f"KSG / capacity ({name})", ksg / capacity)


def test_decoder_capacity_of_a_linear_gaussian_decoder(evidence):
    """eq. (18) of [lambda_vae]: for x = W z + eta eps, d log p(x|z)/dz = W^T eps / eta, so C_i = ||W_i|| / eta."""
    torch.manual_seed(0)
    m, d, eta, n = 3, 5, 0.5, 50_000
    decoder = torch.nn.Linear(m, d, bias=False)
    with torch.no_grad():
        decoder.weight[:, 2] = 0  # a latent the decoder ignores
    model = VAE(torch.nn.Identity(), decoder, Gaussian(eta), m)
    z = torch.randn(n, m, dtype=torch.float32)
    x = (decoder(z) + eta * torch.randn(n, d)).detach()
    capacity = M.decoder_capacity(model, x, z)
    expected = torch.linalg.norm(decoder.weight.detach(), dim=0).numpy() / eta
    assert capacity[2] == 0.0
    # C_i^2 is a mean of n squared normals: relative standard error sqrt(2/n) on C_i^2
    np.testing.assert_allclose(capacity[:2] ** 2, expected[:2] ** 2, rtol=5 * np.sqrt(2 / n))
    evidence("max |C^2 / C_exact^2 - 1|", np.max(np.abs(capacity[:2] ** 2 / expected[:2] ** 2 - 1)))


@pytest.mark.parametrize("call, message", [
    (lambda: M.mig(np.zeros(5), np.zeros((5, 1))), "codes must have 2 dimension"),
    (lambda: M.mig(np.zeros((5, 1)), np.zeros((5, 1))), "codes must have at least 2 columns"),
    (lambda: M.mig(np.zeros((5, 2)), np.zeros((4, 1))), "same number of rows"),
    (lambda: M.mig(np.full((5, 2), np.nan), np.zeros((5, 1))), "codes must be finite"),
    (lambda: M.sap(np.zeros((5, 2)), np.zeros((5, 2)), (True,)), "one flag per factor"),
    (lambda: M.sap(np.zeros((5, 2)), np.zeros((5, 1)), (True,), test_fraction=1.5), r"test_fraction must lie in"),
    (lambda: M.snr_capacity(np.zeros((5, 2)), np.zeros((5, 2))), "noise_var must be positive"),
    (lambda: M.dci(np.zeros((6, 2)), np.zeros((6, 1))), "factor 0 is constant"),
    (lambda: M.dci_scores(-np.ones((2, 2))), "importance must be nonnegative"),
])
def test_bad_metric_inputs_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- linear-Gaussian VAE: exact values


def joint_samples(Sigma_x, Sigma_xv, Sigma_v, n, seed):
    cov = np.block([[Sigma_x, Sigma_xv], [Sigma_xv.T, Sigma_v]])
    xv = gaussian(cov, n, np.random.default_rng(seed))
    m = Sigma_x.shape[0]
    return xv[:, :m], xv[:, m:]


@pytest.mark.claim("mi_collapse.eq_9", "mi_collapse.eq_10")
@s.examples(8)
@given(rep=s.deep_linear_gaussian_representations())
def test_sap_on_linear_gaussian_samples_matches_eq_10(rep, evidence):
    Sigma_x, Sigma_xv, Sigma_v = rep
    n = 100_000
    x, v = joint_samples(*rep, n, seed=6)
    S = lgv.squared_correlations(Sigma_x, Sigma_xv, Sigma_v)
    # delta method: sd(r^2) = 2 |r| (1 - r^2) / sqrt(n) for Gaussian pairs
    sd = 2 * np.sqrt(S) * (1 - S) / np.sqrt(n) + 1 / n
    assert np.all(np.abs(M.squared_correlations(x, v) - S) <= 5 * sd)
    # the top-two gap is 2-Lipschitz in max |dS|
    assert abs(M.sap(x, v, [False] * v.shape[1])["score"] - lgv.sap(S)) <= 2 * 5 * sd.max()
    evidence("max |S_hat - S| / sd", np.max(np.abs(M.squared_correlations(x, v) - S) / sd))


@pytest.mark.claim("mi_collapse.eq_11")
@s.examples(6)
@given(rep=s.deep_linear_gaussian_representations(max_m=3, max_s=2))
def test_histogram_mig_matches_the_exact_information_of_the_binned_gaussians(rep, evidence):
    """20-bin MIG of samples == MIG of the exactly discretised Gaussian pairs (same bin edges)."""
    Sigma_x, Sigma_xv, Sigma_v = rep
    n, bins = 100_000, 20
    x, v = joint_samples(*rep, n, seed=7)
    out = M.mig(x, v, bins=bins, discretize_factors=True)
    # the population cells of np.digitize(col, edges[:-1]): (-inf, e0), [e0, e1), ..., [e_{B-1}, inf)
    cells = lambda col, sd: np.r_[-np.inf, np.histogram(col, bins)[1][:-1] / sd, np.inf]
    sd_x, sd_v = np.sqrt(np.diag(Sigma_x)), np.sqrt(np.diag(Sigma_v))
    rho = Sigma_xv / np.outer(sd_x, sd_v)
    m, k = rho.shape
    exact, tol = np.zeros((m, k)), np.zeros((m, k))
    for i in range(m):
        for j in range(k):
            P = ref.cell_probabilities(rho[i, j], cells(x[:, i], sd_x[i]), cells(v[:, j], sd_v[j]))
            exact[i, j] = ref.mutual_information(P)
            bias, se = ref.plugin_bias_and_error(P, n)
            tol[i, j] = bias + 5 * se + 1e-6
    assert np.all(np.abs(out["mutual_information"] - exact) <= tol)
    H, H_tol = np.zeros(k), np.zeros(k)
    for j in range(k):
        p = ref.interval_probabilities(cells(v[:, j], sd_v[j]))
        H[j] = ref.entropy(p)
        bias, se = ref.plugin_entropy_bias_and_error(p, n)
        H_tol[j] = abs(bias) + 5 * se
    assert np.all(np.abs(out["entropy"] - H) <= H_tol)
    top = np.sort(exact, axis=0)[::-1]
    mig_exact = np.mean((top[0] - top[1]) / H)
    bound = np.mean(2 * tol.max(0) / H + (top[0] - top[1]) * H_tol / H ** 2) * 1.01
    assert abs(out["score"] - mig_exact) <= bound
    # and the binned information is below the continuous one of §4.1
    continuous = lgv.pairwise_mutual_information(lgv.squared_correlations(Sigma_x, Sigma_xv, Sigma_v))
    assert np.all(exact <= continuous + 1e-9)
    evidence("max |MI_hat - MI_binned| / tol", np.max(np.abs(out["mutual_information"] - exact) / tol))
    evidence("min MI_binned(20) / MI_continuous", np.min(exact[continuous > 0.05] / continuous[continuous > 0.05])
             if np.any(continuous > 0.05) else 1.0, reduce=min)


@pytest.mark.claim("mi_collapse.eq_11")
@pytest.mark.parametrize("rho", [0.2, 0.6, 0.9])
def test_binned_information_converges_to_the_continuous_information(rho, evidence):
    """Nested refinements of [-8, 8] (20 ... 320 bins): the binned MI rises to -1/2 log(1 - rho^2)."""
    continuous = lgv.pairwise_mutual_information(rho ** 2)
    values = []
    for bins in (20, 40, 80, 160, 320):
        edges = np.r_[-np.inf, np.linspace(-8, 8, bins + 1)[1:-1], np.inf]
        values.append(ref.mutual_information(ref.cell_probabilities(rho, edges, edges)))
    values = np.array(values)
    assert np.all(np.diff(values) > 0)  # a refinement never loses information
    assert values[-1] <= continuous * (1 + 1e-9)
    assert values[-1] >= 0.998 * continuous
    assert values[0] <= 0.91 * continuous  # at 20 bins the discretised MI is well below
    evidence(f"MI(20 bins) / MI(continuous), rho={rho}", values[0] / continuous)
    # the entropy of the binned factor is the differential entropy - log(width) + width^2 J / 24,
    # J = 1 the Fisher information of N(0, 1): the denominators of eq. (11) and of the histogram MIG differ
    width = 16 / 320
    edges = np.r_[-np.inf, np.linspace(-8, 8, 321)[1:-1], np.inf]
    h_binned = ref.entropy(ref.interval_probabilities(edges))
    h = float(lgv.factor_entropy(np.eye(1))[0])
    assert h_binned == pytest.approx(h - np.log(width) + width ** 2 / 24, abs=1e-7)
