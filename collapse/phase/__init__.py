"""Phase diagrams, one module per model (``collapse phase MODEL``).

A module defines ``HELP``, optional ``ALIASES`` (e.g. the paper key with dashes),
``add_arguments(parser)`` and ``run(args) -> int``; it writes PNG + CSV files.
"""
