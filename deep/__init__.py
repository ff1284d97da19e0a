"""VAEs trained on data with known generative factors (PyTorch; nothing outside deep/ imports torch).

config      strict frozen configurations from mappings (unknown keys name the closest ones), UserError
io          every write: atomic text/JSON (gzip by suffix), CSV tables, matplotlib set-up and PNG figures
data        procedural dSprites and Shapes3D (64 px, or block means at 32/16/8 held in memory), the real
            .npz/.h5 files, digits; the batch stream
models      the conv encoder/decoder of Table 1 of [mi_collapse], an MLP, Bernoulli/Gaussian likelihoods
objectives  beta-VAE, lambda-beta-VAE and lambda-VAE as parameters of one loss
runs        a run's device, noise stream and (data, model, objective); its folder: verified
            checkpoints (the last two kept), a lock per run folder, JSONL logs
train       the one training loop (resumes exactly, divergence stops, CPU or CUDA, optional held-out
            convergence criterion); RunConfig
preregistration  the pre-registered reduced-size criteria (deep/preregistered/*.toml): power, seeds,
            compute, their run configs at reduced and paper scale
sweep       grids of runs through a concurrent.futures executor (process pool or Dask)
experiment  the one protocol of every experiment (config, plan, run, summarise) and its resumable driver
confirmation  training runs as the runs of an experiment; statistics across seeds
provenance  commit, dirty flag, versions, device, seeds and scale of a stored result
ensemble    runs trained side by side as one stacked model
metrics     MIG, SAP, DCI, active units, SNR and decoder capacity
evaluate    every metric of a trained model or a checkpoint
gpu_report  the accelerator checks in one resumable script (throughput, stacking, precision, a grid slice)
"""
