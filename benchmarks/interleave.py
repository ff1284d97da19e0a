"""Ratios of two routes measured side by side (issue 15), shared by the benchmarks.

A ratio A / B is measured in one process, in interleaved rounds (A B A B ...), so that a
change of load on the shared machine hits both sides alike, and reported as the minimum
and the median over the rounds, in wall time and in CPU time (user + sys of the process,
all threads: on a shared machine wall time is inflated by the other jobs, CPU time much
less). The caller gives both sides the same budget (inputs, tolerances, iteration caps,
sample counts); one untimed call of each side comes first; a route too fast to time in one
call runs ``number`` calls per round and each round's time is divided by ``number``.

    from benchmarks.interleave import abab, report
    (out_a, out_b), walls, cpus = abab(baseline, fast, rounds=3, number_b=100)
    benchmark.extra_info.update(report("baseline / fast", walls, cpus))
"""
import time

import numpy as np


def timed(call):
    """(call(), wall seconds, CPU seconds of the process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = call()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def abab(a, b, rounds=3, *, number_a=1, number_b=1, warmup=True):
    """Interleaved rounds of ``a()`` and ``b()``, ``number_a`` / ``number_b`` calls each per round.

    With ``warmup``, one untimed call of each first: a first call pays for lazy imports,
    caches and fresh memory pages (Monte Carlo's first 200,000 draws take 4x the later ones).

    Returns ((last output of a, last output of b), walls, cpus), where walls and cpus have
    shape (rounds, 2): seconds per call of a (column 0) and of b (column 1) in each round.
    """
    if rounds < 1 or number_a < 1 or number_b < 1:
        raise ValueError(f"rounds, number_a, number_b must be >= 1, got {rounds}, {number_a}, {number_b}")
    if warmup:
        a(), b()
    walls, cpus, outputs = np.empty((rounds, 2)), np.empty((rounds, 2)), [None, None]
    for r in range(rounds):
        for col, (call, number) in enumerate(((a, number_a), (b, number_b))):
            outputs[col], wall, cpu = timed(lambda: _repeat(call, number))
            walls[r, col], cpus[r, col] = wall / number, cpu / number
    return tuple(outputs), walls, cpus


def _repeat(call, number):
    for _ in range(number - 1):
        call()
    return call()


def _seconds(x):
    return f"{x * 1e6:.3g} us" if x < 1e-3 else f"{x * 1e3:.3g} ms" if x < 1 else f"{x:.3g} s"


def report(name, walls, cpus):
    """Print the ratio A / B (min and median over rounds, wall and CPU) and each side's median time.

    Returns the ratios as a dict for ``benchmark.extra_info``.
    """
    rw, rc = walls[:, 0] / walls[:, 1], cpus[:, 0] / cpus[:, 1]
    print(f"\n{name}: ratio wall min {rw.min():.3g} median {np.median(rw):.3g}, CPU min {rc.min():.3g} "
          f"median {np.median(rc):.3g}  (A {_seconds(np.median(walls[:, 0]))} / "
          f"{_seconds(np.median(cpus[:, 0]))} CPU, B {_seconds(np.median(walls[:, 1]))} / "
          f"{_seconds(np.median(cpus[:, 1]))} CPU, {len(rw)} rounds)")
    return {"ratio_wall_min": float(rw.min()), "ratio_wall_median": float(np.median(rw)),
            "ratio_cpu_min": float(rc.min()), "ratio_cpu_median": float(np.median(rc))}
