"""The one LaTeX printer, and the plain data a derivation hands to the document."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter


class Printer(LatexPrinter):
    """SymPy's LaTeX printer with the papers' matrix notation (A^T as A^\\top, tr, |X|, I_n)."""

    def _print_Transpose(self, expr):
        arg = expr.arg
        inner = self._print(arg)
        if not isinstance(arg, sp.MatrixSymbol):
            inner = rf"\left({inner}\right)"
        return rf"{inner}^{{\top}}"

    def _print_Trace(self, expr):
        return rf"\operatorname{{tr}}\left({self._print(expr.arg)}\right)"

    def _print_Determinant(self, expr):
        return rf"\left|{self._print(expr.arg)}\right|"

    def _print_Identity(self, expr):
        return rf"\mathbf{{I}}_{{{self._print(expr.rows)}}}"

    def _print_ZeroMatrix(self, expr):
        return r"\mathbf{0}"

    def _print_MatMul(self, expr):
        coeff, mats = expr.as_coeff_mmul()
        body = " ".join(self.parenthesize(a, sp.printing.precedence.PRECEDENCE["Mul"])
                        for a in mats.args)
        if coeff == 1:
            return body
        if coeff == -1:
            return "- " + body
        text = self._print(coeff)
        if isinstance(coeff, sp.Add):
            text = rf"\left({text}\right)"
        return f"{text} {body}"


def latex(expr) -> str:
    """LaTeX for a SymPy expression (strings pass through as raw LaTeX)."""
    if isinstance(expr, str):
        return expr
    return Printer({"mul_symbol": None}).doprint(expr)


@dataclass(frozen=True)
class Step:
    """One displayed line of a derivation, ``lhs = rhs`` (or ``rhs`` alone).

    ``lhs``/``rhs`` are SymPy expressions or raw LaTeX strings; ``ref`` cites the paper
    (e.g. ``"eq. (6)"``); ``text`` is the prose printed before the display.
    """
    text: str
    rhs: Any
    lhs: Any = None
    ref: str = ""
    relation: str = "="


@dataclass(frozen=True)
class Section:
    title: str
    intro: str = ""
    steps: tuple[Step, ...] = field(default_factory=tuple)


def _terms(expr) -> list[str]:
    """The printed summands of an expression, each with its leading sign."""
    if isinstance(expr, (sp.Add, sp.MatAdd)):
        ordered = Printer()._as_ordered_terms(expr) if isinstance(expr, sp.Add) else list(expr.args)
        out = []
        for term in ordered:
            text = latex(term)
            out.append(text if text.startswith("-") else "+ " + text)
        out[0] = out[0].removeprefix("+ ")
        return out
    return [latex(expr)]


def _broken(terms: list[str], width: int) -> list[str]:
    lines, current = [], ""
    for term in terms:
        if current and len(current) + len(term) > width:
            lines.append(current)
            current = ""
        current = f"{current} {term}".strip()
    return lines + [current]


def render_step(step: Step, width: int = 110) -> str:
    """A displayed equation; long sums are broken over aligned lines."""
    rhs_lines = _broken(_terms(step.rhs) if not isinstance(step.rhs, str) else [step.rhs], width)
    lhs = "" if step.lhs is None else f"{latex(step.lhs)} {step.relation} "
    body = " \\\\ &\\qquad ".join(rhs_lines)
    tag = rf"\tag*{{\small [{step.ref}]}}" if step.ref else ""
    display = (r"\begin{equation*}\begin{aligned}" + lhs + "&" + body + r"\end{aligned}"
               + tag + r"\end{equation*}")
    return f"{step.text}\n\n{display}" if step.text else display


def render_section(section: Section) -> str:
    parts = [rf"\subsection*{{{section.title}}}"]
    if section.intro:
        parts.append(section.intro)
    parts.extend(render_step(s) for s in section.steps)
    return "\n\n".join(parts)
