"""The ``collapse`` console command; each subcommand is a module in ``collapse.commands``.

A command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``; it is found by name, so adding a command touches no other file.

One error path: a command raises :class:`UserError` (``deep.config.UserError``, also
raised by the library for bad configurations, damaged files and diverged runs) for
anything the user can fix, before it starts the work where it can; :func:`main` prints
its message as one line ``collapse <command>: error: ...`` and returns 2 (argparse's own
errors exit 2 as well). ``--debug`` shows the traceback instead. Any other exception is a
bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings

from collapse import commands
from numerics import validation
from deep.config import UserError, checked, one_line_warnings, writable_dir, writable_file

__all__ = ["UserError", "Renamed", "add_plugins", "build_parser", "checked", "count", "main", "writable_dir",
           "writable_file"]


class Renamed(argparse.Action):
    """An option that was renamed: using it is an error that gives the new name(s)."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        kwargs.update(nargs="?", help=argparse.SUPPRESS, default=argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        parser.exit(2, f"{parser.prog}: error: {option_string} was renamed: {self.new}\n")


def _parser(sub, name: str, **kwargs) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, allow_abbrev=False, **kwargs)
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an error")
    return parser


def add_plugins(parser: argparse.ArgumentParser, package, *, dest: str, metavar: str, arguments=None,
                runner=None, only: str | None = None) -> None:
    """One subcommand per module of ``package`` (name with '-' for '_', its ``ALIASES``), run as ``args._<dest>``.

    A module's options come from ``module.add_arguments(parser)`` and it runs as ``module.run(args)``,
    unless ``arguments(parser, module)`` and ``runner(module)`` (a function of args) are given; with
    ``only``, just the module of that name (importing every module costs seconds).
    """
    sub = parser.add_subparsers(dest=dest, required=True, metavar=metavar)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if only is not None and info.name != only:
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        cmd = _parser(sub, info.name.replace("_", "-"), aliases=getattr(module, "ALIASES", []),
                      help=module.HELP, description=module.HELP)
        (arguments or (lambda p, m: m.add_arguments(p)))(cmd, module)
        cmd.set_defaults(**{f"_{dest}": runner(module) if runner else module.run})


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``only`` (a command's module name), just that command."""
    parser = argparse.ArgumentParser(prog="collapse", description="Proof-checker for the theory of collapse in VAEs.",
                                     allow_abbrev=False)
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    add_plugins(parser, commands, dest="command", metavar="COMMAND", only=only)
    return parser


def _named_command(argv: list[str]) -> str | None:
    """The module of the command that ``argv`` names by its module name, or None (no command, an
    alias, top-level help, a typo: the whole parser answers those)."""
    for arg in argv:
        if arg in ("-h", "--help"):
            return None
        if not arg.startswith("-"):
            name = arg.replace("-", "_")
            known = {info.name for info in pkgutil.iter_modules(commands.__path__)}
            return name if name in known and "_" not in arg else None
    return None


def count(name: str, value, minimum: int = 1, maximum: int = 10**7) -> int:
    """An integer in [minimum, maximum] (a size or a number of points; the cap keeps a typo from
    asking for terabytes) or a UserError naming ``name``."""
    value = checked(name, validation.positive_int, value, minimum)
    if value > maximum:
        raise UserError(f"{name} must be at most {maximum}; got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(only=_named_command(argv)).parse_args(argv)
    command = " ".join(["collapse", args.command, *[getattr(args, d) for d in ("model", "experiment")
                                                      if isinstance(getattr(args, d, None), str)]])
    with warnings.catch_warnings():
        one_line_warnings(command)
        try:
            return int(args._command(args) or 0)
        except UserError as err:
            if args.debug:
                raise
            message = " ".join(str(err).split())  # one line, whatever the message held
            print(f"{command}: error: {message}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
