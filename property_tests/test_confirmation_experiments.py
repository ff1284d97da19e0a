"""Claim checks of issue 7's confirmation experiments on trained conv VAEs.

Each fast check reads a stored result (``results/<experiment>/result.json``), refuses it
when its configuration is not the command's current default (a stale result), recomputes
the criterion that the experiment's docstring fixed before the runs from the stored
per-run numbers, asserts the outcome the catalogue records, and logs the key numbers as
evidence. Each slow check trains the experiment again at the same reduced scale (10-40
minutes on two shared CPU cores) and asserts the same outcome. Only JSON is read by the
fast checks: they need neither torch nor a GPU.
"""
import json

import numpy as np
import pytest

from deep import confirmation
from deep.experiments import linear_latent_model as thresholds

pytestmark = pytest.mark.deep


def rerun(name: str, tmp_path) -> dict:
    """Train experiment ``name`` at its default configuration into ``tmp_path``; its result."""
    from collapse.cli import main

    out = tmp_path / "out"
    assert main(["experiment", name.replace("_", "-"), "--workers", "2", "--output-dir", str(out),
                 "--work-dir", str(tmp_path / "work"), "--no-progress"]) == 0
    return json.loads((out / confirmation.RESULT).read_text())


# ---------------------------------------------------------------- prediction 3: thresholds of [wang_ziyin]


def thresholds_transfer(result: dict, evidence) -> bool:
    """Collapse (no active unit) in every seed above beta_c and in none below, from the per-run numbers."""
    rows = result["rows"]
    for row in rows:
        assert row["collapsed"] == [au == 0 for au in row["active_units"]]
        assert row["beta"] == pytest.approx(row["multiple"] * result["beta_c"])
        evidence(f"AU at {row['multiple']:g} beta_c (per seed; theory {row['theory']['active_units']})",
                 str(row["active_units"]))
        evidence(f"KL nats at {row['multiple']:g} beta_c (mean; theory {row['theory']['kl']:.3f})",
                 float(np.mean(row["kl"])))
    evidence("beta_c = zeta_1^2 / eta_dec^2", result["beta_c"])
    return (all(not any(r["collapsed"]) for r in rows if r["multiple"] < 1)
            and all(all(r["collapsed"]) for r in rows if r["multiple"] > 1))


@pytest.mark.claim("wang_ziyin.section_5_conv")
def test_collapse_thresholds_transfer_to_a_trained_conv_vae(evidence):
    result = confirmation.load(thresholds.NAME, thresholds.config())
    assert result["beta_c"] == pytest.approx(result["zeta_squared"][0] / result["config"]["eta_dec"] ** 2)
    transfers = thresholds_transfer(result, evidence)
    assert transfers == result["criterion"]["transfers"]
    assert transfers


@pytest.mark.slow
@pytest.mark.claim("wang_ziyin.section_5_conv")
def test_collapse_thresholds_transfer_when_trained_again(tmp_path, evidence):
    assert thresholds_transfer(rerun(thresholds.NAME, tmp_path), evidence)
