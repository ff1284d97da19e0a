"""``collapse certify``: compute ball-arithmetic certificates, or re-check stored ones."""
import time
from pathlib import Path

from collapse import catalogue, certify
from collapse.certify import core
from collapse.cli import UserError, writable_dir

HELP = "compute Arb certificates of scalar claims (--check: re-derive stored ones from their inputs)"


def add_arguments(parser):
    parser.add_argument("--paper", choices=sorted(catalogue.PAPERS), help="only this paper's claims")
    parser.add_argument("--claim", action="append", metavar="ID", help="only this claim (repeatable)")
    parser.add_argument("--check", nargs="*", type=Path, metavar="FILE",
                        help="re-check these certificate files (all stored ones when none is given)")
    parser.add_argument("--output-dir", type=Path, default=Path("runs") / "certificates",
                        help="where to write certificates (default runs/certificates; the stored ones, which "
                             "the claim checks re-derive, are regenerated with --output-dir collapse/certificates)")


def _check(files: list[Path]) -> int:
    """Re-derive ``files``: a file that is not a certificate is a user error (exit 2); a
    certificate that its inputs do not reproduce is a finding (FAIL, exit 1)."""
    files = files or certify.stored()
    if not files:
        raise UserError(f"no certificate files in {core.DIRECTORY}")
    for path in files:
        try:
            core.load(path)
        except core.CertificateFileError as err:
            raise UserError(f"--check: {err}") from None
    failed = 0
    for path in files:
        start = time.perf_counter()
        problems = core.check(path)
        if problems:
            failed += 1
            for problem in problems:
                print(f"FAIL {problem}")
        else:
            print(f"ok   {path} ({time.perf_counter() - start:.2f} s)")
    print(f"{len(files) - failed} of {len(files)} certificates re-derived")
    return 1 if failed else 0


def run(args) -> int:
    known = certify.builders()
    if args.check is not None:
        if args.paper or args.claim:
            raise UserError("--check takes files, not --paper or --claim")
        return _check(args.check)
    claims = sorted(known)
    if args.paper:
        claims = [c for c in claims if c.split(".")[0] == args.paper]
    if args.claim:
        unknown = [c for c in args.claim if c not in known]
        if unknown:
            raise UserError(f"--claim: no certificate for claim(s) {', '.join(unknown)}; certified claims: "
                            f"{', '.join(sorted(known))}")
        claims = [c for c in claims if c in args.claim]
    if not claims:
        raise UserError("no certified claim matches --paper / --claim")
    writable_dir(args.output_dir, "--output-dir")
    for claim in claims:
        start = time.perf_counter()
        try:
            data = core.compute(claim)
        except core.CertificationError as err:
            print(f"FAIL {claim}: {err}")
            return 1
        path = core.write(data, args.output_dir)
        print(f"wrote {path} ({len(data['enclosures'])} enclosures, {len(data['facts'])} facts, "
              f"{time.perf_counter() - start:.2f} s)")
    return 0
