"""Who is asking: the client's address, also behind a load balancer.

Per-client limits (the hop's parked responses, admin sign-in throttling) need the
client, not the proxy: behind a proxy REMOTE_ADDR is the proxy for everyone. The
X-Forwarded-For header is only believed as far as the operator says proxies append to
it (TRUSTED_PROXY_HOPS): a client can write anything at its left end.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The address of the client that sent request (REMOTE_ADDR without trusted proxies;
    with TRUSTED_PROXY_HOPS = n, the n-th address from the right of X-Forwarded-For)."""
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_HOPS
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < hops:
        return remote  # not through the proxies we were told about: the peer itself
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
