"""Page numbers from the query string: small, bounded, never an error."""

from __future__ import annotations

from typing import Final

from django.http import HttpRequest

# Offset paging stops here: past it a person refines the search instead (each page
# stays an index range read of at most MAX_PAGE * page size rows).
MAX_PAGE: Final = 40


def page_number(request: HttpRequest) -> int:
    text = request.GET.get("page", "1")
    number = int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else 1
    return min(max(number, 1), MAX_PAGE)
