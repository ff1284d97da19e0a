"""``collapse phase MODEL``: phase diagrams (PNG + CSV) of a model's collapse behaviour."""
import importlib
import pkgutil

from collapse import phase

HELP = "draw a model's phase diagram (PNG + CSV), e.g. `collapse phase linear-gaussian-vae`"


def add_arguments(parser):
    sub = parser.add_subparsers(dest="model", required=True, metavar="MODEL")
    for info in sorted(pkgutil.iter_modules(phase.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"collapse.phase.{info.name}")
        cmd = sub.add_parser(info.name.replace("_", "-"), aliases=getattr(module, "ALIASES", []),
                             help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_phase=module.run)


def run(args) -> int:
    return args._phase(args)
