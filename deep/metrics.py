"""Disentanglement and collapse metrics of a representation with known factors, in named variants.

``codes`` is an (N, m) array of latent codes (the posterior means), ``factors`` an (N, K)
array of factor classes (integers) or values. Papers that report "MIG" or "SAP" report
one convention of it, and the conventions give different numbers for the same
representation; so each metric here comes in named variants, ``metric:variant``
(:data:`VARIANTS`, :func:`variant`), each with its source and its exact convention, and
every result names the variant that produced it. :data:`PAPER_000` lists the variants
behind paper 000's Fig. 4-5: disentanglement_lib's [locatello2019], which its code copies.

- :func:`sap`, Separated Attribute Predictability [kumar2018] (eq. 10 of [mi_collapse]):
  ``dlib`` is disentanglement_lib's sap_score.py (LinearSVC(C = 0.01, balanced) per
  latent for a discrete factor; squared correlation for a continuous one with latents of
  variance <= 1e-12 scored 0; NaN for a constant factor); ``logistic`` replaces the
  LinearSVC by a multinomial logistic regression on the standardised latent, which can
  give a middle class its interval (a perfect code scores 1; the LinearSVC cannot) and is
  invariant to shifting and scaling a latent (the LinearSVC, whose intercept is
  regularised, is not).
- :func:`mig`, the Mutual Information Gap [chen2018]: ``binned`` is disentanglement_lib's
  mig.py (the posterior means in 20 equal-width bins over each latent's sample range,
  plug-in MI in nats; the MI of *discretised* means, below the continuous MI of §4.1 of
  [mi_collapse] and blind to the posterior noise); ``chen`` is the estimator of [chen2018]
  (the MI of the *sampled* latent z ~ q(z|x) with each factor, from the mixture of the
  Gaussian posteriors over the evaluated points); ``exact`` the closed form of eq. (11)
  for linear-Gaussian codes (:func:`numerics.linear_gaussian_vae.mig`).
- :func:`lim`, eq. (12) of [mi_collapse]: ``partition`` (the maximum over partitions that
  eq. 12 defines) and ``assignment`` (one factor per latent, the paper's stated reduction
  and its seed code's), both by :func:`numerics.linear_gaussian_vae.lim`, on exact
  covariances or on the Gaussian fit of a sample.
- :func:`dci`: Disentanglement, Completeness, Informativeness [eastwood2018] with
  gradient-boosted trees' feature importances, as in disentanglement_lib
  (:func:`dci_scores` turns an importance matrix into D and C).
- :func:`active_units`: dimensions with Cov_x E[z_i|x] > threshold (0.01) [burda2015].
- :func:`information_budget`: per latent, the information an estimator reads against the
  KL the model pays, E_x KL(q(z_i|x) || p(z_i)) >= I(z_i; x) >= I(z_i; v_j).
- :func:`snr_capacity`: eq. (7) of [lambda_vae], 1/2 log(1 + Var[mu_i] / noise_i).
- :func:`decoder_capacity`: eq. (18) of [lambda_vae], the RMS of d log p(x|z) / d z_i.
- :func:`mutual_information`: I(X;Z) of an encoder on N data points by Monte Carlo over the
  N-component posterior mixture, the estimator of [lambda_vae] §6.1, and the gap log N - I.
- :func:`gradient_ratios`: the reconstruction gradient g^sigma of eq. (19) of [lambda_vae] and
  the gradient ratio rho of eq. (A.3), plain and amplified by lambda sigma^(lambda-1) (§4.1).

References
----------
[chen2018] R. T. Q. Chen et al., Isolating sources of disentanglement in VAEs (2018), §4.1;
    github.com/rtqichen/beta-tcvae (disentanglement_metrics.py, metric_helpers/mi_metric.py).
[kumar2018] A. Kumar et al., Variational inference of disentangled latent concepts (2018).
[eastwood2018] C. Eastwood, C. K. I. Williams, A framework for the quantitative
    evaluation of disentangled representations (2018).
[locatello2019] F. Locatello et al., Challenging common assumptions ... (2019);
    github.com/google-research/disentanglement_lib (evaluation/metrics/*.py and
    config/unsupervised_study_v1/metric_configs/*.gin).
[burda2015] Y. Burda et al., Importance weighted autoencoders (2015).
[mi_collapse] shared/papers/000_6e757ef8f718962b.txt, §4.1 eq. (9)-(12), §5.2.
[lambda_vae] shared/papers/002_9357fcd1557682b2.txt, §3.2 eq. (7), §6.1 eq. (18).
"""
from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches

