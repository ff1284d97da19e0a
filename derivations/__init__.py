"""Symbolic derivations (SymPy): pure functions returning SymPy expressions.

One module per model (``linear_gaussian_vae`` for [mi_collapse], ...). A module that
contributes to the LaTeX document defines ``PAPER`` (its catalogue key) and
``sections()`` returning :class:`derivations.latex.Section` objects.

A derivation that others reuse is cached by assignment, ``f = cache(f)`` after its body,
not with ``@cache``: the mutation tool (mutmut, issue 20) does not mutate decorated
functions, so a decorator would hide the derivations themselves from the mutation run.
``sections()`` (the document's prose, held byte for byte by tests/test_latex.py) is
excluded from mutation by a pragma: every change of its text fails that comparison.
"""
