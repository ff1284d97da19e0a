"""The LaTeX document of every derivation: built from each module's ``sections()``.

``build()`` is deterministic; ``docs/derivations.tex`` is its checked-in output and a
test regenerates and compares it, so the writer cannot go stale.
"""
from __future__ import annotations

import importlib
import pkgutil
import shutil
import subprocess
from pathlib import Path

import derivations
from derivations.latex import render_section

PAPER_ORDER = ("mi_collapse", "lambda_vae", "optimal_beta", "wang_ziyin")
TITLES = {
    "mi_collapse": "Mutual information collapse in the linear-Gaussian $\\beta$-VAE and "
                   "$\\lambda\\beta$-VAE (paper 000)",
    "lambda_vae": "The $\\lambda$-VAE and variance equalisation (paper 002)",
    "optimal_beta": "A finite optimal $\\beta$ (paper 003)",
    "wang_ziyin": "Posterior collapse of a linear latent-variable model (paper 004)",
}
BANNER = ("% GENERATED FILE: do not edit. Regenerate with `collapse latex`.\n"
          "% Source: the derivations/ package; every equation is derived by SymPy.\n")
PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\allowdisplaybreaks
\title{Derivations checked by the collapse proof-checker}
\date{}
\begin{document}
\maketitle
Every display below is produced by SymPy from the models' Gaussian definitions, not typed
in from the papers. Tags in brackets name the paper's equation that the display
reproduces or corrects.
"""


def modules():
    """The derivation modules that contribute sections, in paper order."""
    found = []
    for info in pkgutil.iter_modules(derivations.__path__):
        module = importlib.import_module(f"derivations.{info.name}")
        if hasattr(module, "sections") and hasattr(module, "PAPER"):
            found.append(module)
    return sorted(found, key=lambda m: (PAPER_ORDER.index(m.PAPER), m.__name__))


def build(appendix: str = "") -> str:
    """The whole document as a string; ``appendix`` (LaTeX) goes before the end, e.g. the
    certified values that the collapse layer passes in (derivations may not import it)."""
    parts = [BANNER, PREAMBLE]
    current = None
    for module in modules():
        if module.PAPER != current:
            current = module.PAPER
            parts.append(rf"\section{{{TITLES[current]}}}")
        parts.extend(render_section(s) for s in module.sections())
    if appendix:
        parts.append(appendix)
    parts.append(r"\end{document}")
    return "\n\n".join(parts) + "\n"


def write(path: Path, appendix: str = "") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build(appendix))
    return path


def compile_pdf(tex: Path) -> Path | None:
    """Compile with latexmk (or pdflatex) when one is installed; return the PDF or None."""
    tex = Path(tex)
    if shutil.which("latexmk"):
        cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", tex.name]
    elif shutil.which("pdflatex"):
        cmd = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name]
    else:
        return None
    result = subprocess.run(cmd, cwd=tex.parent, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"LaTeX failed on {tex}:\n{result.stdout[-3000:]}")
    return tex.with_suffix(".pdf")
