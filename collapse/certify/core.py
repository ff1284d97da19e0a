"""Ball-arithmetic certificates: the format, the interval tools, writing and re-checking.

A certificate proves one catalogue claim (or the exact part of it it states) at stated
inputs or over a stated box, with Arb ball arithmetic (python-flint): every number it
quotes is an enclosure [lower, upper] that contains the true value, and every sign or
inequality it lists was decided by enclosures that do not touch the boundary.

A builder is a function ``build(c, inputs)`` registered for a claim with
:func:`certifies`. It reads exact inputs (rationals "p/q" or decimal strings), computes
with Arb at ``c.prec`` bits, records enclosures (``c.enclose``) and proved facts
(``c.positive``, ``c.less``, :func:`sign_over`, :func:`root`), and sets ``c.statement``
to exactly what is proved. :func:`compute` runs a builder on its default inputs;
:func:`check` re-runs it on the inputs stored in a file and compares everything it
derives with what the file says, trusting no stored number.

File format (JSON, ``collapse/certificates/<claim id>.json``)::

    format        "collapse-certificate/1"
    claim         catalogue id, e.g. "lambda_vae.eq_13"
    statement     one line: exactly what is proved, at which inputs / over which box
    covers        how much of the catalogue claim that is: ``statement`` (the claim as
                  stated, or over the largest bounded box of its domain, named in the
                  statement), ``counterexample`` (the printed statement fails at the
                  inputs: the refutation behind a refuted or corrected verdict) or
                  ``instances`` (the general statement at stated points only); see
                  :func:`collapse.grades.certificate_grade`
    inputs        the exact inputs (strings, lists of strings, or objects of them)
    method        how: closed form, root isolated by sign change + monotonicity, ...
    precision_bits  Arb working precision
    enclosures    name -> {"lower", "upper" (decimal, rounded outward), "value" (the
                  digits the ball guarantees, Arb's convention: correct to +-1 unit in the
                  last printed digit)}
    facts         the inequalities and signs proved, one line each
    versions      python-flint, FLINT and package versions (recorded, not compared)
"""
from __future__ import annotations

import contextlib
import decimal
import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

import flint

from deep import io

FORMAT = "collapse-certificate/1"
DIRECTORY = Path(__file__).resolve().parents[1] / "certificates"
"""Where the stored certificates live (package data)."""
BOUND_DIGITS = 30
"""Significant digits of the outward-rounded decimal bounds."""
VALUE_DIGITS = 25
"""At most this many guaranteed digits in an enclosure's ``value``."""
MAX_BOXES = 200_000
"""Subdivision gives up (and the certificate fails) after this many boxes."""


class CertificationError(RuntimeError):
    """A builder could not prove what it set out to prove (a sign, a bracket, a bound)."""


class CertificateFileError(ValueError):
    """A certificate file is missing, not JSON, or not in the format above."""


@contextlib.contextmanager
def workprec(bits: int):
    """Arb precision ``bits`` inside the block (python-flint's precision is global)."""
    ctx = flint.ctx
    old_prec, old_cap = ctx.prec, ctx.cap
    ctx.prec = bits
    try:
        yield
    finally:
        ctx.prec, ctx.cap = old_prec, old_cap


def exact(text):
    """The exact rational of an input string ("3/2", "0.05", "7") as an fmpq."""
    try:
        q = Fraction(str(text))
    except (ValueError, ZeroDivisionError):
        raise CertificationError(f"input {text!r} is not a rational 'p/q' or a decimal string") from None
    return flint.fmpq(q.numerator, q.denominator)


def ball(text):
    """An arb ball containing the exact input ``text`` (exact when it is a dyadic rational)."""
    return flint.arb(exact(text))


# ----------------------------------------------------------------- enclosures as text


def _fraction(x) -> Fraction:
    """The exact value of an exact (zero-radius) arb."""
    man, exp = x.man_exp()
    man, exp = int(man), int(exp)
    return Fraction(man * 2**exp) if exp >= 0 else Fraction(man, 2**-exp)