import numpy as np
from scipy.special import logsumexp

from numerics import linear_gaussian_vae as lgv
from numerics import validation

# ------------------------------------------------------------------------------ variants


@dataclass(frozen=True)
class Variant:
    """One convention of one metric: ``spec`` = ``metric:name``, where it comes from, what it computes."""

    metric: str
    name: str
    source: str
    convention: str

    @property
    def spec(self) -> str:
        return f"{self.metric}:{self.name}"


VARIANTS = {v.spec: v for v in (
    Variant("sap", "dlib", "[kumar2018] as disentanglement_lib sap_score.py [locatello2019]; paper 000 Fig. 4-5",
            "discrete factor: LinearSVC(C=0.01, class_weight='balanced') on one latent, fit on a train split, "
            "accuracy on the test split (1/3 of the rows, as num_test 5000 : num_train 10000); continuous factor: "
            "squared correlation, 0 for a latent of variance <= 1e-12; NaN for a constant factor, and the mean "
            "top-two gap is NaN then too. collapse evaluate treats every factor as discrete, as sap_score.gin "
            "(continuous_factors = False)"),
    Variant("sap", "logistic", "[kumar2018]; this package's SAP before issue 16",
            "discrete factor: multinomial logistic regression (C = 1e4, balanced) on the standardised latent, "
            "test accuracy on half the rows (majority class for a constant latent); continuous factor: squared "
            "correlation (0 for a constant column); invariant to shifting and scaling a latent"),
    Variant("mig", "binned", "[chen2018] as disentanglement_lib mig.py [locatello2019] (num_bins = 20); "
            "paper 000 Fig. 4-5",
            "posterior means in 20 equal-width bins over each latent's sample range; plug-in I(mu_i; v_j) and "
            "H(v_j) of the factor classes, nats; NaN for a constant factor"),
    Variant("mig", "chen", "[chen2018] §4.1 and its code",
            "I(z_i; v_j) of the sampled latent z ~ q(z|x) = N(mu, sigma^2): the mean over draws of "
            "log q(z_i|v_j) - log q(z_i), with q(z_i) and q(z_i|v_j) the mixtures of the Gaussian posteriors of "
            "every evaluated point (with that factor value); clamped at 0; over the plug-in H(v_j)"),
    Variant("mig", "exact", "[mi_collapse] §4.1 eq. (11)",
            "linear-Gaussian codes: I(x_i; v_j) = -1/2 log(1 - S_ij) with S of eq. (9), H(v_j) the differential "
            "entropy of a Gaussian factor (needs Var v_j > 1/(2 pi e)); numerics.linear_gaussian_vae.mig"),
    Variant("lim", "partition", "[mi_collapse] eq. (12)",
            "maximum over partitions of the independent factors into m groups of sum_k I(x_k; v_S_k) (Gaussian "
            "information); numerics.linear_gaussian_vae.lim(method='partition')"),
    Variant("lim", "assignment", "[mi_collapse] §4.1 after eq. (12), the paper's stated reduction (and, per "
            "issue 16, the seed code's)",
            "maximum-weight assignment of one factor per latent of I(x_k; v_j) (needs s <= m); "
            "numerics.linear_gaussian_vae.lim(method='assignment')"),
    Variant("dci", "dlib", "[eastwood2018] as disentanglement_lib dci.py [locatello2019]",
            "GradientBoostingClassifier per factor on all latents (half the rows), R = |feature_importances_|, "
            "informativeness = test accuracy on the other half"),
    Variant("active_units", "0.01", "[burda2015]",
            "latents with Var_x E[z_i|x] > 0.01; another threshold t is the variant active_units:t"),
)}
"""Every variant by ``metric:name``. ``active_units:t`` also accepts any threshold t >= 0."""

