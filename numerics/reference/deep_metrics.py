"""Reference routes for the disentanglement metrics of deep.metrics, sharing no code with it.

1. Exact information of discretised Gaussian pairs: the reference for histogram MIG.
2. Literal transcriptions of the published metric code, array in, number out: disentanglement_lib's
   SAP and MIG [locatello2019] and the MIG of [chen2018]'s repository (module functions named
   and ordered as there; only the data sampling is left out, the arrays are passed in).
3. The information of a Gaussian mixture by quadrature: the known answer for [chen2018]'s estimator.

References
----------
[locatello2019] github.com/google-research/disentanglement_lib, disentanglement_lib/evaluation/
    metrics/sap_score.py (_compute_score_matrix, _compute_avg_diff_top_two), mig.py (compute_mig)
    and utils.py (discrete_mutual_info, discrete_entropy, _histogram_discretize).
[chen2018] github.com/rtqichen/beta-tcvae, disentanglement_metrics.py (estimate_entropies,
    mutual_info_metric_shapes) and metric_helpers/mi_metric.py (MIG, compute_metric_shapes).

1. A histogram MIG (disentanglement_lib, deep.metrics.mig) estimates the mutual information
of *discretised* variables. For a jointly Gaussian pair with correlation rho, the
discretised pair's cell probabilities are integrals of the bivariate normal density,

    P[a, b] = int_{x_a}^{x_{a+1}} phi(x) [Phi((y_{b+1} - rho x) / s) - Phi((y_b - rho x) / s)] dx,

s = sqrt(1 - rho^2), computed by Gauss-Legendre quadrature on each x cell (after the
substitution u = Phi(-|x|) on the infinite end cells, so the tails keep full precision).
"""
from __future__ import annotations

import numpy as np
from scipy.integrate import quad
from scipy.special import logsumexp, ndtr, ndtri

from numerics.validation import array_in


def _gauss_nodes(a: float, b: float, order: int):
    """Nodes x and weights w with sum w f(x) ~ int_a^b phi(x) f(x) dx (a < b, either may be infinite)."""
    t, wt = np.polynomial.legendre.leggauss(order)
    if np.isfinite(a) and np.isfinite(b):
        x = (a + b) / 2 + (b - a) / 2 * t
        return x, (b - a) / 2 * wt * np.exp(-x ** 2 / 2) / np.sqrt(2 * np.pi)
    if np.isinf(a) and np.isinf(b):
        xl, wl = _gauss_nodes(a, 0.0, order)
        xr, wr = _gauss_nodes(0.0, b, order)
        return np.r_[xl, xr], np.r_[wl, wr]
    # a tail: with u = Phi(-|x|) in (0, Phi(-|finite end|)), phi(x) dx = du
    top = ndtr(-abs(b if np.isinf(a) else a))
    u = top * (t + 1) / 2
    return (ndtri(u) if np.isinf(a) else -ndtri(u)), top / 2 * wt


def cell_probabilities(rho: float, edges_x, edges_y, order: int = 64) -> np.ndarray:
    """P[a, b] = P(x_a <= X < x_{a+1}, y_b <= Y < y_{b+1}) for a standard bivariate normal with correlation ``rho``.

    ``edges_x``, ``edges_y``: increasing, in standard units, +-inf allowed; ``order``
    Gauss-Legendre nodes per x cell.
    """
    rho = float(array_in("rho", rho, -1.0, 1.0))
    ex, ey = np.asarray(edges_x, dtype=float), np.asarray(edges_y, dtype=float)
    for name, e in (("edges_x", ex), ("edges_y", ey)):
        if e.ndim != 1 or e.size < 2 or np.any(np.isnan(e)) or np.any(np.diff(e) <= 0):
            raise ValueError(f"{name} must be a strictly increasing 1-D array of at least 2 edges")
    s = np.sqrt(1 - rho ** 2)
    rows = []
    for a, b in zip(ex[:-1], ex[1:]):
        x, w = _gauss_nodes(a, b, order)
        rows.append(w @ np.diff(ndtr((ey[None, :] - rho * x[:, None]) / s), axis=1))
    return np.array(rows)


def interval_probabilities(edges) -> np.ndarray:
    """P(e_a <= X < e_{a+1}) for a standard normal X."""
    return np.diff(ndtr(np.asarray(edges, dtype=float)))


def entropy(p) -> float:
    """Entropy (nats) of the probabilities ``p`` (zeros skipped)."""
    p = np.asarray(p, dtype=float).ravel()
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def mutual_information(P) -> float:
    """Mutual information (nats) of the discrete joint distribution ``P``."""
    P = np.asarray(P, dtype=float)
    px, py = P.sum(1, keepdims=True), P.sum(0, keepdims=True)
    nz = P > 0
    return float(np.sum(P[nz] * np.log(P[nz] / (px * py)[nz])))


