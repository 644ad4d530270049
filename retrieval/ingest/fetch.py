"""Fetch a news article by URL: httpx with an SSRF guard, trafilatura for text, title and date.

The guard refuses anything but http(s), and any host that resolves to an address that is not
globally routable (private, loopback, link-local, multicast, reserved, shared, cloud
metadata). Redirects are followed by hand so every hop is checked, and each request goes to
the address that was checked (the Host header and TLS name stay the original host), so a DNS
answer that changes between check and connect cannot smuggle a private address in.
`RAGBOT_ALLOWED_HOSTS` names hosts that skip the address check (a local test server).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from retrieval.errors import RagbotError
from retrieval.ingest.loaders import Loaded, from_html
from retrieval.settings import Settings
from retrieval.types import IngestProblem

USER_AGENT = "ragbot/0.1 (article fetcher for a question-answering bot; +https://github.com/ragbot)"
HTML_TYPES = ("text/html", "application/xhtml+xml")
MAX_REDIRECTS = 5
# Metadata services that are not covered by "not globally routable" everywhere.
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IMDS over IPv6
}
METADATA_NAMES = {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}

Resolver = Callable[[str, int], list[str]]


class FetchRefused(RagbotError):
    """A URL that ragbot will not fetch, or a page it cannot use; the message says why."""


@dataclass(frozen=True)
class Page:
    """A fetched HTML page."""

    url: str  # as requested (fragment removed): the document's id and source
    final_url: str  # after redirects
    html: bytes
    content_type: str


def normalize_url(url: str) -> str:
    """The URL without its fragment and surrounding space (what identifies the document)."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path or "/", parts.query, ""))


def redact_url(url: str) -> str:
    """The URL with any user name and password replaced by `***` (it is echoed in messages)."""
    parts = urlsplit(url.strip())
    if "@" not in parts.netloc:
        return url.strip()
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, "***@" + host, parts.path, parts.query, parts.fragment))


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the host resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchRefused(f"the host {host!r} could not be resolved ({exc}).") from exc
    return sorted({str(info[4][0]) for info in infos})


