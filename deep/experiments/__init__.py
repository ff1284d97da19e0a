"""Experiments that confirm or refute the theory on trained networks (``collapse experiment NAME``).

One module per experiment, named after the model it tests (``lambda_vae``,
``tractable_beta_vae``, ...). A module defines ``HELP``, optional ``ALIASES``,
``add_arguments(parser)`` and ``run(args) -> int``, and imports torch only inside its
functions (the CLI must build without loading torch). Results go to
``results/<experiment>/`` as JSON (with ``deep.provenance.record``: commit, device, seeds
and whether the run is at the paper's scale or reduced for CPU) and PNG figures.
"""
