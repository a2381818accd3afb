"""The SCIM response type: JSON as application/scim+json."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

CONTENT_TYPE = "application/scim+json"


class ScimResponse(HttpResponse):
    def __init__(self, data: Any = None, *, status: int = 200, etag: str | None = None) -> None:
        if data is None:
            super().__init__(status=status)
        else:
            super().__init__(
                json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                status=status,
                content_type=CONTENT_TYPE,
            )
        self.data = data
        if etag:
            self["ETag"] = etag