DEFAULT_VARIANT = {"sap": "dlib", "mig": "binned", "lim": "partition", "dci": "dlib", "active_units": "0.01"}
"""The variant a bare metric name means: disentanglement_lib's where it has one."""

PAPER_000 = ("sap:dlib", "mig:binned")
"""The conventions behind paper 000's Fig. 4-5 (its code copies disentanglement_lib)."""

DEFAULT_METRICS = ("sap:dlib", "mig:binned", "mig:chen", "dci:dlib", "active_units:0.01")
"""What :func:`deep.evaluate.evaluate` computes unless told otherwise: paper 000's conventions
first (so its ``mig`` and ``sap`` are disentanglement_lib's), the posterior MIG of [chen2018]
beside them, disentanglement_lib's DCI and active units at 0.01."""


def variant(spec: str) -> Variant:
    """The :class:`Variant` of ``spec`` = ``metric`` or ``metric:name``; ValueError naming the choices."""
    metric, _, name = str(spec).partition(":")
    if metric not in DEFAULT_VARIANT:
        raise ValueError(f"metric {spec!r} is unknown; metrics: {', '.join(DEFAULT_VARIANT)}")
    name = name or DEFAULT_VARIANT[metric]
    if f"{metric}:{name}" in VARIANTS:
        return VARIANTS[f"{metric}:{name}"]
    if metric == "active_units":
        try:
            threshold = validation.nonnegative("active_units threshold", float(name))
        except ValueError as err:
            raise ValueError(f"{spec!r}: the variant of active_units is its threshold, a number >= 0") from err
        base = VARIANTS["active_units:0.01"]
        return Variant("active_units", f"{threshold:g}", base.source, f"latents with Var_x E[z_i|x] > {threshold:g}")
    key = f"{metric}:{name}"
    if key not in VARIANTS:
        names = [v.name for v in VARIANTS.values() if v.metric == metric]
        near = get_close_matches(name, names, n=1)
        raise ValueError(f"{metric} has no variant {name!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                         + f"; variants: {', '.join(names)}")
    return VARIANTS[key]


def _name(metric: str, spec: str) -> str:
    v = variant(spec if ":" in str(spec) else f"{metric}:{spec}")
    if v.metric != metric:
        raise ValueError(f"variant {spec!r} is not a variant of {metric}")
    return v.name


# ------------------------------------------------------------------------------ helpers


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
            if kx == 1 or ky == 1:
                continue  # exactly 0 for a constant column (0/0 = NaN in MIG's gap, as mig.py)
            joint = np.bincount(x * ky + y, minlength=kx * ky).reshape(kx, ky) / n
            py = joint.sum(0)
            nz = joint > 0
            mi[i, j] = np.sum(joint[nz] * np.log(joint[nz] / np.outer(px, py)[nz]))
    return np.maximum(mi, 0.0)  # >= 0; rounding aside (scikit-learn's mutual_info_score clips the same way)


def _gap(information, entropy) -> np.ndarray:
    """Per factor (I_top - I_second) / H  # eq. (11) of [mi_collapse]; 0/0 = NaN for a constant factor, as mig.py."""
    top = np.sort(information, axis=0)[::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (top[0] - top[1]) / entropy


# ------------------------------------------------------------------------------ MIG


def _log_mixture(z, mu, sd, chunk: int) -> np.ndarray:
    """log (1/N) sum_n N(z_sj; mu_nj, sd_nj^2) per draw s and dimension j: (S, m)."""
    log_norm = -np.log(sd) - 0.5 * np.log(2 * np.pi)
    out = np.empty(z.shape)
    for start in range(0, len(z), chunk):
        u = (z[start:start + chunk, None, :] - mu[None]) / sd[None]
        out[start:start + chunk] = logsumexp(log_norm[None] - 0.5 * u * u, axis=1)
    return out - np.log(len(mu))


def posterior_information(mu, noise_std, labels, *, samples: int = 10_000, seed: int = 0, chunk: int = 32) -> dict:
    """I(z_i; v_j) of the sampled latent z ~ N(mu(x), diag noise_std(x)^2) with discrete factors: [chen2018]'s estimator.

    One draw z_n ~ q(z|x_n) per point; ``samples`` of them (all when fewer) are scored as
    log q(z_i|v_j) - log q(z_i), where q(z_i) is the mixture of the N posteriors and
    q(z_i|v_j) that of the points sharing the draw's value of v_j. The mean is
    H(z_i) - H(z_i|v_j) of [chen2018]'s disentanglement_metrics.py, whose H(z_i|v_j) weights
    the values equally on the full dSprites grid; here it is stratified by the drawn
    points, so a representation whose posteriors do not depend on x scores exactly 0.

    Returns
    -------
    dict
        ``information`` (m x K, nats, clamped at 0 as mi_metric.py), ``stderr`` (m x K, of
        the mean before clamping), ``samples``.
    """
    mu = validation.finite_array("mu", mu, ndim=2)
    sd = validation.array_in("noise_std", np.broadcast_to(noise_std, mu.shape), 0.0)
    labels = np.asarray(labels)
    if labels.ndim != 2 or len(labels) != len(mu):
        raise ValueError(f"labels must be 2-D with one row per code ({len(mu)}); got shape {labels.shape}")
    samples = validation.positive_int("samples", samples)
    n = len(mu)
    rng = np.random.default_rng(seed)
    z = mu + sd * rng.standard_normal(mu.shape)
    drawn = np.sort(rng.permutation(n)[:samples])
    log_q = _log_mixture(z[drawn], mu, sd, chunk)
    info, stderr = np.zeros((mu.shape[1], labels.shape[1])), np.zeros((mu.shape[1], labels.shape[1]))
    for j, column in enumerate(labels.T):
        terms = np.empty_like(log_q)
        for value in np.unique(column[drawn]):
            rows, mine = column == value, column[drawn] == value
            terms[mine] = _log_mixture(z[drawn[mine]], mu[rows], sd[rows], chunk) - log_q[mine]
        info[:, j] = terms.mean(0)
        stderr[:, j] = terms.std(0, ddof=1) / np.sqrt(len(terms)) if len(terms) > 1 else np.inf
    return {"information": np.maximum(info, 0.0), "stderr": stderr, "samples": len(drawn)}


def _binned_slack(code_labels, factor_labels) -> np.ndarray:
    """(df + 4 sqrt(2 df)) / 2N, df = (A - 1)(B - 1) occupied cells: the plug-in MI of independent
    variables plus 4 standard deviations (2N I ~ chi^2_df)."""
    a = np.array([len(np.unique(c)) for c in np.asarray(code_labels).T])
    b = np.array([len(np.unique(c)) for c in np.asarray(factor_labels).T])
    df = np.outer(a - 1, b - 1)
    return (df + 4 * np.sqrt(2 * df)) / (2 * len(code_labels))


def mig(codes=None, factors=None, *, variant: str = "binned", noise_std=None, covariances=None, bins: int = 20,
        discretize_factors: bool = False, samples: int = 10_000, seed: int = 0) -> dict:
    """Mutual Information Gap (eq. 11 of [mi_collapse]) in one of its variants.

    Parameters
    ----------
    codes : (N, m) array, m >= 2
        Posterior means (``binned``, ``chen``); None for ``exact``.
    factors : (N, K) array
        Discrete factor classes, or continuous values with ``discretize_factors``
        (``binned``); None for ``exact``.
    variant : {"binned", "chen", "exact"}
        ``binned``: disentanglement_lib's 20-bin histogram of the means. ``chen``: the
        posterior estimator of [chen2018] (:func:`posterior_information`), needs
        ``noise_std``. ``exact``: eq. (11) with the Gaussian closed forms, needs
        ``covariances``.
    noise_std : (N, m) array or broadcastable
        ``chen``: the standard deviations of the sampled latent (sigma, or sigma^lambda).
    covariances : (Sigma_x, Sigma_xv, Sigma_v)
        ``exact``: the covariances of eq. (4) of a linear-Gaussian code.
    bins : int
        ``binned``: histogram bins per code (and per factor when discretised); 20 in disentanglement_lib.
    discretize_factors : bool
        ``binned``: discretise the factors with the same histogram rule as the codes.
    samples, seed : int
        ``chen``: the draws scored and their seed.

    Returns
    -------
    dict
        ``score`` (mean of ``per_factor``; NaN when a factor is constant, as mig.py),
        ``per_factor``, ``mutual_information`` (m x K, nats), ``entropy`` (K, nats),
        ``variant``; ``information_slack`` (m x K, nats: how far the estimate of a pair
        with the given true information may exceed it: 4 sd of the plug-in MI of
        independent variables for ``binned``, 4 standard errors for ``chen``, 0 for
        ``exact``).

    References
    ----------
    [chen2018]; disentanglement_lib mig.py [locatello2019]; [mi_collapse] eq. (11).
    """
    variant = _name("mig", variant)
    if variant == "exact":
        if codes is not None or factors is not None or covariances is None:
            raise ValueError("mig(variant='exact') takes covariances=(Sigma_x, Sigma_xv, Sigma_v) and no codes or factors")
        S = lgv.squared_correlations(*covariances)
        if S.shape[-2] < 2:
            raise ValueError(f"codes must have at least 2 columns; got {S.shape[-2]}")
        info, entropy = lgv.pairwise_mutual_information(S), lgv.factor_entropy(covariances[2])
        return {"score": float(lgv.mig(S, covariances[2])), "per_factor": _gap(info, entropy),
                "mutual_information": info, "entropy": entropy, "variant": variant,
                "information_slack": np.zeros_like(info)}
    codes, factors = _codes_and_factors(codes, factors, min_codes=2)
    if variant == "binned":
        labels = histogram_discretize(factors, bins) if discretize_factors else factors
        code_labels = histogram_discretize(codes, bins)
        info, slack = discrete_mutual_information(code_labels, labels), _binned_slack(code_labels, labels)
    else:
        if noise_std is None:
            raise ValueError("mig(variant='chen') needs noise_std, the posterior standard deviations")
        labels = factors
        est = posterior_information(codes, noise_std, labels, samples=samples, seed=seed)
        info, slack = est["information"], 4 * est["stderr"]
    entropy = discrete_entropy(labels)
    per_factor = _gap(info, entropy)
    return {"score": float(np.mean(per_factor)), "per_factor": per_factor, "mutual_information": info,
            "entropy": entropy, "variant": variant, "information_slack": slack}


# ------------------------------------------------------------------------------ SAP


SAP_VARIANCE_FLOOR = 1e-12  # disentanglement_lib sap_score.py: a latent with var_mu <= 1e-12 scores 0


def squared_correlations(codes, factors, *, variance_floor: float | None = None) -> np.ndarray:
    """Sample squared correlations S_ij of code i and factor j (eq. 9 of [mi_collapse]).

    ``variance_floor`` None: 0 for a constant column. A number (disentanglement_lib's
    1e-12): 0 for a code of sample variance <= it, NaN for a constant factor otherwise
    (sap_score.py divides 0 by 0 there).
    """
    codes, factors = _codes_and_factors(codes, factors)
    zc, vc = codes - codes.mean(0), factors - factors.mean(0)
    cov = zc.T @ vc / (len(codes) - 1)
    var_z, var_v = zc.var(0, ddof=1), vc.var(0, ddof=1)
    if variance_floor is None:
        live = np.outer(np.ptp(codes, axis=0) > 0, np.ptp(factors, axis=0) > 0)
        return np.where(live, cov ** 2 / np.where(live, np.outer(var_z, var_v), 1.0), 0.0)
    constant = np.ptp(factors, axis=0) == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        S = np.where(constant[None, :], np.nan, cov ** 2 / np.outer(var_z, var_v))
    return np.where((var_z <= variance_floor)[:, None], 0.0, S)


def _split(n: int, seed: int, test_fraction: float):
    test_fraction = validation.array_in("test_fraction", test_fraction, 0.0, 1.0)
    perm = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(test_fraction * n)))
    if n_test >= n:
        raise ValueError(f"test_fraction {test_fraction} leaves no training rows of {n}")
    return perm[n_test:], perm[:n_test]


