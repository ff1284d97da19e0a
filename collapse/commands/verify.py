"""``collapse verify``: run every claim check and print the verdict table."""
from pathlib import Path

from collapse import catalogue
from collapse.cli import writable_file
from collapse.verify import verify

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
    parser.add_argument("pytest_args", nargs="*", help="extra arguments passed to pytest (after --)")


def run(args) -> int:
    for option in ("json", "markdown", "latex"):  # checked before the checks run, not after
        if getattr(args, option) is not None:
            writable_file(getattr(args, option), f"--{option}")
    return verify(paper=args.paper, include_slow=args.slow, keyword=args.keyword,
                  json_path=args.json, markdown_path=args.markdown, latex_path=args.latex,
                  write_grades=args.write_grades, pytest_args=args.pytest_args)
