"""Experiments that confirm or refute the theory on trained networks (``collapse experiment NAME``).

One module per experiment, named after the model it tests (``lambda_vae``,
``tractable_beta_vae``, ...). Every module follows the protocol of :mod:`deep.experiment`
(a strict frozen ``Config`` with ``default()``, ``plan``, ``run``, ``summarise``, ``scale``,
``describe``; ``HELP``, optional ``ALIASES`` and ``report``) and imports torch only inside
its functions (the CLI must build without loading torch). The driver writes
``config.toml``, ``runs/``, ``result.json`` (with :func:`deep.provenance.record`) and
``figures/`` to ``runs/experiments/<name>``, or to ``results/<name>`` (the stored evidence)
when asked with ``--output-dir``.
"""