def _logistic_accuracy(x_train, y_train, x_test, y_test) -> float:
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


def _svc_accuracy(x_train, y_train, x_test, y_test) -> float:
    """Test accuracy of disentanglement_lib's LinearSVC(C=0.01, class_weight="balanced") on one raw
    feature; NaN for a constant factor (where scikit-learn refuses to fit one class)."""
    from sklearn.svm import LinearSVC

    if len(np.unique(y_train)) < 2:
        return float("nan")
    clf = LinearSVC(C=0.01, class_weight="balanced")  # sap_score.py of [locatello2019]
    clf.fit(x_train[:, None], y_train)
    return float(np.mean(clf.predict(x_test[:, None]) == y_test))


def fano_information(accuracy, labels, n_test: int) -> float:
    """A lower bound (nats) on I(code; factor) implied by a classifier's test ``accuracy`` (Fano's inequality).

    I >= H(v) - h(P_e) - P_e log(K - 1) for any prediction made from the code, with
    H(v) and K the plug-in entropy and the class count of ``labels``. P_e is taken as
    the test error plus 4 binomial standard errors (capped at chance, (K - 1)/K, where
    the bound is 0), so the bound holds with room for the test set's sampling error.
    """
    labels = np.asarray(labels)
    k = len(np.unique(labels))
    if k < 2 or not np.isfinite(accuracy):
        return float("nan") if not np.isfinite(accuracy) else 0.0
    h_v = float(discrete_entropy(labels[:, None])[0])
    pe = min(1 - accuracy + 4 * np.sqrt(max(accuracy * (1 - accuracy), 0.0) / n_test), (k - 1) / k)
    h_pe = 0.0 if pe <= 0 else -(pe * np.log(pe) + (1 - pe) * np.log1p(-pe))
    return float(max(0.0, h_v - h_pe - pe * np.log(k - 1)))


