"""Subcommands of ``collapse`` (one module each; see ``collapse.cli``)."""
