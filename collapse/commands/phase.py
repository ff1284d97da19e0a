"""``collapse phase MODEL``: phase diagrams (PNG + CSV) of a model's collapse behaviour."""
from collapse import phase
from collapse.cli import add_plugins

HELP = "draw a model's phase diagram (PNG + CSV), e.g. `collapse phase linear-gaussian-vae`"


def add_arguments(parser):
    add_plugins(parser, phase, dest="model", metavar="MODEL")


def run(args) -> int:
    return args._model(args)
