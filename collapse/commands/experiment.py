"""``collapse experiment NAME``: run an experiment on trained networks (deep/experiments/<name>.py).

Every experiment follows one protocol and takes the same options (:mod:`deep.experiment`):
it writes ``config.toml``, ``runs/``, ``result.json`` and ``figures/`` to ``--output-dir``
(default ``runs/experiments/<name>``; the stored evidence is ``results/<name>``).
"""
import functools

from collapse.cli import add_plugins
from deep import experiment as protocol
from deep import experiments

HELP = ("run an experiment on trained VAEs (config.toml, runs/, result.json, figures/), "
        "e.g. `collapse experiment NAME --smoke`")


def add_arguments(parser):
    add_plugins(parser, experiments, dest="experiment", metavar="NAME", arguments=protocol.add_arguments,
                runner=lambda m: functools.partial(protocol.command, m, report=getattr(m, "report", None)))


def run(args) -> int:
    return args._experiment(args)
