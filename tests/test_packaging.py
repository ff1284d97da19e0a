"""The package ships what `collapse verify` needs, and an installed wheel verifies outside the source tree."""
import json
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from collapse import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_source_package_is_shipped():
    """pyproject lists its packages by hand (results/ ships as deep.results): hold the list to the tree."""
    mapped = {v: k for k, v in PYPROJECT["package-dir"].items()}
    found = set()
    for init in ROOT.glob("*/**/__init__.py"):
        folder = init.parent.relative_to(ROOT)
        # runs/ and mutants/ are git-ignored output (benchmarks/mutation.py copies the tree there)
        if folder.parts[0] in {"tests", "benchmarks", ".venv", "build", "runs", "mutants"} \
                or folder.parts[0].startswith("."):
            continue
        name = mapped.get(str(folder), ".".join(folder.parts))
        found.add(name)
    assert found == set(PYPROJECT["packages"])


@pytest.mark.slow
def test_an_installed_wheel_verifies_from_a_folder_outside_the_source_tree(tmp_path):
    """Build the wheel, install it into a fresh virtual environment (its dependencies come from
    this environment's site-packages, not from the checkout), and run `collapse verify` on a
    few fast checks, including one that reads a stored experiment result, from an empty folder."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist), str(ROOT)], check=True, capture_output=True)
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # the dependencies, appended after the venv's own site-packages; .pth files there (the
    # checkout's editable install) are not processed, so `collapse` can only come from the wheel
    (Path(purelib) / "outer.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True,
                   capture_output=True)
    where = tmp_path / "elsewhere"
    where.mkdir()
    origin = subprocess.run([str(python), "-c", "import collapse, property_tests, deep.results as r; "
                             "print(collapse.__file__, property_tests.__file__, r.STORED)"],
                            cwd=where, check=True, capture_output=True, text=True).stdout
    assert str(ROOT) not in origin and purelib in origin
    out = where / "verdicts.json"
    proc = subprocess.run([str(python), "-m", "collapse", "verify", "-k",
                           "test_woodbury or test_collapse_thresholds_transfer_to_a_trained_conv_vae",
                           "--json", str(out)], cwd=where, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {r["id"]: r for r in json.loads(out.read_text())}
    assert rows["mi_collapse.eq_21"]["passed"] >= 1
    assert rows["wang_ziyin.section_5_conv"]["grade"] == "experiment-reduced"
