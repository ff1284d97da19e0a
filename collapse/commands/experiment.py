"""``collapse experiment NAME``: run a stored experiment on trained networks (deep/experiments/<name>.py)."""
import importlib
import pkgutil

from deep import experiments

HELP = "run an experiment on trained VAEs and store its result (JSON + PNG), e.g. `collapse experiment NAME --smoke`"


def add_arguments(parser):
    sub = parser.add_subparsers(dest="experiment", required=True, metavar="NAME")
    for info in sorted(pkgutil.iter_modules(experiments.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"deep.experiments.{info.name}")
        cmd = sub.add_parser(info.name.replace("_", "-"), aliases=getattr(module, "ALIASES", []),
                             help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_experiment=module.run)


def run(args) -> int:
    return args._experiment(args)
