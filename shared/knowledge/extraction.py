"""Text out of a source's bytes: Markdown/plain text as is, HTML (stdlib parser), PDF (pypdf), DOCX.

The result keeps structure as Markdown headings, which ``chunking`` splits on. pypdf and
python-docx are imported here only, inside the functions, so only the ingestion worker's layer
needs them; HTTP functions never import this module's heavy parts.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain", "text/markdown"})
PDF_TYPE = "application/pdf"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SUPPORTED_TYPES = HTML_TYPES | TEXT_TYPES | {PDF_TYPE, DOCX_TYPE}


class ExtractionFailed(ValueError):
    """The bytes hold no text we can read; the source is marked ``failed`` with this message."""


class _HtmlText(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head", "nav", "footer"})
    _BLOCK = frozenset({"p", "div", "li", "br", "tr", "section", "article", "blockquote", "pre", "dd", "dt"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif re.fullmatch(r"h[1-6]", tag) or tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_text(html: str) -> str:
    """Visible text of an HTML page, headings as Markdown headings."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = (line.strip() for line in "".join(parser.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExtractionFailed("the file is not UTF-8 text") from exc


def pdf_text(data: bytes) -> str:
    """Each page's text; an encrypted or unreadable PDF fails with a clear message."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ExtractionFailed("the PDF is encrypted")
        return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
    except ExtractionFailed:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ExtractionFailed("the file is not a readable PDF") from exc


def docx_text(data: bytes) -> str:
    """Paragraphs of a Word document, its Heading styles as Markdown headings."""
    import zipfile

    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ExtractionFailed("the file is not a readable DOCX document") from exc
    lines = []
    for paragraph in document.paragraphs:
        style = paragraph.style.name if paragraph.style is not None and paragraph.style.name else ""
        level = style.removeprefix("Heading ").strip()
        prefix = "#" * int(level) + " " if style.startswith("Heading ") and level.isdigit() else ""
        lines.append(prefix + paragraph.text)
    return "\n\n".join(lines)


def extract(data: bytes, media_type: str) -> str:
    """The text of ``data``; ``ExtractionFailed`` when it has none or cannot be read."""
    kind = media_type.split(";")[0].strip().lower()
    if kind in TEXT_TYPES:
        text = _decode(data)
    elif kind in HTML_TYPES:
        text = html_text(_decode(data))
    elif kind == PDF_TYPE:
        text = pdf_text(data)
    elif kind == DOCX_TYPE:
        text = docx_text(data)
    else:
        raise ExtractionFailed(f"unsupported media type {kind!r}")
    if not text.strip():
        raise ExtractionFailed("the document has no text")
    return text