def sap(codes, factors, discrete, *, variant: str = "dlib", seed: int = 0, test_fraction: float | None = None) -> dict:
    """Separated Attribute Predictability (eq. 10 of [mi_collapse]) in one of its variants.

    Parameters
    ----------
    codes : (N, m) array, m >= 2
    factors : (N, K) array
        Values (continuous factors) or classes (categorical factors).
    discrete : sequence of K bools
        Categorical factors: score = test accuracy of a one-feature classifier trained on a
        ``1 - test_fraction`` split (``dlib``: LinearSVC(C=0.01, class_weight="balanced")
        on the raw latent; ``logistic``: multinomial logistic regression on the
        standardised latent). Continuous factors: score = squared correlation on all
        rows (eq. 9; ``dlib`` scores a latent of variance <= 1e-12 as 0).
    variant : {"dlib", "logistic"}
    seed : int
        The train/test split.
    test_fraction : float or None
        None: 1/3 for ``dlib`` (its num_test 5000 of 15000 rows), 1/2 for ``logistic``.

    Returns
    -------
    dict
        ``score`` (NaN under ``dlib`` when some factor is constant), ``per_factor`` (K,),
        ``matrix`` (m x K scores), ``variant``, ``test_fraction``, ``fano_information``
        (m x K: the information each test accuracy implies, :func:`fano_information`;
        NaN for continuous factors).

    References
    ----------
    [kumar2018]; disentanglement_lib sap_score.py [locatello2019]; [mi_collapse] eq. (9)-(10).
    """
    variant = _name("sap", variant)
    codes, factors = _codes_and_factors(codes, factors, min_codes=2)
    discrete = np.asarray(discrete, dtype=bool)
    if discrete.shape != (factors.shape[1],):
        raise ValueError(f"discrete must have one flag per factor ({factors.shape[1]}); got {discrete.shape}")
    dlib = variant == "dlib"
    if test_fraction is None:
        test_fraction = 1 / 3 if dlib else 0.5
    matrix = np.zeros((codes.shape[1], factors.shape[1]))
    fano = np.full(matrix.shape, np.nan)
    cont = ~discrete
    if cont.any():
        matrix[:, cont] = squared_correlations(codes, factors[:, cont], variance_floor=SAP_VARIANCE_FLOOR if dlib else None)
    if discrete.any():
        train, test = _split(len(codes), seed, test_fraction)
        accuracy = _svc_accuracy if dlib else _logistic_accuracy
        for j in np.flatnonzero(discrete):
            for i in range(codes.shape[1]):
                matrix[i, j] = accuracy(codes[train, i], factors[train, j], codes[test, i], factors[test, j])
                fano[i, j] = fano_information(matrix[i, j], factors[test, j], len(test))
    top = np.sort(matrix, axis=0)  # NaN sorts last: a constant factor's gap is NaN, as in sap_score.py
    per_factor = top[-1] - top[-2]
    return {"score": float(np.mean(per_factor)), "per_factor": per_factor, "matrix": matrix, "variant": variant,
            "test_fraction": float(test_fraction), "fano_information": fano}


