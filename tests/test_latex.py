"""The generated LaTeX document: regenerated and compared, and compiled when TeX exists."""
import shutil

import pytest

from collapse import ROOT, certify
from derivations import document

CHECKED_IN = ROOT / "docs" / "derivations.tex"


@pytest.fixture(scope="module")
def built():
    return document.build(certify.latex_section())


def test_checked_in_document_is_up_to_date(built):
    """Run `collapse latex` after changing a derivation: the writer must not go stale."""
    assert CHECKED_IN.read_text() == built, "docs/derivations.tex is stale: run `collapse latex`"


def test_document_has_banner_and_every_paper_module(built):
    text = built
    assert text.startswith("% GENERATED FILE: do not edit.")
    for module in document.modules():
        for section in module.sections():
            assert section.title in text


@pytest.mark.skipif(not (shutil.which("latexmk") or shutil.which("pdflatex")), reason="no TeX engine")
def test_document_compiles_to_pdf(tmp_path):
    pdf = document.compile_pdf(document.write(tmp_path / "derivations.tex", certify.latex_section()))
    assert pdf is not None and pdf.stat().st_size > 1000
