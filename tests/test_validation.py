"""numerics/validation.py: every check accepts its boundary cases, refuses the first value past
them, and says so in a message that names the argument, the condition and the value."""
import re

import numpy as np
import pytest

from numerics import validation as v


def refused(message, call, *args, **kwargs):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        call(*args, **kwargs)


def test_finite_array_and_matrix():
    assert v.finite_array("x", [1, 2]).dtype == np.float64
    assert v.finite_array("x", [[1.0]], ndim=2).shape == (1, 1)
    refused("x must have 2 dimension(s); got shape (2,)", v.finite_array, "x", [1.0, 2.0], ndim=2)
    refused("x must be finite; it contains NaN or inf", v.finite_array, "x", [1.0, np.inf])
    refused("x must be finite; it contains NaN or inf", v.finite_array, "x", [np.nan])
    assert v.matrix("M", np.ones((2, 3)), (None, 3)).shape == (2, 3)
    assert v.matrix("M", np.ones((2, 3)), (2, None)).shape == (2, 3)
    refused("M must have shape ?x4; got 2x3", v.matrix, "M", np.ones((2, 3)), (None, 4))
    refused("M must have shape 3x?; got 2x3", v.matrix, "M", np.ones((2, 3)), (3, None))
    refused("M must have 2 dimension(s); got shape (3,)", v.matrix, "M", np.ones(3))


def test_spd():
    S = np.array([[2.0, 1.0], [1.0 + 1e-11, 2.0]])          # asymmetry 5e-12 relative: within 1e-10
    out = v.spd("S", S)
    assert np.array_equal(out, out.T) and out[0, 1] == (2.0 + 1e-11) / 2
    refused("S must have shape 3x3; got 2x2", v.spd, "S", S, 3)
    refused("S must be square; got shape (2, 3)", v.spd, "S", np.ones((2, 3)))
    refused("S must be symmetric; max |X - X^T| / max |X| = 5e-10",
            v.spd, "S", np.array([[2.0, 1.0], [1.0 + 1e-9, 2.0]]))
    refused("S must be symmetric positive definite; smallest eigenvalue is 0", v.spd, "S", np.diag([1.0, 0.0]))
    refused("S must be symmetric positive definite; smallest eigenvalue is -1", v.spd, "S", np.diag([1.0, -1.0]))
    assert v.spd("S", np.diag([1.0, 1e-3]), max_cond=1e3)[1, 1] == 1e-3
    refused("S has condition number 1e+03 > 999", v.spd, "S", np.diag([1.0, 1e-3]), max_cond=999)
    tiny = np.diag([1e-300, 1e-300])                          # the relative asymmetry needs a nonzero scale
    assert v.spd("S", tiny)[0, 0] == 1e-300


def test_scalars():
    assert v.positive("b", 1e-300) == 1e-300 and v.positive("b", np.float32(2)) == 2.0
    for bad in (0, -1.0, np.inf, np.nan):
        refused(f"b must be a finite number > 0; got {bad!r}", v.positive, "b", bad)
    assert v.nonnegative("l", 0) == 0.0 and isinstance(v.nonnegative("l", 0), float)
    for bad in (-1e-300, np.inf, np.nan):
        refused(f"l must be a finite number >= 0; got {bad!r}", v.nonnegative, "l", bad)
    assert v.positive_int("m", 1) == 1 and v.positive_int("m", 3.0) == 3 and isinstance(v.positive_int("m", 3.0), int)
    assert v.positive_int("m", 0, minimum=0) == 0 and v.positive_int("m", 5, minimum=5) == 5
    for bad in (0, 2.5, True, -3):
        refused(f"m must be an integer >= 1; got {bad!r}", v.positive_int, "m", bad)
    refused("m must be an integer >= 5; got 4", v.positive_int, "m", 4, minimum=5)


@pytest.mark.parametrize("closed, inside, outside", [
    ("neither", [0.5], [0.0, 1.0]), ("low", [0.0, 0.5], [1.0]), ("high", [0.5, 1.0], [0.0]), ("both", [0.0, 1.0], [])])