# ------------------------------------------------------------------------------ LIM


def gaussian_fit(codes, noise_var, factors) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Sigma_x, Sigma_xv, Sigma_v) of the sampled latent z = mu + noise and independent factors, from a sample.

    Sigma_x = Cov(mu) + diag E[noise_var] (the noise is independent of x), Sigma_xv =
    Cov(mu, v), Sigma_v = diag Var(v): the linear-Gaussian model of eq. (4) of
    [mi_collapse] with the sample's second moments.
    """
    codes, factors = _codes_and_factors(codes, factors)
    noise_var = validation.array_in("noise_var", np.broadcast_to(noise_var, codes.shape), 0.0, closed="low")
    joint = np.cov(np.hstack([codes, factors]).T, ddof=1)
    m = codes.shape[1]
    Sigma_x = joint[:m, :m] + np.diag(noise_var.mean(0))
    return Sigma_x, joint[:m, m:], np.diag(np.diag(joint[m:, m:]))


def lim(codes=None, factors=None, *, variant: str = "partition", noise_var=None, covariances=None) -> dict:
    """Latent Informativeness Metric (eq. 12 of [mi_collapse]), nats, in one of its variants.

    Parameters
    ----------
    codes, factors : (N, m), (N, s) arrays or None
        Posterior means and continuous factor values, read through :func:`gaussian_fit`
        with ``noise_var``; or None with ``covariances``.
    variant : {"partition", "assignment"}
        ``partition``: the maximum over partitions that eq. (12) defines; ``assignment``:
        one factor per latent, the paper's stated reduction (needs s <= m).
    noise_var : (N, m) array or broadcastable
        The variances of the sampled latent around mu.
    covariances : (Sigma_x, Sigma_xv, Sigma_v)
        Exact covariances of a linear-Gaussian code (Sigma_v diagonal).

    Returns
    -------
    dict
        ``score`` (nats), ``variant``.

    References
    ----------
    [mi_collapse] eq. (12); numerics.linear_gaussian_vae.lim.
    """
    variant = _name("lim", variant)
    if covariances is None:
        if codes is None or factors is None or noise_var is None:
            raise ValueError("lim takes covariances=(Sigma_x, Sigma_xv, Sigma_v), or codes, factors and noise_var")
        covariances = gaussian_fit(codes, noise_var, factors)
    elif codes is not None or factors is not None:
        raise ValueError("lim takes either covariances or codes and factors, not both")
    return {"score": float(lgv.lim(*covariances, method=variant)), "variant": variant}


# ------------------------------------------------------------------------------ DCI, active units


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
    """Disentanglement, completeness and informativeness [eastwood2018] from gradient-boosted trees (variant ``dlib``).

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
        ``importance`` (m x K), ``per_code``, ``per_factor``, ``variant``.

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
    return {**dci_scores(importance), "informativeness": float(accuracy.mean()), "importance": importance,
            "variant": "dlib"}