def plugin_bias_and_error(P, samples: int) -> tuple[float, float]:
    """Leading bias and standard error of the plug-in MI estimate from ``samples`` draws of ``P``.

    Bias (A' - 1)(B' - 1) / (2N) with A', B' the occupied rows and columns (Miller-Madow);
    standard error sqrt(Var[log P_ab / (p_a p_b)] / N) (delta method).
    """
    P = np.asarray(P, dtype=float)
    px, py = P.sum(1, keepdims=True), P.sum(0, keepdims=True)
    nz = P > 0
    log_ratio = np.log(P[nz] / (px * py)[nz])
    var = np.sum(P[nz] * log_ratio ** 2) - np.sum(P[nz] * log_ratio) ** 2
    bias = (np.sum(px > 0) - 1) * (np.sum(py > 0) - 1) / (2 * samples)
    return float(bias), float(np.sqrt(max(var, 0.0) / samples))


def plugin_entropy_bias_and_error(p, samples: int) -> tuple[float, float]:
    """Leading bias -(K' - 1) / (2N) and standard error sqrt(Var[log p] / N) of the plug-in entropy."""
    p = np.asarray(p, dtype=float).ravel()
    p = p[p > 0]
    var = np.sum(p * np.log(p) ** 2) - np.sum(p * np.log(p)) ** 2
    return float(-(p.size - 1) / (2 * samples)), float(np.sqrt(max(var, 0.0) / samples))


# ----------------------------------------------------- disentanglement_lib, evaluation/metrics


def dlib_compute_score_matrix(mus, ys, mus_test, ys_test, continuous_factors):
    """sap_score.py ``_compute_score_matrix``; ``mus`` (num_latents, n), ``ys`` (num_factors, n)."""
    from sklearn import svm

    num_latents = mus.shape[0]
    num_factors = ys.shape[0]
    score_matrix = np.zeros([num_latents, num_factors])
    for i in range(num_latents):
        for j in range(num_factors):
            mu_i = mus[i, :]
            y_j = ys[j, :]
            if continuous_factors:
                # Attribute is considered continuous.
                cov_mu_i_y_j = np.cov(mu_i, y_j, ddof=1)
                cov_mu_y = cov_mu_i_y_j[0, 1]**2
                var_mu = cov_mu_i_y_j[0, 0]
                var_y = cov_mu_i_y_j[1, 1]
                if var_mu > 1e-12:
                    with np.errstate(invalid="ignore", divide="ignore"):
                        score_matrix[i, j] = cov_mu_y * 1. / (var_mu * var_y)
                else:
                    score_matrix[i, j] = 0.
            else:
                # Attribute is considered discrete.
                mu_i_test = mus_test[i, :]
                y_j_test = ys_test[j, :]
                classifier = svm.LinearSVC(C=0.01, class_weight="balanced")
                classifier.fit(mu_i[:, np.newaxis], y_j)
                pred = classifier.predict(mu_i_test[:, np.newaxis])
                score_matrix[i, j] = np.mean(pred == y_j_test)
    return score_matrix


def dlib_compute_avg_diff_top_two(matrix):
    """sap_score.py ``_compute_avg_diff_top_two``."""
    sorted_matrix = np.sort(matrix, axis=0)
    return np.mean(sorted_matrix[-1, :] - sorted_matrix[-2, :])


def dlib_histogram_discretize(target, num_bins):
    """utils.py ``_histogram_discretize``; ``target`` (num_codes, n)."""
    discretized = np.zeros_like(target)
    for i in range(target.shape[0]):
        discretized[i, :] = np.digitize(target[i, :], np.histogram(target[i, :], num_bins)[1][:-1])
    return discretized


def dlib_discrete_mutual_info(mus, ys):
    """utils.py ``discrete_mutual_info``."""
    from sklearn.metrics import mutual_info_score

    num_codes = mus.shape[0]
    num_factors = ys.shape[0]
    m = np.zeros([num_codes, num_factors])
    for i in range(num_codes):
        for j in range(num_factors):
            m[i, j] = mutual_info_score(ys[j, :], mus[i, :])
    return m


def dlib_discrete_entropy(ys):
    """utils.py ``discrete_entropy``."""
    from sklearn.metrics import mutual_info_score

    num_factors = ys.shape[0]
    h = np.zeros(num_factors)
    for j in range(num_factors):
        h[j] = mutual_info_score(ys[j, :], ys[j, :])
    return h


