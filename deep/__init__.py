"""VAEs trained on data with known generative factors (PyTorch; nothing outside deep/ imports torch).

data        procedural dSprites and Shapes3D, the real .npz/.h5 files, digits; the batch stream
models      the conv encoder/decoder of Table 1 of [mi_collapse], an MLP, Bernoulli/Gaussian likelihoods
objectives  beta-VAE, lambda-beta-VAE and lambda-VAE as parameters of one loss
train       the one training loop (checkpoints that resume exactly, JSONL logs, CPU or CUDA)
metrics     MIG, SAP, DCI, active units, SNR and decoder capacity
evaluate    every metric of a trained model or a checkpoint
gpu_report  a short CUDA run of each objective -> results/deep_gpu.json
"""