def active_units(mu, threshold: float = 0.01) -> dict:
    """Dimensions with Cov_x(E[z_i|x]) = Var_x(mu_i) > ``threshold`` [burda2015]; ``count``, ``variance`` (m,), ``variant``."""
    mu = validation.finite_array("mu", mu, ndim=2)
    threshold = validation.nonnegative("threshold", threshold)
    variance = mu.var(0, ddof=1)
    return {"count": int(np.sum(variance > threshold)), "variance": variance, "variant": f"{threshold:g}"}


# ------------------------------------------------------------------------------ information budget


def information_budget(kl_per_dim, reads: dict) -> dict:
    """Per latent, the information each estimator reads against the KL the model pays for that latent.

    For the sampled latent z_i, I(z_i; v_j) <= I(z_i; x) <= E_x KL(q(z_i|x) || p(z_i))
    (data processing v -> x -> z_i; I(z_i; x) = E_x KL(q(z_i|x) || q(z_i)) and
    E_x KL(q(z_i|x) || p) = I(z_i; x) + KL(q(z_i) || p)). An estimate above that budget
    reads information the latent channel does not carry: the binned MI of the means, for
    example, sees variations of mu(x) far below the posterior noise.

    Parameters
    ----------
    kl_per_dim : (m,) array
        E_x KL(q(z_i|x) || p(z_i)) of the sampled latent, nats.
    reads : dict
        ``{spec: (information, slack)}``: the (m x K) information an estimator reads
        (NaN where it reads none) and how far its estimate may exceed the truth (nats).

    Returns
    -------
    dict (JSON-able)
        ``kl_per_dim``; per spec under ``estimators``: ``information`` (m,: the most the
        estimator reads from each latent, over factors), ``excess`` (m,: that minus its
        slack minus the KL), ``flagged`` (latents with excess > 0); ``flagged`` (the specs
        with a flagged latent).
    """
    kl = validation.finite_array("kl_per_dim", kl_per_dim, ndim=1)
    out, flagged = {}, []
    for spec, (information, slack) in reads.items():
        information = np.asarray(information, dtype=float)
        if information.shape[0] != len(kl):
            raise ValueError(f"{spec}: information must have one row per latent ({len(kl)}); got {information.shape}")
        with np.errstate(invalid="ignore"):
            lower = information - np.broadcast_to(slack, information.shape)
        read = np.where(np.isnan(information), -np.inf, information).max(1)
        excess = np.where(np.isnan(lower), -np.inf, lower).max(1) - kl
        bad = [int(i) for i in np.flatnonzero(excess > 0)]
        out[spec] = {"information": np.where(np.isfinite(read), read, np.nan),
                     "excess": np.where(np.isfinite(excess), excess, np.nan), "flagged": bad}
        if bad:
            flagged.append(spec)
    return {"kl_per_dim": kl, "estimators": out, "flagged": flagged}


# ------------------------------------------------------------------------------ capacities and information


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


def decoder_gradient(model, x, z):
    """Per-sample gradients d log p(x|z) / d z, a tensor (N, m) (eq. 18 and 19 of [lambda_vae]).

    Each sample's log-likelihood depends on its own z only, so one backward pass of the
    batch sum gives every per-sample gradient. (torch is imported here, so that the
    metric variants can be listed without it.)
    """
    import torch

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
