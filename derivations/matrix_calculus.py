"""Matrix calculus SymPy 1.14 gets wrong, done term by term, and exact proofs of identities.

SymPy silently returns 0 for ``log(Determinant(X)).diff(X)`` and for ``.diff`` of a sum
of traces, while a trace of a single product differentiates correctly. So
:func:`gradient` first splits every trace into traces of single products, differentiates
each term on its own, and handles log-determinants by Jacobi's formula
d log|M| = tr(M^{-1} dM). Identities between matrix expressions with symbolic shapes
cannot be simplified by SymPy; :func:`prove_identity` evaluates both sides exactly at
random rational matrices of several sizes (a false rational identity survives a random
evaluation with probability at most degree/|sample set|, by Schwartz-Zippel), and
:func:`prove_identity_symbolic` checks them with fully symbolic small matrices.
"""
from __future__ import annotations

import random

import sympy as sp
from sympy.matrices.expressions import MatAdd, MatMul
from sympy.printing.numpy import NumPyPrinter

SPD, GENERAL, DIAGONAL = "spd", "general", "diagonal"


def split_traces(expr):
    """Rewrite every ``Trace`` so that it holds a single product, scalars pulled out."""
    def split(tr):
        arg = sp.expand(tr.arg)
        total = sp.S.Zero
        for term in (arg.args if isinstance(arg, MatAdd) else (arg,)):
            coeff, mat = (term.as_coeff_mmul() if isinstance(term, MatMul) else (sp.S.One, term))
            mat = mat.doit() if isinstance(mat, MatMul) else mat
            if isinstance(mat, sp.Identity):
                total += coeff * mat.rows
            elif not isinstance(mat, sp.ZeroMatrix):
                total += coeff * sp.Trace(mat)
        return total
    return expr.replace(lambda e: isinstance(e, sp.Trace), split)


def symmetric(expr, matrices):
    """Use X^T = X for every symmetric matrix X in ``matrices``."""
    return expr.xreplace({sp.Transpose(x): x for x in matrices})


def _term_gradient(term, X):
    factors = sp.Mul.make_args(term)
    dependent = [f for f in factors if f.has(X)]
    if not dependent:
        return sp.ZeroMatrix(*X.shape)
    if len(dependent) > 1:
        raise NotImplementedError(f"term {term} is a product of several factors depending on {X}")
    (factor,) = dependent
    scale = sp.Mul(*[f for f in factors if f is not factor])
    if isinstance(factor, sp.Trace):
        return scale * factor.diff(X)
    if isinstance(factor, sp.log) and isinstance(factor.args[0], sp.Determinant):
        M = factor.args[0].arg
        if M == X:
            return scale * X.I.T
        # Jacobi: d log|M| = tr(C dM) with C = M^{-1} held fixed.
        C = sp.MatrixSymbol("_C", *M.shape)
        return scale * gradient(sp.Trace(C * M), X).xreplace({C: M.I})
    raise NotImplementedError(f"cannot differentiate factor {factor} with respect to {X}")


def gradient(expr, X, symmetric_matrices=()):
    """d expr / d X for a scalar built from traces, log-determinants and scalars.

    ``symmetric_matrices`` are treated as symmetric in the result (X^T -> X).
    """
    expanded = sp.expand(split_traces(expr))
    result = sp.ZeroMatrix(*X.shape)
    for term in sp.Add.make_args(expanded):
        result = result + _term_gradient(term, X)
    return symmetric(result, symmetric_matrices).doit()


def _split(term, X):
    """A term c P X Q (X appearing once) as (c P, Q); None when X does not appear."""
    coeff, mats = term.as_coeff_mmul() if isinstance(term, MatMul) else (sp.S.One, term)
    factors = list(mats.args) if isinstance(mats, MatMul) else [mats]
    hits = [i for i, f in enumerate(factors) if f.has(X)]
    if not hits:
        return None
    if len(hits) > 1 or factors[hits[0]] != X:
        raise NotImplementedError(f"term {term} is not linear in {X}")
    i = hits[0]
    left = sp.MatMul(coeff, *factors[:i]).doit() if i else coeff * sp.Identity(X.rows)
    right = sp.MatMul(*factors[i + 1:]).doit() if i + 1 < len(factors) else sp.Identity(X.cols)
    return left.doit(), right


