"""Symbolic derivations (SymPy): pure functions returning SymPy expressions.

One module per model (``linear_gaussian_vae`` for [mi_collapse], ...). A module that
contributes to the LaTeX document defines ``PAPER`` (its catalogue key) and
``sections()`` returning :class:`derivations.latex.Section` objects.
"""
