"""Text extraction per format, and clear failures for what cannot be read."""

from __future__ import annotations

import io

import pytest

from bench.knowledge.pdf import build_pdf
from shared.knowledge.extraction import DOCX_TYPE, PDF_TYPE, ExtractionFailed, extract


def test_html_keeps_headings_and_drops_scripts() -> None:
    html = b"<html><head><style>p{}</style></head><body><h2>Lazer</h2><p>Piscina <b>aquecida</b>.</p>"
    html += b"<script>alert(1)</script></body></html>"
    assert extract(html, "text/html; charset=utf-8") == "## Lazer\n\nPiscina aquecida."


def test_a_pdf_gives_its_pages_text() -> None:
    text = extract(build_pdf(10_000), PDF_TYPE)
    assert "Pagina 0 linha 0" in text


def test_an_encrypted_pdf_fails_saying_so() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(build_pdf(5_000))))
    writer.encrypt("segredo")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(ExtractionFailed, match="encrypted"):
        extract(out.getvalue(), PDF_TYPE)


def test_a_corrupt_pdf_fails_saying_so() -> None:
    with pytest.raises(ExtractionFailed, match="not a readable PDF"):
        extract(b"%PDF-1.4\n garbage", PDF_TYPE)


def test_a_docx_keeps_its_heading_styles() -> None:
    from docx import Document

    document = Document()
    document.add_heading("Financiamento", level=1)
    document.add_paragraph("Entrada de 10 por cento.")
    out = io.BytesIO()
    document.save(out)
    assert extract(out.getvalue(), DOCX_TYPE) == "# Financiamento\n\nEntrada de 10 por cento."


def test_an_unsupported_media_type_fails() -> None:
    with pytest.raises(ExtractionFailed, match="unsupported media type"):
        extract(b"\x89PNG", "image/png")


def test_an_empty_document_fails() -> None:
    with pytest.raises(ExtractionFailed, match="no text"):
        extract(b"   ", "text/plain")