def solve_linear(expr, X):
    """Solve expr = 0 for X, when expr = sum_{l, r} P_l X Q_r + R over a product of left
    factors P_l and right factors Q_r (so expr = (sum P_l) X (sum Q_r) + R).

    Returns (sum P_l)^{-1} (-R) (sum Q_r)^{-1}; raises NotImplementedError when the
    X-terms do not have that product structure (a general Sylvester equation).
    """
    pairs, rest = [], []
    for term in MatAdd.make_args(sp.expand(expr).doit()):
        split = _split(term, X)
        (rest if split is None else pairs).append(term if split is None else split)
    lefts = list(dict.fromkeys(p for p, _ in pairs))
    rights = list(dict.fromkeys(q for _, q in pairs))
    if sorted(map(str, pairs)) != sorted(str((l, r)) for l in lefts for r in rights):
        raise NotImplementedError(f"the terms in {X} are not a product of left and right factors: {pairs}")
    L, R = sp.MatAdd(*lefts).doit(), sp.MatAdd(*rights).doit()
    return sp.MatMul(L.I.doit(), -sp.MatAdd(*rest).doit(), R.I.doit()).doit()


class Dual:
    """A matrix expression to first order, value + epsilon * tangent (for linearisations)."""

    def __init__(self, value, tangent):
        self.value, self.tangent = value, tangent

    def __add__(self, other):
        other = other if isinstance(other, Dual) else Dual(other, sp.ZeroMatrix(*other.shape))
        return Dual((self.value + other.value).doit(), (self.tangent + other.tangent).doit())

    __radd__ = __add__

    def __mul__(self, other):
        if not isinstance(other, Dual):
            return Dual((self.value * other).doit(), (self.tangent * other).doit())
        return Dual((self.value * other.value).doit(),
                    (self.value * other.tangent + self.tangent * other.value).doit())

    def __rmul__(self, other):
        return Dual((other * self.value).doit(), (other * self.tangent).doit())

    @property
    def T(self):
        return Dual(self.value.T, self.tangent.T)

    @property
    def I(self):
        inverse = self.value.I.doit()
        return Dual(inverse, (-inverse * self.tangent * inverse).doit())


class _Printer(NumPyPrinter):
    def _print_Trace(self, expr):
        return f"numpy.trace({self._print(expr.arg)})"

    def _print_Determinant(self, expr):
        return f"numpy.linalg.det({self._print(expr.arg)})"

    def _print_Inverse(self, expr):
        return f"numpy.linalg.inv({self._print(expr.arg)})"

    def _print_Identity(self, expr):
        return f"numpy.eye({self._print(expr.rows)})"

    def _print_ZeroMatrix(self, expr):
        return f"numpy.zeros(({self._print(expr.rows)}, {self._print(expr.cols)}))"


def to_numpy(expr, args, dims):
    """A numpy function of the matrices/scalars ``args`` with the shapes fixed by ``dims``."""
    fixed = [a.xreplace(dims) for a in args]
    return sp.lambdify(fixed, expr.xreplace(dims), modules="numpy", printer=_Printer)


def _rational(rng: random.Random, bound: int) -> sp.Rational:
    return sp.Rational(rng.randint(-bound, bound), rng.randint(1, bound))


def random_rational(rows: int, cols: int, kind: str, rng: random.Random, bound: int = 9):
    """An exact rational matrix: general, symmetric positive definite, or positive diagonal."""
    if kind == GENERAL:
        return sp.ImmutableMatrix(rows, cols, lambda i, j: _rational(rng, bound))
    if kind == SPD:
        R = sp.Matrix(rows, rows, lambda i, j: _rational(rng, bound))
        return sp.ImmutableMatrix(R * R.T + sp.eye(rows))
    if kind == DIAGONAL:
        return sp.ImmutableMatrix(sp.diag(*[sp.Rational(rng.randint(1, bound), rng.randint(1, bound))
                                             for _ in range(rows)]))
    raise ValueError(f"kind must be one of {GENERAL!r}, {SPD!r}, {DIAGONAL!r}; got {kind!r}")