def _decimal(q: Fraction, rounding: str) -> str:
    ctx = decimal.Context(prec=BOUND_DIGITS, rounding=rounding)
    return str(ctx.divide(decimal.Decimal(q.numerator), decimal.Decimal(q.denominator)))


def enclosure_text(x) -> dict:
    """{"lower", "upper", "value"}: outward-rounded decimal bounds and the guaranteed digits."""
    if not x.is_finite():
        raise CertificationError(f"enclosure is not finite: {x}")
    return {"lower": _decimal(_fraction(x.lower()), decimal.ROUND_FLOOR),
            "upper": _decimal(_fraction(x.upper()), decimal.ROUND_CEILING),
            "value": x.str(VALUE_DIGITS, radius=False)}


def _bounds(entry: dict) -> tuple[Fraction, Fraction]:
    return Fraction(entry["lower"]), Fraction(entry["upper"])


# ----------------------------------------------------------------- what a builder records


@dataclass
class Certificate:
    """What a builder derives; everything but ``versions`` is compared on re-checking."""
    claim: str
    inputs: dict
    prec: int
    covers: str = ""
    statement: str = ""
    method: list = field(default_factory=list)
    enclosures: dict = field(default_factory=dict)
    facts: list = field(default_factory=list)

    def enclose(self, name: str, x):
        """Record the enclosure ``x`` (an arb) of the quantity ``name``; returns ``x``."""
        if not x.is_finite():
            raise CertificationError(f"{self.claim}: {name} is not enclosed (got {x})")
        if name in self.enclosures:
            raise ValueError(f"{self.claim}: quantity {name!r} recorded twice")
        self.enclosures[name] = x
        return x

    def uses(self, method: str):
        if method not in self.method:
            self.method.append(method)

    def fact(self, text: str, proved: bool):
        """Record ``text`` as proved, or fail naming it."""
        if not proved:
            raise CertificationError(f"{self.claim}: could not prove: {text}")
        self.facts.append(text)

    def positive(self, name: str, x):
        self.fact(f"{name} > 0", bool(x > 0))

    def negative(self, name: str, x):
        self.fact(f"{name} < 0", bool(x < 0))

    def less(self, a: str, x, b: str, y):
        self.fact(f"{a} < {b}", bool(x < y))

    def contains(self, name: str, x, value: str):
        """The enclosure ``x`` contains the exact rational ``value`` (an identity at these inputs)."""
        if not x.is_finite():
            raise CertificationError(f"{self.claim}: {name} is not enclosed (got {x})")
        self.fact(f"{name} contains {value} (enclosure radius {x.rad().str(3, radius=False)})",
                  bool(x.contains(exact(value))))

    def excludes(self, name: str, x, value: str):
        """The enclosure ``x`` proves the quantity differs from the rational ``value``."""
        self.fact(f"{name} != {value}", not x.overlaps(flint.arb(exact(value))))

    def to_json(self) -> dict:
        return {"format": FORMAT, "claim": self.claim, "covers": self.covers, "statement": self.statement,
                "inputs": self.inputs, "method": self.method, "precision_bits": self.prec,
                "enclosures": {k: enclosure_text(v) for k, v in self.enclosures.items()},
                "facts": self.facts, "versions": versions()}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    try:
        package = version("collapse-proofcheck")
    except PackageNotFoundError:
        package = "source checkout"
    return {"python-flint": flint.__version__, "flint": getattr(flint, "__FLINT_VERSION__", "unknown"),
            "collapse-proofcheck": package}


# ----------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Spec:
    claim: str
    build: Callable
    inputs: dict
    prec: int
    covers: str


COVERS = ("statement", "counterexample", "instances")

REGISTRY: dict[str, Spec] = {}


