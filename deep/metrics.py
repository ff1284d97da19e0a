"""Disentanglement and collapse metrics of a representation with known factors.

``codes`` is an (N, m) array of latent codes (the posterior means), ``factors`` an (N, K)
array of factor classes (integers) or values. Each metric follows its reference
implementation; departures are stated where they occur.

- :func:`mig`: the Mutual Information Gap [chen2018], computed as in disentanglement_lib
  [locatello2019]: each code dimension discretised into 20 equal-width bins over its
  sample range, plug-in mutual information with each (discrete) factor in nats, the gap
  between the two most informative dimensions divided by the factor's entropy, averaged.
  This is the MI of *discretised* variables: for continuous variables it lies below the
  continuous MI -1/2 log(1 - rho^2) of [mi_collapse] §4.1 and reaches it only as the bins
  are refined (property_tests/test_deep_metrics.py measures both).
- :func:`sap`: Separated Attribute Predictability [kumar2018], eq. (10) of
  [mi_collapse]: per (code, factor) pair a score, the squared correlation (eq. 9) for a
  continuous factor, the test accuracy of a one-feature linear classifier for a
  categorical one; the mean over factors of the gap between the two best codes.
  disentanglement_lib uses a one-vs-rest LinearSVC(C=0.01), which on one feature cannot
  give a middle class its interval, so a perfect code scores below 1; a multinomial
  logistic regression can, and is used here.
- :func:`dci`: Disentanglement, Completeness, Informativeness [eastwood2018] with
  gradient-boosted trees' feature importances, as in disentanglement_lib
  (:func:`dci_scores` turns an importance matrix into D and C).
- :func:`active_units`: dimensions with Cov_x E[z_i|x] > 0.01 [burda2015].
- :func:`snr_capacity`: eq. (7) of [lambda_vae], 1/2 log(1 + Var[mu_i] / noise_i).
- :func:`decoder_capacity`: eq. (18) of [lambda_vae], the RMS of d log p(x|z) / d z_i.
- :func:`mutual_information`: I(X;Z) of an encoder on N data points by Monte Carlo over the
  N-component posterior mixture, the estimator of [lambda_vae] §6.1, and the gap log N - I.
- :func:`gradient_ratios`: the reconstruction gradient g^sigma of eq. (19) of [lambda_vae] and
  the gradient ratio rho of eq. (A.3), plain and amplified by lambda sigma^(lambda-1) (§4.1).

References
----------
[chen2018] R. T. Q. Chen et al., Isolating sources of disentanglement in VAEs (2018).
[kumar2018] A. Kumar et al., Variational inference of disentangled latent concepts (2018).
[eastwood2018] C. Eastwood, C. K. I. Williams, A framework for the quantitative
    evaluation of disentangled representations (2018).
[locatello2019] F. Locatello et al., Challenging common assumptions ... (2019);
    github.com/google-research/disentanglement_lib (evaluation/metrics/*.py).
[burda2015] Y. Burda et al., Importance weighted autoencoders (2015).
[mi_collapse] shared/papers/000_6e757ef8f718962b.txt, §4.1 eq. (9)-(11).
[lambda_vae] shared/papers/002_9357fcd1557682b2.txt, §3.2 eq. (7), §6.1 eq. (18).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.special import logsumexp

from numerics import validation


def _codes_and_factors(codes, factors, min_codes: int = 1):
    codes = validation.finite_array("codes", codes, ndim=2)
    factors = validation.finite_array("factors", factors, ndim=2)
    if len(codes) != len(factors):
        raise ValueError(f"codes and factors must have the same number of rows; got {len(codes)} and {len(factors)}")
    if codes.shape[1] < min_codes:
        raise ValueError(f"codes must have at least {min_codes} columns; got {codes.shape[1]}")
    if len(codes) < 2:
        raise ValueError(f"codes must have at least 2 rows; got {len(codes)}")
    return codes, factors


def histogram_discretize(values, bins: int = 20) -> np.ndarray:
    """Each column of ``values`` (N, d) as bin labels of ``bins`` equal-width bins over its range.

    As disentanglement_lib: ``np.digitize(col, np.histogram(col, bins)[1][:-1])``.
    """
    values = validation.finite_array("values", values, ndim=2)
    bins = validation.positive_int("bins", bins)
    return np.stack([np.digitize(col, np.histogram(col, bins)[1][:-1]) for col in values.T], axis=1)


def _labels(column) -> tuple[np.ndarray, int]:
    """Labels 0..k-1 of a column and k."""
    uniq, inverse = np.unique(column, return_inverse=True)
    return inverse.ravel(), len(uniq)


def discrete_entropy(labels) -> np.ndarray:
    """Plug-in entropy (nats) of each column of discrete ``labels`` (N, d)."""
    labels = np.asarray(labels)
    out = []
    for col in labels.T:
        p = np.bincount(_labels(col)[0]) / len(col)
        out.append(-np.sum(p * np.log(p)))
    return np.array(out)


def discrete_mutual_information(a, b) -> np.ndarray:
    """Plug-in mutual information (nats) between every column of ``a`` (N, da) and of ``b`` (N, db)."""
    a, b = np.asarray(a), np.asarray(b)
    n = len(a)
    la, lb = [_labels(c) for c in a.T], [_labels(c) for c in b.T]
    mi = np.zeros((a.shape[1], b.shape[1]))
    for i, (x, kx) in enumerate(la):
        px = np.bincount(x, minlength=kx) / n
        for j, (y, ky) in enumerate(lb):
            joint = np.bincount(x * ky + y, minlength=kx * ky).reshape(kx, ky) / n
            py = joint.sum(0)
            nz = joint > 0
            mi[i, j] = np.sum(joint[nz] * np.log(joint[nz] / np.outer(px, py)[nz]))
    return mi


def mig(codes, factors, *, bins: int = 20, discretize_factors: bool = False) -> dict:
    """Mutual Information Gap (eq. 11 of [mi_collapse] with discretised variables).

    Parameters
    ----------
    codes : (N, m) array, m >= 2
    factors : (N, K) array
        Discrete factor classes, or continuous values with ``discretize_factors``.
    bins : int
        Histogram bins per code (and per factor when discretised); 20 in disentanglement_lib.
    discretize_factors : bool
        Discretise the factors with the same histogram rule as the codes.

    Returns
    -------
    dict
        ``score`` (mean over factors with positive entropy), ``per_factor`` (NaN for a
        constant factor), ``mutual_information`` (m x K, nats), ``entropy`` (K, nats).

    References
    ----------
    [chen2018]; disentanglement_lib mig.py [locatello2019]; [mi_collapse] eq. (11).
    """
    codes, factors = _codes_and_factors(codes, factors, min_codes=2)
    labels = histogram_discretize(factors, bins) if discretize_factors else factors
    mi = discrete_mutual_information(histogram_discretize(codes, bins), labels)
    entropy = discrete_entropy(labels)
    top = np.sort(mi, axis=0)[::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        per_factor = np.where(entropy > 0, (top[0] - top[1]) / entropy, np.nan)
    score = float(np.nanmean(per_factor)) if np.any(entropy > 0) else float("nan")
    return {"score": score, "per_factor": per_factor, "mutual_information": mi, "entropy": entropy}


def squared_correlations(codes, factors) -> np.ndarray:
    """Sample squared correlations S_ij of code i and factor j (eq. 9 of [mi_collapse]); 0 for a constant column."""
    codes, factors = _codes_and_factors(codes, factors)
    zc, vc = codes - codes.mean(0), factors - factors.mean(0)
    cov = zc.T @ vc / (len(codes) - 1)
    live = np.outer(np.ptp(codes, axis=0) > 0, np.ptp(factors, axis=0) > 0)
    denom = np.where(live, np.outer(zc.var(0, ddof=1), vc.var(0, ddof=1)), 1.0)
    return np.where(live, cov ** 2 / denom, 0.0)


def _split(n: int, seed: int, test_fraction: float):
    test_fraction = validation.array_in("test_fraction", test_fraction, 0.0, 1.0)
    perm = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(test_fraction * n)))
    if n_test >= n:
        raise ValueError(f"test_fraction {test_fraction} leaves no training rows of {n}")
    return perm[n_test:], perm[:n_test]


def _accuracy(x_train, y_train, x_test, y_test) -> float:
    """Test accuracy of a one-feature multinomial logistic regression (nearly unregularised, so
    ordered classes can each own an interval); the majority class for a constant feature."""
    from sklearn.linear_model import LogisticRegression

    if np.ptp(x_train) == 0 or len(np.unique(y_train)) < 2:
        values, counts = np.unique(y_train, return_counts=True)
        return float(np.mean(y_test == values[counts.argmax()]))
    mean, scale = x_train.mean(), x_train.std()
    clf = LogisticRegression(C=1e4, class_weight="balanced", max_iter=1000)
    clf.fit(((x_train - mean) / scale)[:, None], y_train)
    return float(np.mean(clf.predict(((x_test - mean) / scale)[:, None]) == y_test))


def sap(codes, factors, discrete, *, seed: int = 0, test_fraction: float = 0.5) -> dict:
    """Separated Attribute Predictability (eq. 10 of [mi_collapse]).

    Parameters
    ----------
    codes : (N, m) array, m >= 2
    factors : (N, K) array
        Values (continuous factors) or classes (categorical factors).
    discrete : sequence of K bools
        Categorical factors: score = test accuracy of a one-feature multinomial logistic
        regression (balanced class weights) trained on a ``1 - test_fraction`` split.
        Continuous factors: score = squared correlation on all rows (eq. 9).
    seed : int
        The train/test split.

    Returns
    -------
    dict
        ``score``, ``per_factor`` (K,), ``matrix`` (m x K scores).

    References
    ----------
    [kumar2018]; disentanglement_lib sap_score.py [locatello2019]; [mi_collapse] eq. (9)-(10).
    """
    codes, factors = _codes_and_factors(codes, factors, min_codes=2)
    discrete = np.asarray(discrete, dtype=bool)
    if discrete.shape != (factors.shape[1],):
        raise ValueError(f"discrete must have one flag per factor ({factors.shape[1]}); got {discrete.shape}")
    matrix = np.zeros((codes.shape[1], factors.shape[1]))
    cont = ~discrete
    if cont.any():
        matrix[:, cont] = squared_correlations(codes, factors[:, cont])
    if discrete.any():
        train, test = _split(len(codes), seed, test_fraction)
        for j in np.flatnonzero(discrete):
            for i in range(codes.shape[1]):
                matrix[i, j] = _accuracy(codes[train, i], factors[train, j], codes[test, i], factors[test, j])
    top = np.sort(matrix, axis=0)[::-1]
    per_factor = top[0] - top[1]
    return {"score": float(per_factor.mean()), "per_factor": per_factor, "matrix": matrix}


def _one_minus_entropy(p, axis: int, base: int) -> np.ndarray:
    """1 - H(p) / log(base) along ``axis`` of nonnegative weights ``p`` (normalised; 0 if all zero)."""
    total = p.sum(axis=axis, keepdims=True)
    q = np.where(total > 0, p / np.where(total > 0, total, 1), 1.0 / p.shape[axis])
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.sum(np.where(q > 0, q * np.log(q), 0.0), axis=axis)
    return 1 - h / np.log(base)


def dci_scores(importance) -> dict:
    """Disentanglement and completeness of an importance matrix R (m codes x K factors), [eastwood2018].

    Disentanglement sum_i rho_i (1 - H_K(R_i. / sum_j R_ij)) with rho_i = sum_j R_ij / sum R;
    completeness sum_j (sum_i R_ij / sum R) (1 - H_m(R_.j / sum_i R_ij)); entropies in base
    K and m. An all-zero R (no code informs any factor) scores 0 for both;
    disentanglement is None for K = 1, completeness None for m = 1 (a base-1 entropy).

    Returns
    -------
    dict
        ``disentanglement``, ``completeness``, ``per_code`` (m,), ``per_factor`` (K,).
    """
    importance = validation.finite_array("importance", importance, ndim=2)
    if np.any(importance < 0):
        raise ValueError("importance must be nonnegative")
    m, k = importance.shape
    total = importance.sum()
    per_code = _one_minus_entropy(importance, 1, k) if k > 1 else np.full(m, np.nan)
    per_factor = _one_minus_entropy(importance, 0, m) if m > 1 else np.full(k, np.nan)
    if total == 0:
        return {"disentanglement": None if k == 1 else 0.0, "completeness": None if m == 1 else 0.0,
                "per_code": per_code, "per_factor": per_factor}
    return {"disentanglement": None if k == 1 else float(np.sum(importance.sum(1) / total * per_code)),
            "completeness": None if m == 1 else float(np.sum(importance.sum(0) / total * per_factor)),
            "per_code": per_code, "per_factor": per_factor}


def dci(codes, factors, *, seed: int = 0, test_fraction: float = 0.5, n_estimators: int = 100,
        max_depth: int = 3) -> dict:
    """Disentanglement, completeness and informativeness [eastwood2018] from gradient-boosted trees.

    For each factor a ``GradientBoostingClassifier`` predicts its class from all codes;
    the importance matrix R (m x K) holds |feature_importances_| (see :func:`dci_scores`);
    informativeness is the mean test accuracy, as in disentanglement_lib.

    Parameters
    ----------
    codes : (N, m) array, m >= 2
    factors : (N, K) array of classes
    seed : int
        The train/test split and the trees' randomness.
    test_fraction : float
    n_estimators, max_depth : int
        Of the trees (scikit-learn's defaults, as disentanglement_lib).

    Returns
    -------
    dict
        ``disentanglement`` (None when K = 1), ``completeness``, ``informativeness``,
        ``importance`` (m x K), ``per_code``, ``per_factor``.

    References
    ----------
    [eastwood2018]; disentanglement_lib dci.py [locatello2019].
    """
    from sklearn.ensemble import GradientBoostingClassifier

    codes, factors = _codes_and_factors(codes, factors, min_codes=2)
    n_estimators = validation.positive_int("n_estimators", n_estimators)
    max_depth = validation.positive_int("max_depth", max_depth)
    train, test = _split(len(codes), seed, test_fraction)
    importance, accuracy = np.zeros((codes.shape[1], factors.shape[1])), np.zeros(factors.shape[1])
    for j in range(factors.shape[1]):
        if len(np.unique(factors[train, j])) < 2:
            raise ValueError(f"factor {j} is constant on the training rows; DCI needs >= 2 classes per factor")
        clf = GradientBoostingClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=seed)
        clf.fit(codes[train], factors[train, j])
        importance[:, j] = np.abs(clf.feature_importances_)
        accuracy[j] = np.mean(clf.predict(codes[test]) == factors[test, j])
    return {**dci_scores(importance), "informativeness": float(accuracy.mean()), "importance": importance}


def active_units(mu, threshold: float = 0.01) -> dict:
    """Dimensions with Cov_x(E[z_i|x]) = Var_x(mu_i) > ``threshold`` [burda2015]; ``count`` and ``variance`` (m,)."""
    mu = validation.finite_array("mu", mu, ndim=2)
    variance = mu.var(0, ddof=1)
    return {"count": int(np.sum(variance > validation.nonnegative("threshold", threshold))), "variance": variance}


def snr_capacity(mu, noise_var) -> np.ndarray:
    """Per-dimension SNR capacity 1/2 log(1 + S_i / N_i) in nats.  # eq. (7) of [lambda_vae]

    Parameters
    ----------
    mu : (N, m) array
        Posterior means mu(x); the signal power is S_i = Var_x[mu_i(x)].
    noise_var : (N, m) array
        Variance of the noise added to mu at each x (sigma^2, or sigma^(2 lambda) for the
        lambda-VAE's sampling of eq. 9); the noise power N_i is its mean over x.

    Returns
    -------
    numpy.ndarray (m,)
        Exactly I(mu_i; z_i) for Gaussian mu_i and noise that does not depend on x; an
        upper bound on it for any other signal of the same power with such noise (the
        Gaussian channel's capacity); with x-dependent noise it is neither (catalogue
        entry lambda_vae.eq_7).

    References
    ----------
    [lambda_vae] §3.2 eq. (7) and §6.1 ("SNR-based information capacity").
    """
    mu = validation.finite_array("mu", mu, ndim=2)
    noise_var = validation.finite_array("noise_var", noise_var, ndim=2)
    if noise_var.shape != mu.shape or np.any(noise_var <= 0):
        raise ValueError(f"noise_var must be positive with the shape of mu {mu.shape}; got {noise_var.shape}")
    return 0.5 * np.log1p(mu.var(0, ddof=1) / noise_var.mean(0))


def decoder_gradient(model, x, z) -> torch.Tensor:
    """Per-sample gradients d log p(x|z) / d z, shape (N, m) (eq. 18 and 19 of [lambda_vae]).

    Each sample's log-likelihood depends on its own z only, so one backward pass of the
    batch sum gives every per-sample gradient.
    """
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        log_p = -model.likelihood.nll(model.decode(z).float(), x)
        (grad,) = torch.autograd.grad(log_p.sum(), z)
    return grad


def decoder_capacity(model, x, z) -> np.ndarray:
    """C_i^dec = sqrt(E_x[(d log p(x|z) / d z_i)^2]) per latent dimension.  # eq. (18) of [lambda_vae]

    Parameters
    ----------
    model : deep.models.VAE
    x : tensor (N, ...)
        Observations.
    z : tensor (N, m)
        Latents at which the gradient is taken (samples of the sampling distribution).

    Returns
    -------
    numpy.ndarray (m,)
        The RMS decoder gradient; ~0 for a dimension the decoder ignores.

    References
    ----------
    [lambda_vae] §6.1 eq. (18).
    """
    return decoder_gradient(model, x, z).pow(2).mean(0).sqrt().cpu().numpy()


def gradient_ratios(grad_eps, logvar, exponent) -> dict:
    """The reconstruction gradient g^sigma and the gradient ratio rho per latent dimension.

    With z = mu + sigma^lambda eps (eq. 9 of [lambda_vae]), ``grad_eps`` holds
    d log p(x|z)/dz_i * eps_i per sample. Then (expectations over the samples, i.e. over x
    and eps)

    - ``g_sigma`` = E[d log p/dz_i eps_i], the reconstruction gradient of eq. (19) (at the
      lambda-scaled sample, as in eq. 11);
    - ``g_sigma_effective`` = E[lambda sigma^(lambda-1) d log p/dz_i eps_i], the derivative
      of the reconstruction term with respect to sigma_i (eq. 11's first term);
    - ``kl_force`` = E[1/sigma_i - sigma_i], the KL restoring force of eq. (3);
    - ``rho`` = |g_sigma| / |kl_force| (eq. A.3) and ``rho_effective`` =
      |g_sigma_effective| / |kl_force|, the effective ratio rho^lambda of §4.1 (equal to
      ``rho`` at lambda = 1);
    - ``g_sigma_stderr``, ``g_sigma_effective_stderr``: the Monte Carlo standard errors of
      the two gradients (the samples are independent), so the ratios carry a relative
      error of stderr / |g|: near sigma = 1 both numerator and denominator are small.

    Because sigma varies with x, numerator and denominator are averaged separately: at a
    stationary point of the ELBO in every sigma_i(x) the two averages cancel exactly, so
    rho_effective = 1 for every active dimension there (footnote 1 of [lambda_vae]).

    Parameters
    ----------
    grad_eps : (N, m) array
    logvar : (N, m) array
        log sigma^2 at the same samples.
    exponent : (m,) array
        The sampling exponents lambda_i.

    Returns
    -------
    dict of (m,) arrays

    References
    ----------
    [lambda_vae] eq. (3), (11), (19), (A.3), §4.1.
    """
    grad_eps = validation.finite_array("grad_eps", grad_eps, ndim=2)
    logvar = validation.finite_array("logvar", logvar, ndim=2)
    lam = validation.array_in("exponent", np.broadcast_to(exponent, grad_eps.shape[1:]), 1.0, closed="low")
    if logvar.shape != grad_eps.shape:
        raise ValueError(f"logvar must have the shape of grad_eps {grad_eps.shape}; got {logvar.shape}")
    sigma = np.exp(0.5 * logvar)
    g = grad_eps.mean(0)
    amplified = lam * sigma ** (lam - 1) * grad_eps      # d z / d sigma = lambda sigma^(lambda-1) eps
    g_eff = amplified.mean(0)
    force = (1 / sigma - sigma).mean(0)
    root_n = np.sqrt(len(grad_eps))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"g_sigma": g, "g_sigma_effective": g_eff, "kl_force": force,
                "rho": np.abs(g) / np.abs(force), "rho_effective": np.abs(g_eff) / np.abs(force),
                "g_sigma_stderr": grad_eps.std(0, ddof=1) / root_n,
                "g_sigma_effective_stderr": amplified.std(0, ddof=1) / root_n}


def mutual_information(mu, noise_std, *, samples: int = 1, seed: int = 0, chunk: int = 256) -> dict:
    """I(X;Z) of an encoder on N data points by Monte Carlo (the estimator of [lambda_vae] §6.1).

    X is uniform on the N points and x_n is encoded as N(mu_n, diag(noise_std_n^2)), so
    q(z) is the N-component mixture of the posteriors. With ``samples`` draws
    z ~ q(z|x_n) per point, the estimate is the mean of log q(z|x_n) - log q(z)
    (H(Z) from the mixture, H(Z|X) in closed form). It lies in [0, log N]: for continuous
    data it is the information about which of the N points was encoded, and ``gap`` =
    log N - I is the information gap Delta I = H[phi] - I(X;Z) of eq. (5) on those points
    (H[phi] = log N for distinct encoder outputs).

    Parameters
    ----------
    mu : (N, m) array
        Posterior means.
    noise_std : (N, m) array or broadcastable
        The sampling standard deviations (sigma, or sigma^lambda for the lambda-VAE).
    samples : int
        Draws per point.
    seed : int
    chunk : int
        Draws evaluated against all N components at once (memory chunk * N * m).

    Returns
    -------
    dict
        ``estimate`` (nats), ``stderr``, ``log_n``, ``gap``.

    References
    ----------
    [lambda_vae] §6.1 ("Monte Carlo mixture marginalisation estimator"), eq. (5).
    """
    mu = validation.finite_array("mu", mu, ndim=2)
    noise = validation.array_in("noise_std", np.broadcast_to(noise_std, mu.shape), 0.0)
    samples = validation.positive_int("samples", samples)
    chunk = validation.positive_int("chunk", chunk)
    n, m = mu.shape
    log_norm = -np.log(noise).sum(1) - 0.5 * m * np.log(2 * np.pi)   # log N(mu_n | mu_n, noise_n), per component
    owner = np.repeat(np.arange(n), samples)
    rng = np.random.default_rng(seed)
    terms = []
    for start in range(0, len(owner), chunk):
        k = owner[start:start + chunk]
        eps = rng.standard_normal((len(k), m))
        z = mu[k] + noise[k] * eps
        u = (z[:, None, :] - mu[None]) / noise[None]
        log_q = logsumexp(log_norm[None] - 0.5 * np.sum(u * u, axis=2), axis=1) - np.log(n)
        terms.append(log_norm[k] - 0.5 * np.sum(eps * eps, axis=1) - log_q)
    terms = np.concatenate(terms)
    estimate = float(terms.mean())
    return {"estimate": estimate, "stderr": float(terms.std(ddof=1) / np.sqrt(len(terms))),
            "log_n": float(np.log(n)), "gap": float(np.log(n) - estimate)}
