"""The ``collapse`` console command; each subcommand is a module in ``collapse.commands``.

A command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``; it is found by name, so adding a command touches no other file.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from collapse import commands


def add_plugins(parser: argparse.ArgumentParser, package, *, dest: str, metavar: str) -> None:
    """One subcommand per module of ``package`` (name with '-' for '_', its ``ALIASES``), run as ``args._<dest>``."""
    sub = parser.add_subparsers(dest=dest, required=True, metavar=metavar)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        cmd = sub.add_parser(info.name.replace("_", "-"), aliases=getattr(module, "ALIASES", []),
                             help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(**{f"_{dest}": module.run})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collapse", description="Proof-checker for the theory of collapse in VAEs.")
    add_plugins(parser, commands, dest="command", metavar="COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args._command(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