def dlib_compute_mig(mus_train, ys_train, num_bins=20):
    """mig.py ``compute_mig`` after its sampling step (mig.gin: histogram_discretizer, 20 bins)."""
    discretized_mus = dlib_histogram_discretize(mus_train, num_bins)
    m = dlib_discrete_mutual_info(discretized_mus, ys_train)
    entropy = dlib_discrete_entropy(ys_train)
    sorted_m = np.sort(m, axis=0)[::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.mean(np.divide(sorted_m[0, :] - sorted_m[1, :], entropy[:]))


# ------------------------------------------------------------------- rtqichen/beta-tcvae


def _normal_log_density(sample, mu, logsigma):
    """lib/dist.py ``Normal.log_density`` with params (mu, log sigma)."""
    c = np.log(2 * np.pi)
    inv_sigma = np.exp(-logsigma)
    tmp = (sample - mu) * inv_sigma
    return -0.5 * (tmp * tmp + 2 * logsigma + c)


def chen_estimate_entropies(qz_samples, qz_params):
    """``estimate_entropies`` with every sample kept (n_samples >= S): E[-log q(z_j)], q(z_j) = 1/N sum_n q(z_j|x_n).

    ``qz_samples`` (K, S), ``qz_params`` (N, K, 2) holding (mu, log sigma).
    """
    K, S = qz_samples.shape
    N, _, nparams = qz_params.shape
    weights = -np.log(N)
    entropies = np.zeros(K)
    k = 0
    while k < S:
        batch_size = min(10, S - k)
        logqz_i = _normal_log_density(qz_samples[None, :, k:k + batch_size],
                                      qz_params[:, :, None, 0], qz_params[:, :, None, 1])
        k += batch_size
        entropies += -logsumexp(logqz_i + weights, axis=0).sum(1)
    return entropies / S


def chen_mig(qz_samples, qz_params, grid):
    """``mutual_info_metric_shapes`` + ``compute_metric_shapes`` for a full factor grid of sizes ``grid``.

    ``qz_samples`` (N, K) one draw per point and ``qz_params`` (N, K, 2), the N = prod(grid)
    points in C order of the grid (as the dSprites file); every factor of the grid is
    scored (the repository leaves out dSprites' shape) and normalised by log(size).
    """
    N, K = qz_samples.shape
    samples = qz_samples.reshape(*grid, K)
    params = qz_params.reshape(*grid, K, 2)
    marginal_entropies = chen_estimate_entropies(qz_samples.T, qz_params)
    cond_entropies = np.zeros((len(grid), K))
    for f, size in enumerate(grid):
        for i in range(size):
            sub_samples = np.take(samples, i, axis=f).reshape(N // size, K)
            sub_params = np.take(params, i, axis=f).reshape(N // size, K, 2)
            cond_entropies[f] += chen_estimate_entropies(sub_samples.T, sub_params) / size
    mutual_infos = marginal_entropies[None] - cond_entropies
    mutual_infos = np.clip(-np.sort(-mutual_infos, axis=1), 0, None)
    mi_normed = mutual_infos / np.log(np.array(grid, dtype=float))[:, None]
    return np.mean(mi_normed[:, 0] - mi_normed[:, 1]), mutual_infos


# --------------------------------------------------------------- Gaussian mixture by quadrature


def gaussian_mixture_information(means, sd, weights=None) -> float:
    """I(z; v) (nats) for v with P(v = k) = weights_k and z | v = k ~ N(means_k, sd^2), by quadrature.

    I = h(z) - h(z|v) with h(z|v) = 1/2 log(2 pi e sd^2) and h(z) = -int p log p of the
    mixture, integrated by adaptive quadrature over each gap between sorted means and
    the two tails (points: the means).
    """
    means = np.asarray(means, dtype=float)
    w = np.full(len(means), 1 / len(means)) if weights is None else np.asarray(weights, dtype=float) / np.sum(weights)

    def integrand(z):
        log_p = logsumexp(-0.5 * ((z - means) / sd) ** 2 + np.log(w)) - np.log(sd) - 0.5 * np.log(2 * np.pi)
        return -np.exp(log_p) * log_p

    knots = np.unique(means)
    edges = np.r_[knots[0] - 40 * sd, knots, knots[-1] + 40 * sd]
    h = sum(quad(integrand, a, b, epsabs=1e-13, epsrel=1e-12, limit=200)[0] for a, b in zip(edges[:-1], edges[1:]))
    return float(h - 0.5 * np.log(2 * np.pi * np.e * sd ** 2))
