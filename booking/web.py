"""Request helpers shared by pages and the API."""

from django.conf import settings


def client_ip(request) -> str:
    """The client address, trusting X-Forwarded-For only from our own proxies."""
    count = settings.TRUSTED_PROXY_COUNT
    if count:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(hops) >= count:
            return hops[-count]
    return request.META.get("REMOTE_ADDR", "unknown")