def evaluate(expr, dims, values):
    """``expr`` with shape symbols fixed by ``dims`` and matrices (by name) replaced by the
    explicit matrices in ``values``, evaluated bottom-up. Inverses are taken as adjugate /
    determinant with every entry cancelled, which keeps symbolic entries small.
    """
    def ev(e):
        if isinstance(e, sp.MatrixSymbol):
            return values[e.name]
        if isinstance(e, sp.Identity):
            return sp.eye(int(e.rows.xreplace(dims)))
        if isinstance(e, sp.ZeroMatrix):
            return sp.zeros(int(e.rows.xreplace(dims)), int(e.cols.xreplace(dims)))
        if isinstance(e, sp.MatAdd):
            out = ev(e.args[0])
            for a in e.args[1:]:
                out = out + ev(a)
            return out
        if isinstance(e, sp.MatMul):
            out = sp.S.One
            for a in e.args:
                out = out * ev(a)
            return out
        if isinstance(e, sp.Inverse):
            M = sp.Matrix(ev(e.arg))
            det = sp.cancel(M.det())
            if det == 0:
                raise ValueError(f"cannot invert {e.arg}: it is singular at these values")
            return (M.adjugate() / det).applyfunc(sp.cancel)
        if isinstance(e, sp.MatPow):
            return sp.Matrix(ev(e.base)) ** e.exp
        if isinstance(e, sp.Transpose):
            return ev(e.arg).T
        if isinstance(e, sp.Trace):
            return sp.Matrix(ev(e.arg)).trace()
        if isinstance(e, sp.Determinant):
            return sp.cancel(sp.Matrix(ev(e.arg)).det())
        if e.is_Atom:
            return e.xreplace(dims)
        return e.func(*[ev(a) for a in e.args])
    return ev(expr.xreplace(dims) if not isinstance(expr, sp.MatrixSymbol) else expr)


def _is_zero(value) -> bool:
    if isinstance(value, sp.MatrixBase):
        return all(_is_zero(v) for v in value)
    value = sp.nsimplify(value) if value.is_Float else value
    # no force=True: log(x y) = log x + log y only for positive x, y (log(x^2) = 2 log x fails at x = -1)
    return value == 0 or sp.simplify(sp.expand_log(value)) == 0


def prove_identity(lhs, rhs, kinds: dict, sizes, *, trials: int = 2, seed: int = 0,
                   scalars=None) -> int:
    """Check ``lhs == rhs`` exactly at random rational matrices; return the number of points.

    ``kinds`` maps each MatrixSymbol to GENERAL, SPD or DIAGONAL; ``sizes`` is a list of
    ``{dim_symbol: int}`` dicts; ``scalars`` maps scalar symbols to rational samplers
    (callables of a ``random.Random``). Raises AssertionError with the counterexample.
    """
    rng = random.Random(seed)
    count = 0
    for dims in sizes:
        for _ in range(trials):
            values = {}
            for sym, kind in kinds.items():
                rows, cols = (int(d.xreplace(dims)) for d in sym.shape)
                values[sym.name] = random_rational(rows, cols, kind, rng)
            scalar_values = {s: draw(rng) for s, draw in (scalars or {}).items()}
            diff = evaluate((lhs - rhs).xreplace(scalar_values), dims, values)
            if not _is_zero(diff):
                raise AssertionError(f"identity fails at sizes {dims}, scalars {scalar_values}: "
                                     f"difference {diff} at {values}")
            count += 1
    return count


def symbolic_matrix(name: str, rows: int, cols: int, kind: str):
    """A matrix of fresh symbols: symmetric for SPD, diagonal for DIAGONAL."""
    if kind == DIAGONAL:
        return sp.ImmutableMatrix(sp.diag(*[sp.Symbol(f"{name}_{i}{i}", positive=True) for i in range(rows)]))
    if kind == SPD:
        return sp.ImmutableMatrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{min(i, j)}{max(i, j)}", real=True))
    return sp.ImmutableMatrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}{j}", real=True))


def prove_identity_symbolic(lhs, rhs, kinds: dict, dims: dict) -> None:
    """Check ``lhs == rhs`` with fully symbolic matrices of the (small) sizes ``dims``."""
    values = {}
    for sym, kind in kinds.items():
        rows, cols = (int(d.xreplace(dims)) for d in sym.shape)
        # the full name: stripping characters would merge matrices such as \Sigma and Sigma
        values[sym.name] = symbolic_matrix(sym.name, rows, cols, kind)
    diff = evaluate(lhs - rhs, dims, values)
    entries = diff if isinstance(diff, sp.MatrixBase) else [diff]
    for entry in entries:
        if sp.cancel(sp.together(entry)) != 0:
            raise AssertionError(f"symbolic identity fails at sizes {dims}: entry {entry}")