def certifies(claim: str, *, covers: str, inputs: dict, prec: int = 128):
    """Register ``build(c, inputs)`` as the certificate of ``claim`` with default ``inputs``;
    ``covers`` says how much of the claim it proves (one of :data:`COVERS`)."""
    if covers not in COVERS:
        raise ValueError(f"covers must be one of {COVERS}, got {covers!r}")

    def register(build):
        if claim in REGISTRY:
            raise ValueError(f"claim {claim!r} has two certificate builders")
        REGISTRY[claim] = Spec(claim, build, inputs, prec, covers)
        return build
    return register


def derive(claim: str, inputs: dict, prec: int) -> Certificate:
    """Run the builder of ``claim`` on ``inputs`` at ``prec`` bits."""
    if claim not in REGISTRY:
        raise CertificateFileError(f"no certificate builder for claim {claim!r}")
    cert = Certificate(claim, inputs, prec, REGISTRY[claim].covers)
    with workprec(prec):
        REGISTRY[claim].build(cert, inputs)
    if not cert.statement:
        raise CertificationError(f"{claim}: the builder set no statement")
    return cert


def compute(claim: str) -> dict:
    """The certificate of ``claim`` at its default inputs, as JSON-ready data."""
    spec = REGISTRY[claim]
    return derive(claim, spec.inputs, spec.prec).to_json()


def path_of(claim: str, directory: Path = DIRECTORY) -> Path:
    return directory / f"{claim}.json"


def write(data: dict, directory: Path = DIRECTORY) -> Path:
    """Write a certificate atomically to ``<directory>/<claim>.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    target = path_of(data["claim"], directory)
    return io.write_json(target, data, indent=1)


def load(path: Path) -> dict:
    """Read a certificate file; a one-line :class:`CertificateFileError` when it cannot be."""
    path = Path(path)
    if not path.is_file():
        raise CertificateFileError(f"{path}: no such certificate file")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CertificateFileError(f"{path}: not valid JSON ({err})") from None
    keys = ("format", "claim", "covers", "statement", "inputs", "method", "precision_bits", "enclosures", "facts")
    missing = [k for k in keys if not isinstance(data, dict) or k not in data]
    if missing:
        raise CertificateFileError(f"{path}: not a certificate (missing {', '.join(missing)})")
    if data["format"] != FORMAT:
        raise CertificateFileError(f"{path}: format {data['format']!r} is not {FORMAT!r}")
    if not isinstance(data["precision_bits"], int) or not 16 <= data["precision_bits"] <= 10_000:
        raise CertificateFileError(f"{path}: precision_bits must be an integer in [16, 10000]")
    return data


def check(path: Path) -> list[str]:
    """Re-derive the certificate in ``path`` from its inputs; the problems found (none: valid).

    Every stored enclosure must be exactly what the recomputation gives (same decimal
    bounds and digits) and must contain the recomputed ball; statement, method and facts
    must be what the builder derives; the builder must prove every fact again.
    """
    try:
        data = load(path)
        fresh = derive(data["claim"], data["inputs"], data["precision_bits"])
    except (CertificateFileError, CertificationError) as err:
        return [str(err)]
    name = Path(path).name
    problems = []
    for key, mine in (("covers", fresh.covers), ("statement", fresh.statement), ("method", fresh.method),
                      ("facts", fresh.facts)):
        if data[key] != mine:
            problems.append(f"{name}: {key} is not what the inputs give: stored {data[key]!r}, recomputed {mine!r}")
    stored = data["enclosures"]
    for q in stored.keys() - fresh.enclosures.keys():
        problems.append(f"{name}: quantity {q!r} is stored but not derived from the inputs")
    for q, x in fresh.enclosures.items():
        if q not in stored:
            problems.append(f"{name}: quantity {q!r} is derived but not stored")
            continue
        entry, mine = stored[q], enclosure_text(x)
        try:
            lo, hi = _bounds(entry)
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            problems.append(f"{name}: quantity {q!r}: stored enclosure is not a pair of decimal bounds: {entry!r}")
            continue
        if not (lo <= _fraction(x.lower()) and _fraction(x.upper()) <= hi):
            problems.append(f"{name}: quantity {q!r}: stored [{entry['lower']}, {entry['upper']}] does not "
                            f"contain the recomputed [{mine['lower']}, {mine['upper']}]")
        elif entry != mine:
            problems.append(f"{name}: quantity {q!r}: stored {entry!r} is not what it recomputes ({mine!r})")
    return problems


# ----------------------------------------------------------------- interval tools


def sq(x):
    """x², as x * x: python-flint's ``ball ** 2`` is NaN when the ball contains 0."""
    return x * x


