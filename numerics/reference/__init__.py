"""Independent reference routes: Monte Carlo, quadrature, finite differences, many-start
optimisation, ODE integration and literal transcriptions of the papers' algorithms.

Nothing here may import ``derivations`` or a model module of ``numerics`` (only
``numerics.validation`` and ``numerics.precision``): a check that compares a claim with a
route from this package then shares no formula code with it. ``tests/test_layers.py``
enforces the rule.
"""