def test_array_in_ends(closed, inside, outside):
    brackets = {"neither": "(0, 1)", "low": "[0, 1)", "high": "(0, 1]", "both": "[0, 1]"}[closed]
    assert np.array_equal(v.array_in("a", inside, 0.0, 1.0, closed=closed), inside)
    for x in outside:
        refused(f"a must lie in {brackets}; got {x:g} (1 of 3 entries outside)", v.array_in, "a", [0.5, x, 0.75],
                0.0, 1.0, closed=closed)
    refused(f"a must lie in {brackets}; got 2 (2 of 3 entries outside)", v.array_in, "a", [2.0, 0.5, 3.0],
            0.0, 1.0, closed=closed)
    refused(f"a must lie in {brackets}; got -1 (1 of 1 entries outside)", v.array_in, "a", -1.0, 0.0, 1.0, closed=closed)


def test_array_in_defaults_are_the_open_real_line():
    assert v.array_in("a", [-1e300, 1e300]).shape == (2,)
    refused("a must lie in (0, inf); got 0 (1 of 2 entries outside)", v.array_in, "a", [1.0, 0.0], 0.0)
    refused("a must lie in (-inf, 0); got 0 (1 of 1 entries outside)", v.array_in, "a", [0.0], high=0.0)


def test_psd():
    P = np.array([[1.0, 1.0], [1.0, 1.0]])                    # exactly singular: passes
    assert np.array_equal(v.psd("P", P), P)
    noisy = P + np.diag([0.0, -1e-12])                       # smallest eigenvalue -5e-13 >= -1e-10 * 2 * 2
    assert v.psd("P", noisy).shape == (2, 2)
    refused("P must be positive semidefinite; smallest eigenvalue is -0.5", v.psd, "P", np.diag([1.0, -0.5]))
    refused("P must be positive semidefinite and not zero; got the zero matrix", v.psd, "P", np.zeros((2, 2)))
    refused("P must be square; got shape (2, 3)", v.psd, "P", np.ones((2, 3)))
    refused("P must have shape 3x3; got 2x2", v.psd, "P", P, 3)
    refused("P must be symmetric; max |X - X^T| / max |X| = 0.5", v.psd, "P", np.array([[1.0, 0.5], [0.0, 1.0]]))
    assert v.psd("P", np.array([[1.0, 1e-11], [0.0, 1.0]]))[0, 1] == 5e-12


def test_array_in_refuses_an_unknown_end_rule():
    refused("closed must be one of ('neither', 'low', 'high', 'both'); got 'lower'",
            v.array_in, "a", [0.5], 0.0, 1.0, closed="lower")


def test_relative_tolerances_at_their_exact_boundaries():
    """Asymmetry exactly rtol = 1e-10 of the largest entry passes (the rule is >); a matrix of
    entries 1e6 with an asymmetry of 1e-5 passes (relative 1e-11, not absolute); psd's smallest
    eigenvalue may reach -rtol * lambda_max * n exactly (n = 2: -2e-10 passes, -1e-10 too)."""
    edge = np.array([[1.0, 0.0], [1e-10, 1.0]])
    assert v.spd("S", edge).shape == (2, 2) and v.psd("P", edge).shape == (2, 2)
    big = np.array([[1e6, 1e6], [1e6 + 1e-5, 2e6]])
    assert v.psd("P", big).shape == (2, 2)
    assert v.psd("P", np.diag([1.0, -2e-10]))[1, 1] == -2e-10
    assert v.psd("P", np.diag([1.0, -1e-10]))[1, 1] == -1e-10
    refused("P must be positive semidefinite; smallest eigenvalue is -2.1e-10", v.psd, "P", np.diag([1.0, -2.1e-10]))


def test_the_condition_bound_uses_the_largest_eigenvalue():
    refused("S has condition number 1e+03 > 100", v.spd, "S", np.diag([1.0, 2.0, 1000.0]), max_cond=100)


def test_symmetrising_keeps_entries_near_the_float64_maximum():
    """(X + X^T) / 2 overflowed: a 1e308 covariance passed validation and came back as inf."""
    huge = np.array([[1e308, 0.0], [0.0, 1.0]])
    for check in (v.spd, v.psd):
        out = check("S", huge)
        assert np.array_equal(out, huge) and np.array_equal(out, out.T)
    near = np.array([[2.0, 1.0 + 1e-13], [1.0, 2.0]])        # symmetrised, and exactly so
    assert np.array_equal(v.spd("S", near), v.spd("S", near).T)
