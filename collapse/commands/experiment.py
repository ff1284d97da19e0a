"""``collapse experiment NAME``: run a stored experiment on trained networks (deep/experiments/<name>.py)."""
from collapse.cli import add_plugins
from deep import experiments

HELP = "run an experiment on trained VAEs and store its result (JSON + PNG), e.g. `collapse experiment NAME --smoke`"


def add_arguments(parser):
    add_plugins(parser, experiments, dest="experiment", metavar="NAME")


def run(args) -> int:
    return args._experiment(args)
