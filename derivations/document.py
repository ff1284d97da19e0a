"""The LaTeX document of every derivation: built from each module's ``sections()``.

``build()`` is deterministic; ``docs/derivations.tex`` is its checked-in output and a
test regenerates and compares it, so the writer cannot go stale. Deriving everything takes
SymPy several seconds, so ``build(cache_dir=...)`` (what ``collapse latex`` uses) keeps the
rendered derivations in a file named by :func:`source_key`, a digest of the package's sources
and of the SymPy, mpmath and Python versions: any edit of a derivation misses the cache.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import derivations

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


def source_key() -> str:
    """A digest of what the derived sections depend on: every source file of the ``derivations``
    package and the versions of SymPy, mpmath and Python."""
    digest = hashlib.sha256(f"{sys.version}|sympy {importlib.metadata.version('sympy')}|"
                            f"mpmath {importlib.metadata.version('mpmath')}".encode())
    for path in sorted(Path(derivations.__file__).parent.glob("*.py")):
        digest.update(f"{path.name}\0{len(path.read_bytes())}\0".encode() + path.read_bytes())
    return digest.hexdigest()[:24]


def _derived() -> str:
    """Each paper's title and the rendered sections of its modules (SymPy does the work here)."""
    from derivations.latex import render_section

    parts, current = [], None
    for module in modules():
        if module.PAPER != current:
            current = module.PAPER
            parts.append(rf"\section{{{TITLES[current]}}}")
        parts.extend(render_section(s) for s in module.sections())
    return "\n\n".join(parts)


def _derived_cached(cache_dir: Path) -> str:
    """:func:`_derived`, read from ``cache_dir`` when a build of the same sources is stored there."""
    cached = Path(cache_dir) / f"derivations-{source_key()}.tex"
    if cached.is_file():
        return cached.read_text()
    text = _derived()
    try:  # an unwritable cache costs time, not correctness
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, cached)
    except OSError:
        pass
    return text


def build(appendix: str = "", cache_dir: Path | None = None) -> str:
    """The whole document as a string; ``appendix`` (LaTeX) goes before the end, e.g. the
    certified values that the collapse layer passes in (derivations may not import it).
    With ``cache_dir``, the derived sections come from there when the sources are unchanged."""
    derived = _derived() if cache_dir is None else _derived_cached(cache_dir)
    parts = [BANNER, PREAMBLE, derived, *([appendix] if appendix else []), r"\end{document}"]
    return "\n\n".join(parts) + "\n"


def write(path: Path, appendix: str = "", cache_dir: Path | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build(appendix, cache_dir))
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
