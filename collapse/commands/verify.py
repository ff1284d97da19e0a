"""``collapse verify``: run every claim check and print the verdict table."""
from pathlib import Path

from collapse import catalogue
from collapse.cli import UserError, checked, writable_file
from collapse.verify import MAX_WORKERS, verify
from numerics import validation

HELP = "run every claim check with pytest and print the verdict table"


def add_arguments(parser):
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the table as JSON")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the table as Markdown")
    parser.add_argument("--latex", type=Path, metavar="PATH", help="also write the table as a LaTeX document")
    parser.add_argument("--write-grades", action="store_true",
                        help="record the grades of this run in docs/grades.json (source checkout)")
    parser.add_argument("--paper", metavar="KEY", choices=sorted(catalogue.PAPERS),
                        help="only this paper (mi_collapse, lambda_vae, optimal_beta, wang_ziyin)")
    parser.add_argument("--slow", action="store_true", help="include checks marked slow")
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k expression to select checks")
    parser.add_argument("--workers", default="auto", metavar="N",
                        help="run the checks in N processes (pytest-xdist); 'auto' (default): one per core, "
                             f"at most {MAX_WORKERS}; 0: in one process")
    parser.add_argument("pytest_args", nargs="*", help="extra arguments passed to pytest (after --)")


def _workers(text: str) -> int | str:
    """'auto' or a number of processes >= 0."""
    if text == "auto":
        return text
    try:
        number = int(text)
    except ValueError:
        raise UserError(f"--workers must be 'auto' or an integer >= 0; got {text!r}") from None
    return checked("--workers", validation.positive_int, number, 0)


def run(args) -> int:
    workers = _workers(args.workers)
    for option in ("json", "markdown", "latex"):  # checked before the checks run, not after
        if getattr(args, option) is not None:
            writable_file(getattr(args, option), f"--{option}")
    return verify(paper=args.paper, include_slow=args.slow, keyword=args.keyword,
                  json_path=args.json, markdown_path=args.markdown, latex_path=args.latex,
                  write_grades=args.write_grades, pytest_args=args.pytest_args, workers=workers)
