"""The certificate machinery: tampering is caught, bad input gives one-line errors, the
stored certificates cover what the builders register, and enclosures agree with the float64
numerics where both compute the same number."""
import json
import subprocess
import sys

import pytest

from collapse import catalogue, certify, cli
from collapse.certify import core

certify.builders()


def _cli(capsys, *args):
    """``collapse certify ARGS`` in-process: (exit status, stdout)."""
    capsys.readouterr()
    status = cli.main(["certify", *map(str, args)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_every_builder_has_a_stored_certificate_of_a_known_claim():
    stored = {certify.claim_of(p) for p in certify.stored()}
    assert stored == set(core.REGISTRY)
    known = catalogue.load()
    assert all(claim in known for claim in stored)
    assert len(stored) >= 40 and {c.split(".")[0] for c in stored} == set(catalogue.PAPERS)


@pytest.mark.parametrize("where", ["lower", "upper", "value"])
def test_tampering_one_digit_fails_the_check(tmp_path, capsys, where):
    source = core.path_of("wang_ziyin.table_1")
    data = json.loads(source.read_text())
    name, entry = next((k, v) for k, v in data["enclosures"].items() if k == "beta = 7/4: s* = eta_dec*^2")
    text = entry[where]
    i = max(j for j, ch in enumerate(text) if ch.isdigit() and ch not in "09")
    entry[where] = text[:i] + str(int(text[i]) + 1) + text[i + 1:]
    target = tmp_path / source.name
    target.write_text(json.dumps(data))
    problems = core.check(target)
    assert problems and name in problems[0]
    status, out = _cli(capsys, "--check", target)
    assert status == 1 and target.name in out and name in out


def test_tampered_input_fails_the_check(tmp_path):
    source = core.path_of("lambda_vae.eq_12")
    data = json.loads(source.read_text())
    data["inputs"]["sigma"] = "0.91"
    target = tmp_path / source.name
    target.write_text(json.dumps(data))
    assert core.check(target)


def test_a_widened_enclosure_is_not_what_it_recomputes(tmp_path):
    source = core.path_of("wang_ziyin.eq_49")
    data = json.loads(source.read_text())
    entry = next(iter(data["enclosures"].values()))
    entry["lower"] = str(float(entry["lower"]) - 1)
    target = tmp_path / source.name
    target.write_text(json.dumps(data))
    assert any("is not what it recomputes" in p for p in core.check(target))


def test_bad_input_gives_one_line_errors(tmp_path, capsys):
    """A file that is not a certificate is refused in one line (exit 2); a certificate whose claim
    has no builder fails its check (exit 1)."""
    status, out = _cli(capsys, "--check", tmp_path / "nothing.json")
    assert status == 2 and "no such certificate file" in out and len(out.strip().splitlines()) == 1
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    status, out = _cli(capsys, "--check", broken)
    assert status == 2 and "not valid JSON" in out
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": core.FORMAT, "claim": "lambda_vae.nope", "covers": "statement", "statement": "", "inputs": {},
                                 "method": [], "precision_bits": 64, "enclosures": {}, "facts": []}))
    assert "no certificate builder for claim 'lambda_vae.nope'" in _cli(capsys, "--check", other)[1]
    status, out = _cli(capsys, "--claim", "foo.bar")
    assert status == 2 and "no certificate for claim(s) foo.bar" in out and len(out.strip().splitlines()) == 1


def test_compute_writes_the_stored_certificate(tmp_path, capsys):
    assert _cli(capsys, "--claim", "lambda_vae.eq_13", "--output-dir", tmp_path)[0] == 0
    written, stored = (json.loads(p.read_text()) for p in (tmp_path / "lambda_vae.eq_13.json",
                                                            core.path_of("lambda_vae.eq_13")))
    for key in ("statement", "inputs", "enclosures", "facts", "method", "precision_bits"):
        assert written[key] == stored[key]


@pytest.mark.integration
def test_check_all_stored():
    """`collapse certify --check` with no files re-derives every stored certificate (in a fresh
    process: nothing registered by other tests)."""
    proc = subprocess.run([sys.executable, "-m", "collapse", "certify", "--check"], capture_output=True, text=True)
    status, out = proc.returncode, proc.stdout + proc.stderr
    assert status == 0, out[-2000:]
    assert f"{len(certify.stored())} of {len(certify.stored())} certificates re-derived" in out


def test_enclosures_contain_the_float64_numerics():
    """A certificate and the numerics compute some of the same numbers by different code: they must agree."""
    import numpy as np
    from numerics import lambda_vae as lv, linear_latent_model as llm, tractable_beta_vae as tbv

    def value(claim, name):
        entry = json.loads(core.path_of(claim).read_text())["enclosures"][name]
        return float(entry["lower"]), float(entry["upper"])

    checks = [
        (value("lambda_vae.eq_13", "sigma*(5.3) = lam^(-1/(lam-1))"), float(lv.sigma_star(5.3))),
        (value("lambda_vae.figure_4_joint_convergence", "joint lam_J at delta = 1.01"), float(lv.joint_fixed_point(1.01)[0])),
        (value("wang_ziyin.table_1", "beta = 7/4: G(s*)"),
         float(llm.decoder_variance_objective([2, 1.5, 1, 0.8], 3.89 / 2.25, 1.75, 2, 4))),
        (value("optimal_beta.figure_1a", "ELBO*(2)"), tbv.quantities(tbv.optimum(tbv.paper_mixing(), 2.0), tbv.paper_mixing(), 2.0).elbo),
    ]
    for (lo, hi), x in checks:
        assert np.isclose(x, (lo + hi) / 2, rtol=1e-10, atol=0), (lo, hi, x)