def interval(lo, hi):
    """The arb ball covering [lo, hi] (arbs or exact inputs)."""
    lo, hi = flint.arb(lo), flint.arb(hi)
    return lo.union(hi)


def taylor(f: Callable, x, order: int):
    """[f(x), f'(x), ..., f^(order)(x)] enclosed over the ball ``x``, by Arb power series.

    ``f`` must be written with operations that arb_series supports (+, -, *, /, exp, log,
    sqrt, and arb constants), so the derivatives come from Taylor arithmetic, not from a
    formula typed by hand.
    """
    flint.ctx.cap = order + 1
    t = flint.arb_series([x, 1], prec=order + 1)
    try:
        coeffs = f(t).coeffs()
    except (ValueError, ZeroDivisionError):     # a divisor's ball touches 0: nothing is known here
        return [flint.arb("nan")] * (order + 1)
    coeffs += [flint.arb(0)] * (order + 1 - len(coeffs))
    return [c * math.factorial(k) for k, c in enumerate(coeffs[:order + 1])]


def derivative(f: Callable, k: int = 1) -> Callable:
    """x -> enclosure of f^(k) over the ball x (see :func:`taylor`)."""
    return lambda x: taylor(f, x, k)[k]


def sign_over_box(f: Callable, box, sign: int, *, max_boxes: int = MAX_BOXES) -> int:
    """Prove sign(f(x)) = ``sign`` for every x in the box (a list of (lo, hi) pairs) by
    branch and bound: ``f`` maps a list of arb balls to an enclosure of f over their
    product; undecided boxes are halved along their widest side (relative to the box). Returns the number of
    boxes used; raises :class:`CertificationError` when ``max_boxes`` do not suffice."""
    stack = [[(flint.arb(a), flint.arb(b)) for a, b in box]]
    scale = [b - a for a, b in stack[0]]       # split the side widest relative to the box
    boxes = 0
    while stack:
        current = stack.pop()
        boxes += 1
        if boxes > max_boxes:
            corner = ", ".join(a.str(8, radius=False) for a, _ in current)
            raise CertificationError(f"sign not decided within {max_boxes} boxes (stuck near {corner})")
        y = f([interval(a, b) for a, b in current])
        if (sign > 0 and y > 0) or (sign < 0 and y < 0):
            continue
        i = max(range(len(current)), key=lambda j: float(((current[j][1] - current[j][0]) / scale[j]).mid()))
        a, b = current[i]
        m = ((a + b) / 2).mid()
        stack.append(current[:i] + [(a, m)] + current[i + 1:])
        stack.append(current[:i] + [(m, b)] + current[i + 1:])
    return boxes


def sign_over(f: Callable, lo, hi, sign: int, *, max_boxes: int = MAX_BOXES) -> int:
    """Prove sign(f(x)) = ``sign`` for every x in [lo, hi] (``f`` maps a ball to an
    enclosure of f over it); see :func:`sign_over_box`."""
    return sign_over_box(lambda xs: f(xs[0]), [(lo, hi)], sign, max_boxes=max_boxes)


@dataclass(frozen=True)
class Extremum:
    """What :func:`extremum` proved about f on [lo, hi] from the sign of f'."""
    kind: str          # "min", "max" (unique interior critical point), "increasing", "decreasing"
    at: object         # enclosure of the critical point (None when monotone)
    boxes: int


