"""``collapse latex``: write every derivation as a LaTeX document (and PDF when TeX exists)."""
from pathlib import Path

from collapse import ROOT, certify
from collapse.cli import UserError, writable_dir
from derivations import document

HELP = "regenerate the LaTeX document of all derivations (compiled to PDF when TeX is installed)"


def add_arguments(parser):
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "derivations.tex",
                        help="where to write the .tex file (default: docs/derivations.tex)")
    parser.add_argument("--no-pdf", action="store_true", help="do not try to compile the PDF")


def run(args) -> int:
    if Path(args.output).is_dir():
        raise UserError(f"--output must be a .tex file; {args.output} is a folder")
    writable_dir(Path(args.output).parent, "--output's folder")
    tex = document.write(args.output, certify.latex_section())
    print(f"wrote {tex}")
    if not args.no_pdf:
        pdf = document.compile_pdf(tex)
        print(f"wrote {pdf}" if pdf else "no TeX engine found (latexmk/pdflatex): PDF skipped")
    return 0