def address_problem(address: str) -> str | None:
    """Why connecting to this address is refused, or None when it is a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    mapped = getattr(ip, "ipv4_mapped", None) or getattr(ip, "sixtofour", None)
    if mapped is not None:
        ip = mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for label, flag in (
        ("a loopback address", ip.is_loopback),
        ("a link-local address", ip.is_link_local),
        ("a multicast address", ip.is_multicast),
        ("a private address", ip.is_private),
        ("an unspecified address", ip.is_unspecified),
        ("a reserved address", ip.is_reserved),
    ):
        if flag:
            return label
    if not ip.is_global:
        return "not a public address"
    return None


class Fetcher:
    """Fetches article pages safely; one instance per ingest."""

    def __init__(self, settings: Settings, resolver: Resolver = system_resolver, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.allowed = {h.strip().lower().strip("[]") for h in settings.allowed_hosts if h.strip()}
        self.resolver = resolver
        self.transport = transport

    def check(self, url: str) -> tuple[str, str | None]:
        """(url, address to connect to) for a URL that passes the guard; FetchRefused otherwise.

        The address is None for allowed hosts (connect by name).
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchRefused(f"only http:// and https:// URLs can be fetched, not {scheme or 'this'}:// ones.")
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            raise FetchRefused("the URL has no host name.")
        if parts.username or parts.password:
            raise FetchRefused("URLs with a user name or password are not fetched.")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise FetchRefused("the URL's port is not a number between 0 and 65535.") from exc
        if host in self.allowed:
            return url, None
        if host in METADATA_NAMES:
            raise FetchRefused(f"{host} is a cloud metadata service; it is never fetched.")
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            addresses = self.resolver(host, port)
        if not addresses:
            raise FetchRefused(f"the host {host!r} could not be resolved.")
        for address in addresses:
            problem = address_problem(address)
            if problem:
                raise FetchRefused(
                    f"{host} resolves to {address}, {problem}; only public hosts are fetched "
                    "(RAGBOT_ALLOWED_HOSTS can allow a named host)."
                )
        return url, addresses[0]

    def fetch(self, url: str) -> Page:
        """Download an HTML page within RAGBOT_FETCH_TIMEOUT in all, checking every redirect hop and the size as it arrives.

        httpx's timeouts bound each read, so a server sending a byte a second would never time
        out; a watchdog closes the client when the whole download has taken too long.
        """
        seconds = self.settings.fetch_timeout
        expired = threading.Event()
        client = self._client()

        def give_up() -> None:
            expired.set()
            client.close()  # a read in progress fails at once

        watchdog = threading.Timer(seconds, give_up)
        watchdog.daemon = True
        watchdog.start()
        try:
            with client:
                return self._fetch(client, url)
        except (FetchRefused, httpx.HTTPError, RuntimeError) as exc:
            if expired.is_set():
                raise FetchRefused(f"the page took longer than {seconds:g} s in all to download (RAGBOT_FETCH_TIMEOUT).") from exc
            raise
        finally:
            watchdog.cancel()

    def _client(self) -> httpx.Client:
        timeout = httpx.Timeout(self.settings.fetch_timeout, connect=min(10.0, self.settings.fetch_timeout))
        return httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,  # never route through a proxy named in the environment
            headers={"User-Agent": USER_AGENT, "Accept": "text/html,application/xhtml+xml;q=0.9"},
            transport=self.transport,
        )

    def _fetch(self, client: httpx.Client, url: str) -> Page:
        """The download itself: every redirect hop checked, the size counted as it arrives."""
        url = normalize_url(url)
        limit = self.settings.fetch_max_bytes
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            checked, address = self.check(current)
            request = self._request(client, checked, address)
            try:
                response = client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise FetchRefused(f"the server took longer than {self.settings.fetch_timeout:g} s to answer.") from exc
            except httpx.HTTPError as exc:
                raise FetchRefused(f"the page could not be downloaded ({type(exc).__name__}: {exc}).") from exc
            try:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchRefused(f"the server answered {response.status_code} without saying where to go.")
                    current = urljoin(current, location)
                    continue
                if response.status_code >= 400:
                    raise FetchRefused(f"the server answered {response.status_code} {response.reason_phrase}.")
                ctype = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
                if ctype not in HTML_TYPES:
                    raise FetchRefused(f"the page is {ctype or 'of no stated type'}, not an HTML article.")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise FetchRefused(f"the page is {int(declared):,} bytes, over the {limit:,}-byte limit (RAGBOT_FETCH_MAX_BYTES).")
                body = bytearray()
                try:
                    for piece in response.iter_bytes():
                        body += piece
                        if len(body) > limit:
                            raise FetchRefused(f"the page is over the {limit:,}-byte limit (RAGBOT_FETCH_MAX_BYTES).")
                except httpx.TimeoutException as exc:
                    raise FetchRefused(f"the server took longer than {self.settings.fetch_timeout:g} s to send the page.") from exc
                except httpx.HTTPError as exc:
                    raise FetchRefused(f"the download broke off ({type(exc).__name__}).") from exc
                return Page(url=url, final_url=current, html=bytes(body), content_type=ctype)
            finally:
                response.close()
        raise FetchRefused(f"the page redirected more than {MAX_REDIRECTS} times.")

    @staticmethod
    def _request(client: httpx.Client, url: str, address: str | None) -> httpx.Request:
        """A request for the URL that connects to the checked address, keeping the host name for Host and TLS."""
        target = httpx.URL(url)
        if address is None:
            return client.build_request("GET", target)
        host = target.host
        pinned = target.copy_with(host=address)
        headers = {"Host": target.netloc.decode("ascii")}
        extensions = {"sni_hostname": host} if target.scheme == "https" else {}
        return client.build_request("GET", pinned, headers=headers, extensions=extensions)


def url_loader(settings: Settings) -> Callable[[str], Loaded]:
    """A loader for `loaders.load_sources`: URL -> Loaded (the URL is the document's id and source)."""
    fetcher = Fetcher(settings)

    def load(url: str) -> Loaded:
        try:
            page = fetcher.fetch(url)
        except FetchRefused as exc:
            return Loaded(problem=IngestProblem(redact_url(url), str(exc)))
        fallback = urlsplit(page.final_url).path.rstrip("/").rsplit("/", 1)[-1] or urlsplit(page.final_url).hostname or page.url
        return from_html(page.html, source=page.url, doc_id=page.url, fallback_title=fallback)

    return load
