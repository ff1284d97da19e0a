"""``collapse latex``: write every derivation as a LaTeX document (and PDF when TeX exists).

The derived sections are cached (``derivations.document.source_key``: any change of a derivation's
source, of SymPy or of mpmath rebuilds them), so a second run takes about a second, not ten.
"""
import os
from pathlib import Path

from collapse import ROOT, certify
from collapse.cli import UserError, writable_dir
from derivations import document

HELP = "regenerate the LaTeX document of all derivations (compiled to PDF when TeX is installed)"


def add_arguments(parser):
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "derivations.tex",
                        help="where to write the .tex file (default: docs/derivations.tex)")
    parser.add_argument("--no-pdf", action="store_true", help="do not try to compile the PDF")
    parser.add_argument("--no-cache", action="store_true",
                        help=f"derive everything again, without reading or writing the cache ({cache_dir()})")


def cache_dir() -> Path:
    """Where the derived sections are cached: $XDG_CACHE_HOME/collapse (default ~/.cache/collapse)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "collapse"


def run(args) -> int:
    if Path(args.output).is_dir():
        raise UserError(f"--output must be a .tex file; {args.output} is a folder")
    writable_dir(Path(args.output).parent, "--output's folder")
    tex = document.write(args.output, certify.latex_section(), cache_dir=None if args.no_cache else cache_dir())
    print(f"wrote {tex}")
    if not args.no_pdf:
        pdf = document.compile_pdf(tex)
        print(f"wrote {pdf}" if pdf else "no TeX engine found (latexmk/pdflatex): PDF skipped")
    return 0
