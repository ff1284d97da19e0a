"""Many VAEs trained side by side in one process: a grid of runs as one stacked, vmapped model.

N runs that share the data, the architecture, the batch size, the learning rate and the
number of steps, but each with its own seed and objective (beta, l2_weight and N1 of the
lambda-beta-VAE, the lambda schedule, KL warm-up), are trained as one:
:func:`torch.func.stack_module_state` stacks their parameters along a new leading axis,
``vmap(functional_call)`` evaluates every model on its own batch with
:func:`deep.objectives.loss_terms` (beta, l2_weight and the exponents enter as per-model
tensors), and one Adam over the stacked tensors updates them all (Adam acts element by
element, so it is N independent Adams). Member k sees exactly the batches and the
noise that :func:`deep.train.fit` gives a run with its seed, so a member trained side by
side equals the run trained alone, up to float rounding: the stacked convolutions run as
grouped convolutions, which sum in another order (``tests/test_deep_ensemble.py``).

On a GPU one Table-1 model at batch 64 leaves the device mostly idle; a stack of tens of
models fills it (``benchmarks/bench_deep_ensemble.py``). There ``amp`` (bfloat16
autocast), ``tf32`` (TensorFloat-32 matmuls and convolutions) and ``compile``
(:func:`torch.compile` of the vmapped loss) apply; on one CPU thread the stack is slower
than the same models stepped one at a time (that time / the stack's: 0.4-0.8 for N = 1-80,
``benchmarks/bench_deep_ensemble.py``). Channels-last layouts do not apply: under vmap a stack's
convolutions are grouped convolutions over the models' channels, and torch 2.13 refuses
memory formats inside vmap ("NYI: querying is_contiguous inside of vmap").

:func:`train_side_by_side` checkpoints the whole stack atomically (``pack.pt`` in
``pack_dir``) and resumes from it exactly; when the last step is done it writes every
member's run directory as :func:`deep.train.train` would (``config.json``,
``checkpoint.pt`` with the member's own parameters and Adam moments, ``log.jsonl``,
``metrics.json``), so ``collapse evaluate`` and resumption with ``deep.train.fit`` work
on a member as on any run.

References
----------
[mi_collapse] shared/papers/000_6e757ef8f718962b.txt, §5.2 Table 2 (the grid: 8 beta x 5
    lambda x 10 seeds).
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from deep.config import UserError, writable_dir
from deep.data import FactorData, batch_indices, build_data
from deep.objectives import loss_terms
from deep import io
from deep.runs import (CONFIG, LOG, _resume_state, _truncate_log, append_log, build, load_checkpoint,
                       log_line, resolve_device, run_lock, save_checkpoint, step_generator)
from deep.train import Diverged, RunConfig, _diverged, _same_run, write_metrics
from numerics import validation

PACK = "pack.pt"
SHARED = ("data", "model", "steps", "batch_size", "lr", "checkpoint_every", "log_every")
"""Config keys that every member of a pack must share."""


class _Loss(nn.Module):
    """The loss of one member as a module, so that ``functional_call`` can swap in its parameters."""

    def __init__(self, vae: nn.Module):
        super().__init__()
        self.vae = vae

    def forward(self, x, eps, exponent, beta, l2_weight):
        return loss_terms(self.vae, x, eps, exponent, beta, l2_weight)


class Stack:
    """N models of one architecture as stacked parameters, trained together by one Adam.

    ``step(x, eps, exponent, beta, l2_weight)`` takes every argument with a leading
    axis of N (member k gets row k) and returns the N losses and the stacked parts of
    :func:`deep.objectives.loss_terms`.
    """

    def __init__(self, models: list, lr: float, *, amp: bool = False, compile: bool = False):
        from torch.func import functional_call, stack_module_state, vmap

        self.params, self.buffers = stack_module_state(models)
        self.optimizer = torch.optim.Adam(list(self.params.values()), lr=lr)
        self.amp, self.device_type = amp, next(iter(self.params.values())).device.type
        skeleton = _Loss(copy.deepcopy(models[0]).to("meta"))

        def one(p, b, x, eps, exponent, beta, l2_weight):
            named = ({f"vae.{k}": v for k, v in p.items()}, {f"vae.{k}": v for k, v in b.items()})
            return functional_call(skeleton, named, (x, eps, exponent, beta, l2_weight))
        self._loss = torch.compile(vmap(one)) if compile else vmap(one)

    def step(self, x, eps, exponent, beta, l2_weight):
        """One Adam step of every member; :class:`NonFinite` (before the update) when a member's
        loss or gradient is not finite."""
        with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.amp):
            loss, parts = self._loss(self.params, self.buffers, x, eps, exponent, beta, l2_weight)
        self.optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        grads = {name: p.grad for name, p in self.params.items() if p.grad is not None}
        finite = torch.isfinite(loss) & torch.stack([torch.isfinite(g).flatten(1).all(1) for g in grads.values()]).all(0)
        if not bool(finite.all()):  # one host sync per step
            k = int((~finite).nonzero()[0, 0])
            if not torch.isfinite(loss[k]):
                bad = {n: float(parts[n][k].sum()) for n in ("nll", "kl", "l2")}
                what = (f"the loss is {float(loss[k].detach()):g} ("
                        + ", ".join(f"{n} {v:g}" for n, v in bad.items()) + ")")
            else:
                name = next(n for n, g in grads.items() if not torch.isfinite(g[k]).all())
                what = f"the gradient of {name} is not finite"
            raise NonFinite(k, what)
        self.optimizer.step()
        return loss.detach(), parts

    def copy_to(self, models: list) -> None:
        """Write member k's parameters and buffers into ``models[k]``."""
        with torch.no_grad():
            for k, model in enumerate(models):
                for name, p in model.named_parameters():
                    p.copy_(self.params[name][k])
                for name, b in model.named_buffers():
                    b.copy_(self.buffers[name][k])

    def state_dict(self) -> dict:
        return {"params": self.params, "buffers": self.buffers, "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            for name, value in state["params"].items():
                self.params[name].copy_(value)
            for name, value in state["buffers"].items():
                self.buffers[name].copy_(value)
        self.optimizer.load_state_dict(state["optimizer"])


class NonFinite(Exception):
    """Member ``member`` of a :class:`Stack` met a non-finite loss or gradient (``what``); nothing was updated."""

    def __init__(self, member: int, what: str):
        super().__init__(f"member {member}: {what}")
        self.member, self.what = member, what


class BatchStack(torch.utils.data.IterableDataset):
    """Steps ``start`` ... ``stop - 1`` as ``(step, x)`` with x of shape (S, B, ...): batch t of each seed.

    Row s is ``data.observations(batch_indices(len(data), batch_size, seeds[s], t))``, the
    batch :func:`deep.train.fit` draws with that seed. Workers share steps round-robin
    as in :class:`deep.data.BatchStream`.
    """

    def __init__(self, data: FactorData, batch_size: int, seeds, start: int, stop: int):
        self.data, self.batch_size, self.seeds = data, batch_size, tuple(seeds)
        self.start, self.stop = start, stop

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for step in range(self.start + worker, self.stop, workers):
            rows = [self.data.observations(batch_indices(len(self.data), self.batch_size, seed, step))
                    for seed in self.seeds]
            yield step, torch.from_numpy(np.stack(rows))


def pack_key(configs: list[dict]) -> str:
    """A short stable name for a pack of run configs (its checkpoint directory)."""
    text = json.dumps(configs, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _check_pack(configs: list[dict], run_dirs: list) -> None:
    if not configs:
        raise ValueError("configs must hold at least one run configuration")
    if len(configs) != len(run_dirs):
        raise ValueError(f"configs and run_dirs must have the same length; got {len(configs)} and {len(run_dirs)}")
    if len({str(Path(d).resolve()) for d in run_dirs}) != len(run_dirs):
        raise ValueError("run_dirs must be distinct directories")
    for k, config in enumerate(configs[1:], 1):
        differ = [key for key in SHARED if config.get(key) != configs[0].get(key)]
        if differ:
            raise ValueError(f"configs must share {', '.join(SHARED)} to train side by side; "
                             f"config {k} differs from config 0 in {', '.join(differ)}")


def _member_optimizer_state(state: dict, group: dict, k: int) -> dict:
    """Member k's Adam state_dict, sliced from the stack's (the layout torch.optim.Adam saves)."""
    sliced = {i: {name: (v if name == "step" else v[k]).clone() for name, v in s.items()}
              for i, s in state["state"].items()}
    return {"state": sliced, "param_groups": [{**group, "params": list(range(len(group["params"])))}]}


def _stack_optimizer_state(states: list[dict], template: dict) -> dict:
    """The stack's Adam state_dict from the members' (all at the same step)."""
    stacked = {}
    for i in states[0]["state"]:
        entry = states[0]["state"][i]
        stacked[i] = {name: (entry[name].clone() if name == "step" else
                             torch.stack([s["state"][i][name] for s in states])) for name in entry}
    return {"state": stacked, "param_groups": template["param_groups"]}


def train_side_by_side(configs: list[dict], run_dirs: list, *, pack_dir=None, device="auto",
                       amp: bool | None = None, tf32: bool | None = None, compile: bool = False, num_workers: int | None = None, threads: int | None = 1,
                       init_from: list | None = None, data: FactorData | None = None,
                       evaluate: bool = True, progress: bool = True) -> list[dict]:
    """Train the runs ``configs`` side by side; write each to its run directory as :func:`deep.train.train` does.

    Parameters
    ----------
    configs : list of dict
        Run configurations (:class:`deep.train.RunConfig` as dicts). They must share
        ``data``, ``model``, ``steps``, ``batch_size``, ``lr``, ``checkpoint_every`` and
        ``log_every``; ``seed`` (initialisation, batches, noise), ``objective`` and
        ``evaluation`` are per run.
    run_dirs : list of paths
        One directory per run, written when training ends.
    pack_dir : path or None
        Where the stack's checkpoint ``pack.pt`` lives while training (default
        ``<parent of run_dirs[0]>/.packs/<pack_key(configs)>``); an existing one is
        resumed, and it is removed once every member is written.
    device : "auto", "cpu", "cuda", ...
    amp : bool or None
        bfloat16 autocast; None: on for CUDA.
    tf32 : bool or None
        TensorFloat-32 matmuls and convolutions on CUDA; None: on for CUDA.
    compile : bool
        :func:`torch.compile` the vmapped loss.
    num_workers : int or None
        Loader processes rendering the batches; None: 0 on CPU, up to 8 on CUDA.
    threads : int or None
        ``torch.set_num_threads`` on CPU.
    init_from : list of paths (or None entries) or None
        Per run, a checkpoint to start from (the second phase of the two-phase protocol);
        all of them must be at the same step.
    data : FactorData or None
        The data set of ``configs[0]["data"]`` if already built.
    evaluate : bool
        Write ``metrics.json`` per run (else only the checkpoint, config and log).
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    list of dict
        Per run, its metrics (as :func:`deep.train.train` returns them) or, with
        ``evaluate=False``, the training summary.

    References
    ----------
    [mi_collapse] §5.2, Table 2.
    """
    configs = [RunConfig.from_dict(c).to_dict() for c in configs]  # strict, every default filled in
    if any(c["convergence"] is not None for c in configs):
        raise UserError("configs with a convergence criterion stop each run on its own; a pack trains every run for "
                        "the same steps: train them with deep.train.train")
    run_dirs = [Path(d) for d in run_dirs]
    _check_pack(configs, run_dirs)
    base = configs[0]
    steps = validation.positive_int("steps", base["steps"])
    batch_size = validation.positive_int("batch_size", base["batch_size"])
    lr = validation.positive("lr", base["lr"])
    checkpoint_every = validation.positive_int("checkpoint_every", base.get("checkpoint_every", 1000))
    log_every = validation.positive_int("log_every", base.get("log_every", 100))
    device = resolve_device(device) if isinstance(device, str) else device
    cuda = device.type == "cuda"
    amp = cuda if amp is None else bool(amp)
    tf32 = cuda if tf32 is None else bool(tf32)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    elif threads is not None:
        torch.set_num_threads(validation.positive_int("threads", threads))
    if num_workers is None:
        num_workers = 0 if not cuda else 8
    init_from = list(init_from) if init_from is not None else [None] * len(configs)
    if len(init_from) != len(configs):
        raise ValueError(f"init_from must have one entry per config; got {len(init_from)} for {len(configs)}")
    pack_dir = Path(pack_dir) if pack_dir is not None else run_dirs[0].parent / ".packs" / pack_key(configs)
    for k, run_dir in enumerate(run_dirs):
        writable_dir(run_dir, f"run_dirs[{k}]")
    writable_dir(pack_dir, "pack_dir")
    if any(path is not None for path in init_from):
        if any(path is None for path in init_from):
            raise ValueError("init_from must give a checkpoint for every run or for none")
        ckpts = [load_checkpoint(path, device, fallback=False) for path in init_from]
        if len({c["step"] for c in ckpts}) != 1:
            raise UserError(f"init_from checkpoints must be at the same step; got {[c['step'] for c in ckpts]}")
    else:
        ckpts = None
    data = build_data(base["data"]) if data is None else data
    members = [build(config, data) for config in configs]

    with contextlib.ExitStack() as locks:
        for run_dir in [*run_dirs, pack_dir]:
            locks.enter_context(run_lock(run_dir))
        for run_dir, config in zip(run_dirs, configs):  # a member's folder may hold an earlier run
            earlier = _resume_state(run_dir, device)
            if earlier is not None and (_same_run(earlier.get("config", {}), config) or earlier["step"] > steps):
                raise UserError(f"run_dir {run_dir} holds another run (step {earlier['step']}, "
                                f"{', '.join(_same_run(earlier.get('config', {}), config)) or 'more steps'} "
                                "differ); use another run_dir or the same configuration")
        return _side_by_side(configs, run_dirs, pack_dir, members, data, ckpts, init_from, device, cuda, amp, compile,
                             num_workers, steps, batch_size, lr, checkpoint_every, log_every, evaluate, progress)


def _side_by_side(configs, run_dirs, pack_dir, members, data, ckpts, init_from, device, cuda, amp, compile,
                  num_workers, steps, batch_size, lr, checkpoint_every, log_every, evaluate, progress):
    """The body of :func:`train_side_by_side`, with its arguments checked and its folders locked."""
    models = [model.to(device) for _, model, _ in members]
    objectives = [objective for _, _, objective in members]
    m = models[0].m
    seeds = [int(c.get("seed", 0)) for c in configs]
    unique_seeds = sorted(set(seeds))
    row = torch.tensor([unique_seeds.index(s) for s in seeds], device=device)

    start, sums, count = 0, {}, 0
    member_states = None  # optimiser states of the members, for a fresh start from init_from
    if ckpts is not None:
        for model, ckpt, config, path in zip(models, ckpts, configs, init_from):
            model.load_state_dict(ckpt["model"])
            config["init_from"] = {"path": str(path), "step": ckpt["step"]}
        start, member_states = ckpts[0]["step"], [c["optimizer"] for c in ckpts]

    stack = Stack(models, lr, amp=amp, compile=compile)
    if member_states is not None:
        stack.optimizer.load_state_dict(_stack_optimizer_state(member_states, stack.optimizer.state_dict()))
    saved = None  # the step of the pack's newest finite checkpoint
    if (pack_dir / PACK).exists():
        ckpt = load_checkpoint(pack_dir / PACK, device, fallback=False)
        differ = [k for k, (a, b) in enumerate(zip(ckpt["configs"], configs)) if _same_run(a, b)]
        if len(ckpt["configs"]) != len(configs) or differ:
            raise UserError(f"pack_dir {pack_dir} holds another pack (runs {differ} differ); "
                            "use another pack_dir or the same configurations")
        stack.load_state_dict(ckpt)
        for objective, state in zip(objectives, ckpt["objectives"]):
            objective.load_state_dict(state)
        start, count = ckpt["step"], ckpt["log_count"]
        saved = start
        sums = {k: torch.tensor(v, device=device) for k, v in ckpt["log_sums"].items()}
        configs = ckpt["configs"]
    for run_dir, config in zip(run_dirs, configs):
        _truncate_log(run_dir / LOG, start)
        io.write_json(run_dir / CONFIG, config, indent=1)

    def save(step):
        for k, run_dir in enumerate(run_dirs):
            for name, value in stack.params.items():
                if not torch.isfinite(value[k]).all():
                    raise Diverged(_diverged(step, f"parameter {name} is not finite after the update", run_dir,
                                             saved))
        save_checkpoint(pack_dir, {"step": step, **stack.state_dict(),
                                   "objectives": [o.state_dict() for o in objectives], "configs": configs,
                                   "log_sums": {k: v.tolist() for k, v in sums.items()}, "log_count": count},
                        name=PACK)
        return step

    loader = torch.utils.data.DataLoader(BatchStack(data, batch_size, unique_seeds, start, steps), batch_size=None,
                                         num_workers=num_workers, pin_memory=cuda,
                                         prefetch_factor=4 if num_workers else None)
    n = len(models)
    t_log = t0 = time.perf_counter()
    timed = 0
    with tqdm(total=steps, initial=start, disable=not progress, desc=f"train {n} side by side") as bar:
        for step, x in loader:
            x = x.to(device, non_blocking=True)[row]
            noise = torch.stack([torch.randn((batch_size, m), generator=step_generator(s, step, device),
                                             device=device) for s in unique_seeds])[row]
            exponent = torch.as_tensor(np.stack([o.exponent(step, m) for o in objectives]), dtype=torch.float32,
                                       device=device)
            beta = torch.tensor([o.kl_weight(step) for o in objectives], dtype=torch.float32, device=device)
            l2_weight = torch.tensor([o.l2_weight_at(step) for o in objectives], dtype=torch.float32, device=device)
            try:
                loss, parts = stack.step(x, noise, exponent, beta, l2_weight)
            except NonFinite as err:
                raise Diverged(_diverged(step, err.what, run_dirs[err.member], saved)) from None
            for k, objective in enumerate(objectives):
                objective.after_step({key: v[k] for key, v in parts.items()}, step)
            parts = {"loss": loss, **parts}
            sums = {k: sums.get(k, 0) + v for k, v in parts.items()}
            count, timed = count + 1, timed + 1
            done = step + 1
            if done % log_every == 0 or done == steps:
                now = time.perf_counter()
                rate = timed * batch_size / (now - t_log)
                for k, (run_dir, objective) in enumerate(zip(run_dirs, objectives)):
                    append_log(run_dir, log_line(done, {key: v[k] for key, v in sums.items()}, count,
                                                 objective.l2_weight_at(step), rate))
                bar.set_postfix(images_per_s=f"{n * rate:.3g}")
                sums, count, timed, t_log = {}, 0, 0, now
            if done % checkpoint_every == 0 or done == steps:
                saved = save(done)
            bar.update(1)
    wall = time.perf_counter() - t0
    summary = {"steps": steps, "wall_s": wall, "models": n,
               "images_per_s": (steps - start) * batch_size / wall if wall and steps > start else None,
               "aggregate_images_per_s": n * (steps - start) * batch_size / wall if wall and steps > start else None,
               "device": torch.cuda.get_device_name(device) if cuda else "cpu"}

    group = stack.optimizer.state_dict()
    stack.copy_to(models)
    results = []
    for k, (model, objective, config, run_dir) in enumerate(zip(models, objectives, configs, run_dirs)):
        save_checkpoint(run_dir, {"step": steps, "model": model.state_dict(),
                                  "optimizer": _member_optimizer_state(group, group["param_groups"][0], k),
                                  "objective": objective.state_dict(), "config": config, "log_sums": {},
                                  "log_count": 0})
        results.append(write_metrics(model, data, objective, config, run_dir, summary) if evaluate else summary)
    (pack_dir / PACK).unlink(missing_ok=True)
    return results