def extremum(df: Callable, lo, hi, *, d2f: Callable | None = None, resolution: float = 1e-9) -> Extremum:
    """Locate the extremum of f on [lo, hi] from enclosures of its derivative ``df``.

    [lo, hi] is bisected until f' has a proved sign on every piece, except pieces narrower
    than ``resolution`` times the interval; those must form one cluster [a, b] with opposite
    proved signs on either side. On [a, b] f'' has a proved strict sign (``d2f``, or the
    Taylor derivative of ``df``), so f' has exactly one zero there, enclosed by :func:`root`:
    f is strictly monotone on either side of it. With no cluster, f is strictly monotone.
    """
    lo, hi = flint.arb(lo), flint.arb(hi)
    tiny = (hi - lo) * resolution
    stack, pieces, boxes = [(lo, hi)], [], 0
    while stack:
        a, b = stack.pop()
        boxes += 1
        if boxes > MAX_BOXES:
            raise CertificationError(f"extremum: more than {MAX_BOXES} boxes")
        y = df(interval(a, b))
        if y > 0 or y < 0:
            pieces.append((a, b, 1 if y > 0 else -1))
        elif (b - a) < tiny:
            pieces.append((a, b, 0))
        else:
            m = ((a + b) / 2).mid()
            stack += [(a, m), (m, b)]
    pieces.sort(key=lambda p: float(p[0].mid()))
    signs = [s for _, _, s in pieces]
    undecided = [i for i, s in enumerate(signs) if s == 0]
    if not undecided:
        if len(set(signs)) != 1:
            raise CertificationError("extremum: f' changes sign between decided pieces")
        return Extremum("increasing" if signs[0] > 0 else "decreasing", None, boxes)
    first, last = undecided[0], undecided[-1]
    if any(s != 0 for s in signs[first:last + 1]):
        raise CertificationError("extremum: more than one cluster of undecided pieces")
    left, right = set(signs[:first]), set(signs[last + 1:])
    if len(left) != 1 or len(right) != 1 or left == right:
        raise CertificationError("extremum: f' does not change sign across the undecided cluster")
    a, b = pieces[first][0], pieces[last][1]
    at, _, more = root(df, a, b, df=d2f)
    return Extremum("min" if left == {-1} else "max", at, boxes + more)


def root(f: Callable, lo, hi, *, df: Callable | None = None, width: float = 1e-30):
    """The unique root of ``f`` in [lo, hi], enclosed: f(lo), f(hi) have opposite proved
    signs, and f is strictly monotone there (sign of ``df``, or of the Taylor derivative of
    ``f``, proved by :func:`sign_over`); bisection narrows the bracket to ``width``.

    Returns (ball, (lo, hi) final bracket as exact arbs, boxes used for monotonicity).
    """
    lo, hi = flint.arb(lo), flint.arb(hi)
    flo, fhi = f(lo), f(hi)
    if not ((flo < 0 and fhi > 0) or (flo > 0 and fhi < 0)):
        raise CertificationError(f"no proved sign change on [{lo.str(10, radius=False)}, {hi.str(10, radius=False)}]")
    rising = bool(flo < 0)
    slope = df if df is not None else derivative(f)
    boxes = sign_over(slope, lo, hi, 1 if rising else -1)
    while (hi - lo) > width:
        m = ((lo + hi) / 2).mid()
        fm = f(m)
        if fm > 0:
            lo, hi = (lo, m) if rising else (m, hi)
        elif fm < 0:
            lo, hi = (m, hi) if rising else (lo, m)
        else:       # f(m) encloses 0: the root is within the ball's resolution of m
            break
    return interval(lo, hi), (lo, hi), boxes


def integral(f: Callable, a, b, *, analytic: bool = True):
    """A rigorous enclosure of the integral of the real function ``f`` over [a, b] (Arb's
    acb.integral; ``f(z, analytic)`` must return a non-finite ball where it is not
    analytic when ``analytic`` is set)."""
    value = flint.acb.integral(f, flint.acb(a), flint.acb(b))
    if not value.imag.contains(0) or not value.real.is_finite():
        raise CertificationError(f"integral over [{a}, {b}] not enclosed: {value}")
    return value.real
