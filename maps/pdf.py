"""HTML → PDF with WeasyPrint, offline: the document may embed ``data:`` URIs and nothing else.

Shared by every printable report (the site check; the investor fact sheets reuse it). WeasyPrint was chosen
over headless Chromium printing: it is a pip package (only Debian's Pango libraries besides), starts in the
server process without a browser per request, renders our plain A4 HTML in well under a second, and runs in
the slim Docker image unchanged (see README "Reports as PDF").
"""

from __future__ import annotations

import logging

from maps.errors import MapError

# WeasyPrint and fontTools log every font subset at INFO/WARNING; keep the server log quiet.
for _name in ("weasyprint", "fontTools"):
    logging.getLogger(_name).setLevel(logging.ERROR)


def html_to_pdf(html: str) -> bytes:
    """The PDF of an HTML document whose images and styles are all inline (``data:`` URIs, ``<style>``)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: Pango missing (apt-get install libpango-1.0-0 ...)
        raise MapError(f"PDF output needs WeasyPrint and Pango ({exc}); run bash scripts/system-deps.sh") from exc
    from weasyprint.urls import URLFetcher

    # data: only: a document that points anywhere else (http, file) gets nothing, offline by construction
    fetcher = URLFetcher(allowed_protocols={"data"}, allow_redirects=False)
    return HTML(string=html, url_fetcher=fetcher).write_pdf()
