"""The analytically tractable β-VAE of [optimal_beta] (§IV.B and Appendix B), solved.

Data x = A s + η with s ~ N(0, I_k), η ~ N(0, I_N) (eq. 17), so x ~ N(0, Σ_x) with
Σ_x = A Aᵀ + I_N (eq. 18). Encoder q(z|x) = N(W_μ x + b_μ, diag exp(W_σ x + b_σ))
(eq. 20); decoder p(x|z) = N(D z + b_D, I_N) (σ_y = 1); prior p(z) = N(0, I_k).

Every expectation over x is exact (Gaussian moments and the lognormal mean
E exp(wᵀx) = exp(wᵀΣ_x w / 2)), and every quantity is in nats with all constants: the
paper's eq. (21) drops the additive constant -N/2 log 2π + βk/2.

model        parameters, the objective and its terms, the gradient, log-likelihood, MIE and TIE
             at any network
optimum      the global maximisers in closed form and their signed relabellings
phase        the optimum's quantities over a β grid (Fig. 1); the minimiser over β
relabelling  the TIE of any diagonal Gaussian encoder under every relabelling (§V), from its
             data averages (exact, or sample means of a trained network)

Everything private is written for arrays with leading batch axes, so a sweep over β and
over the equivalent optima is a handful of numpy calls. The public names of the
submodules are re-exported here: callers write
``from numerics import tractable_beta_vae as t; t.optimum(...)`` whichever submodule defines the name.

References
----------
[optimal_beta] "β-VAE with a finite optimal β" (paper 003),
    shared/papers/003_a1eafab620a812b7.txt.
"""
from numerics.tractable_beta_vae.model import (LOG_2PI, Parameters, Quantities, Sigma_x, check_mixing,
                                               check_parameters, gradient, log_likelihood, mie, objective,
                                               paper_mixing, posterior, quantities, terms, tie)
from numerics.tractable_beta_vae.optimum import (encoder_optimum, number_of_optima, optima, optimum, relabel,
                                                 signed_permutations)
from numerics.tractable_beta_vae.phase import Sweep, minimise_over_beta, sweep
from numerics.tractable_beta_vae.relabelling import (EncoderMoments, best_relabelling, encoder_moments, latent_kl,
                                                     mean_relabelled_tie, relabelled_tie, sample_moments)

__all__ = ["LOG_2PI", "EncoderMoments", "Parameters", "Quantities", "Sigma_x", "Sweep", "best_relabelling",
           "check_mixing", "check_parameters", "encoder_moments", "encoder_optimum", "gradient", "latent_kl",
           "log_likelihood", "mean_relabelled_tie", "mie", "minimise_over_beta", "number_of_optima", "objective",
           "optima", "optimum", "paper_mixing", "posterior", "quantities", "relabel", "relabelled_tie",
           "sample_moments", "signed_permutations", "sweep", "terms", "tie"]
