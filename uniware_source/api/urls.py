"""URL rules: which tenant URL we talk to, which links we follow, and what a log may show of them.

Plain http is accepted only for loopback hosts (the emulator, a local proxy); everything else
must be https, since the password and the bearer token travel in these requests. The bearer
token goes only to the tenant's own origin (`same_origin`), never to the file host, and messages
name an origin (`origin_text`) or a link without its query string (`display_url`), never more.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urljoin, urlsplit

import requests

from uniware_source.api.errors import ConfigurationError, RedirectRefusedError


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_base_url(tenant: str | None, base_url: str | None) -> str:
    """`base_url` wins over `tenant`; plain http is accepted only for loopback hosts."""
    if base_url:
        url, setting = base_url.strip().rstrip("/"), "sources.uniware.base_url"
    elif tenant:
        url, setting = f"https://{tenant.strip()}.unicommerce.com", "sources.uniware.tenant"
    else:
        raise ConfigurationError(
            "No Uniware tenant configured: set sources.uniware.tenant (or base_url), "
            "e.g. SOURCES__UNIWARE__TENANT=mycompany"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{setting} must be an http(s) URL, got {url!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigurationError(
            f"{setting} uses plain http for {parts.hostname!r}: only loopback hosts may; use https"
        )
    return url


def file_url_problem(url: str) -> str | None:
    """Why a file link must not be fetched, or None: it must be http(s), and https unless loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"filePath is not an http(s) URL: {display_url(url)!r}"
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return f"refusing plain-http filePath {display_url(url)}"
    return None


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port, the port spelled out: what must match for a token to be sent."""
    parts = urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default_port


def same_origin(url: str, other: str) -> bool:
    return origin(url) == origin(other)


def origin_text(url: str) -> str:
    """`scheme://host:port` of a URL, the port spelled out: no user, path or query string."""
    try:
        scheme, host, port = origin(url)
    except ValueError:  # a port that is not a number
        return "an unreadable address"
    if not scheme or not host:
        return "an unreadable address"
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")


def display_url(url: str) -> str:
    """The URL without its query string: pre-signed links carry their signature there."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def redirect_refusal(response: requests.Response, called: str, what: str) -> RedirectRefusedError | None:
    """The error for a redirect in answer to `called`, an API or token URL; None if it is none.

    Such calls are sent with redirects off and a redirect is never followed, to another origin or
    within the tenant's: the answer must come from the tenant, and nothing of the call, the bearer
    token or the credentials least of all, may reach another host. The message names both origins,
    never a path or a query string."""
    if not response.is_redirect:
        return None
    status = response.status_code
    here = origin_text(called)
    try:
        there = origin_text(urljoin(called, response.headers.get("Location", "")))
    except ValueError:  # e.g. a broken IPv6 literal
        there = "an unreadable address"
    if there == here:
        text = (
            f"Uniware {what}: {here} answered HTTP {status}, a redirect within the same origin; not followed"
        )
    else:
        text = (
            f"Uniware {what}: {here} redirected the call to {there} (HTTP {status}); not followed: "
            "the API's answers must come from the tenant, and its credentials go nowhere else"
        )
    return RedirectRefusedError(text, http_status=status)
