"""The generated LaTeX document: regenerated and compared, and compiled when TeX exists.

Deriving the whole document takes SymPy several seconds, so the tests that build it are
end-to-end runs (marker ``integration``, outside the default run; CI runs them)."""
import shutil

import pytest

from collapse import ROOT, certify
from derivations import document

CHECKED_IN = ROOT / "docs" / "derivations.tex"


@pytest.fixture(scope="module")
def built():
    return document.build(certify.latex_section())


@pytest.mark.integration
def test_checked_in_document_is_up_to_date(built):
    """Run `collapse latex` after changing a derivation: the writer must not go stale."""
    assert CHECKED_IN.read_text() == built, "docs/derivations.tex is stale: run `collapse latex`"


@pytest.mark.integration
def test_document_has_banner_and_every_paper_module(built):
    text = built
    assert text.startswith("% GENERATED FILE: do not edit.")
    for module in document.modules():
        for section in module.sections():
            assert section.title in text


@pytest.mark.integration
@pytest.mark.skipif(not (shutil.which("latexmk") or shutil.which("pdflatex")), reason="no TeX engine")
def test_document_compiles_to_pdf(built, tmp_path):
    tex = tmp_path / "derivations.tex"
    tex.write_text(built)
    pdf = document.compile_pdf(tex)
    assert pdf is not None and pdf.stat().st_size > 1000


@pytest.mark.integration
def test_cached_build_equals_the_fresh_build_and_is_keyed_by_the_sources(built, tmp_path, monkeypatch):
    """`collapse latex` reads the derived sections from a cache named by a digest of the sources."""
    appendix = certify.latex_section()
    assert document.build(appendix, cache_dir=tmp_path) == built          # a miss derives and stores
    (stored,) = tmp_path.glob("derivations-*.tex")
    assert stored.name == f"derivations-{document.source_key()}.tex"
    stored.write_text(stored.read_text() + "\n% read from the cache")
    assert "% read from the cache" in document.build(appendix, cache_dir=tmp_path)   # a hit reads it
    real = document.importlib.metadata.version
    monkeypatch.setattr(document.importlib.metadata, "version",
                        lambda name: "0.0" if name == "sympy" else real(name))
    assert document.source_key() != stored.name[len("derivations-"):-len(".tex")]   # another SymPy misses


def test_any_edit_of_a_derivation_changes_the_cache_key(tmp_path, monkeypatch):
    copy = tmp_path / "derivations"
    shutil.copytree(ROOT / "derivations", copy, ignore=shutil.ignore_patterns("__pycache__"))
    key = document.source_key()
    monkeypatch.setattr(document.derivations, "__file__", str(copy / "__init__.py"))
    assert document.source_key() == key
    with open(copy / "lambda_vae.py", "a") as f:
        f.write("\n")
    assert document.source_key() != key
