"""The linear-Gaussian beta-VAE and lambda-beta-VAE of [mi_collapse].

Model (eq. 1-3): y = Gamma v + noise, Sigma_y = Gamma Sigma_v Gamma^T + sigma^2 I_n;
encoder x = B y + w, w ~ N(0, Sigma_w); decoder y_hat = A x + z, z ~ N(0, Sigma_z);
prior x ~ N(0, I_m). Objective L_{lambda beta} = eq. (6) + lambda eq. (8).

model      the objective, its gradients, the block updates (Lemmas 3.1, 4.1), the collapse
           thresholds, the closed-form fixed point, the generative model of Fig. 2-3
algorithm  Algorithm 1 (``alternating``), vectorised over initialisations; ``alternating_grid`` for
           many (beta, lambda) cells, through the compiled ``kernel`` (numba) when installed
optimizer  AdamW on log-Cholesky factors (§5.1): the gradient-only route to the same points
metrics    latent-factor covariances, squared correlations, SAP, MIG, LIM, I(x; v)
phase      the phase-diagram driver of Fig. 2-3

The public names of the submodules are re-exported here: callers write
``from numerics import linear_gaussian_vae as lgv; lgv.alternating(...)`` whichever
submodule defines the name.

References
----------
[mi_collapse] "Mutual Information Collapse Explains Disentanglement Failure in
    beta-VAEs", shared/papers/000_6e757ef8f718962b.txt.
"""
from numerics.linear_gaussian_vae.algorithm import (ENGINES, SIGMA_W_FLOOR, AlternatingResult, alternating,
                                                    alternating_grid, compiled_available, random_initialisation)
from numerics.linear_gaussian_vae.metrics import (factor_entropy, latent_factor_covariances, lim, mig,
                                                  mutual_information, pairwise_mutual_information, sap,
                                                  squared_correlations)
from numerics.linear_gaussian_vae.model import (FixedPoint, collapse_threshold, converges_to_stationary_point,
                                                decoder_update, encoder_update, figure_model, fixed_point, gradients,
                                                mode_thresholds, objective, terms, trivial_point_index)
from numerics.linear_gaussian_vae.optimizer import AdamResult, adam
from numerics.linear_gaussian_vae.phase import PHASE_METRICS, phase_diagram, sublinear_limits

__all__ = ["AdamResult", "AlternatingResult", "ENGINES", "FixedPoint", "PHASE_METRICS", "SIGMA_W_FLOOR", "adam",
           "alternating", "alternating_grid", "compiled_available",
           "collapse_threshold", "converges_to_stationary_point", "decoder_update", "encoder_update",
           "factor_entropy", "figure_model", "fixed_point", "gradients", "latent_factor_covariances", "lim", "mig",
           "mode_thresholds", "mutual_information", "objective", "pairwise_mutual_information", "phase_diagram",
           "random_initialisation", "sap", "squared_correlations", "sublinear_limits", "terms", "trivial_point_index"]
