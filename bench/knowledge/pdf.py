"""A large, valid PDF written by hand (no PDF library): pages of Portuguese text in Helvetica."""

from __future__ import annotations

import io

_WORDS = [
    "o",
    "condomínio",
    "oferece",
    "piscina",
    "aquecida",
    "academia",
    "salão",
    "de",
    "festas",
    "garagem",
    "coberta",
    "portaria",
    "24",
    "horas",
    "financiamento",
    "pela",
    "caixa",
    "entrada",
    "parcelada",
    "entrega",
    "prevista",
    "vistoria",
    "garantia",
    "acabamentos",
    "porcelanato",
]


def _page_stream(page: int, lines: int = 60) -> bytes:
    rows = []
    for line in range(lines):
        words = " ".join(_WORDS[(page * 7 + line * 3 + i) % len(_WORDS)] for i in range(12))
        text = f"Pagina {page} linha {line}: {words}".encode("latin-1", "replace")
        rows.append(b"BT /F1 9 Tf 40 " + str(800 - line * 12).encode() + b" Td (" + text + b") Tj ET")
        if line % 15 == 14:
            rows.append(b"")  # paragraph breaks come from the text's layout only
    return b"\n".join(rows)


def build_pdf(target_bytes: int) -> bytes:
    """A PDF of at least ``target_bytes``, one text page after another."""
    out = io.BytesIO()
    offsets: dict[int, int] = {}

    def write(number: int, body: bytes) -> int:
        offsets[number] = out.tell()
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
        return number

    out.write(b"%PDF-1.4\n")
    write(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    write(3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids: list[int] = []
    number, page = 3, 0
    while out.tell() < target_bytes:
        stream = _page_stream(page)
        content = write(number + 1, b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        resources = b"/Resources << /Font << /F1 3 0 R >> >>"
        kids.append(
            write(
                number + 2,
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] %s /Contents %d 0 R >>" % (resources, content),
            )
        )
        number, page = number + 2, page + 1
    refs = b" ".join(b"%d 0 R" % k for k in kids)
    write(2, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (len(kids), refs))  # the tree, written last
    xref = out.tell()
    out.write(f"xref\n0 {number + 1}\n0000000000 65535 f \n".encode())
    for n in range(1, number + 1):
        out.write(f"{offsets[n]:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {number + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()
