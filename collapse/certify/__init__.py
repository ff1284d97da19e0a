"""Certified verdicts: rigorous Arb ball-arithmetic proofs of scalar claims, re-checkable by anyone.

One module per model (``linear_gaussian_vae`` for paper 000, ``lambda_vae`` for 002,
``tractable_beta_vae`` for 003, ``linear_latent_model`` for 004) registers a builder per
claim; :mod:`collapse.certify.core` holds the certificate format, the interval tools,
writing and re-checking. The certificates are stored as package data in
``collapse/certificates/<claim id>.json``; ``collapse certify --check`` re-derives each
from its stored inputs.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

from collapse.certify import core

MODULES = {"linear_gaussian_vae": "mi_collapse", "lambda_vae": "lambda_vae",
           "tractable_beta_vae": "optimal_beta", "linear_latent_model": "wang_ziyin"}
"""Certificate module -> the paper (catalogue key) whose claims it certifies."""


def builders() -> dict[str, core.Spec]:
    """Every registered certificate builder by claim id."""
    for name in MODULES:
        importlib.import_module(f"collapse.certify.{name}")
    return core.REGISTRY


def stored(directory: Path = core.DIRECTORY) -> list[Path]:
    """The stored certificate files, sorted by claim id."""
    return sorted(Path(directory).glob("*.json"))


def claim_of(path: Path) -> str:
    """The claim a stored certificate file is named after."""
    return Path(path).stem


_TEX = {"\\": r"\textbackslash{}", "_": r"\_", "^": r"\^{}", "{": r"\{", "}": r"\}", "#": r"\#", "%": r"\%",
        "&": r"\&", "$": r"\$", "~": r"\~{}", "<": "$<$", ">": "$>$", "|": "$|$"}


def _tex(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in text)


def _tex_number(value: str) -> str:
    mantissa, _, exponent = value.partition("e")
    return mantissa + (rf" \times 10^{{{int(exponent)}}}" if exponent else "")


def latex_section(directory: Path = core.DIRECTORY) -> str:
    """A "Certified values" section for the derivations document, from the stored certificates
    (no python-flint needed): each quantity printed with only the digits its ball guarantees."""
    papers = {}
    for path in stored(directory):
        data = json.loads(path.read_text())
        papers.setdefault(data["claim"].split(".")[0], []).append(data)
    lines = [r"\section{Certified values}",
             "Each value below is printed with only the digits that its Arb ball guarantees (correct to "
             "$\\pm 1$ in the last digit), from the certificates in \\texttt{collapse/certificates/}; "
             "\\texttt{collapse certify --check} re-derives them from their exact inputs."]
    for paper in MODULES.values():
        if paper not in papers:
            continue
        lines.append(rf"\subsection*{{\texttt{{{_tex(paper)}}}}}")
        for data in papers[paper]:
            lines.append(rf"\paragraph{{\texttt{{{_tex(data['claim'])}}}}} {_tex(data['statement'])}")
            lines.append(r"\begin{itemize}")
            lines += [rf"\item {_tex(name)}: ${_tex_number(entry['value'])}$" for name, entry in data["enclosures"].items()]
            lines.append(r"\end{itemize}")
    return "\n".join(lines)
