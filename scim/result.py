"""What a resource handler returns; views and /Bulk both turn it into a response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scim.responses import ScimResponse


@dataclass(frozen=True)
class Result:
    status: int
    body: dict[str, Any] | None = None
    etag: str | None = None
    location: str | None = None

    def response(self) -> ScimResponse:
        response = ScimResponse(self.body, status=self.status, etag=self.etag)
        if self.location and self.status == 201:
            response["Location"] = self.location
        return response
