"""News URLs: fetching through the SSRF guard, extraction with trafilatura, citations that link the URL."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from retrieval.ingest.fetch import USER_AGENT, Fetcher, FetchRefused, address_problem
from retrieval.library import Library
from retrieval.settings import Settings
from tests.support.articles import ArticleServer
from tests.support.cli import RAGBOT, cli_env
from tests.support.paths import MODELS_DIR


def _settings(tmp_path: Path, allowed: list[str], **extra: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", model_cache_dir=MODELS_DIR, allowed_hosts=allowed, **extra)  # type: ignore[arg-type]


def test_fetches_an_article_page(article_server: ArticleServer, tmp_path: Path) -> None:
    page = Fetcher(_settings(tmp_path, ["127.0.0.1"])).fetch(article_server.url("/article.html#comments"))
    assert page.url == article_server.url("/article.html")
    assert page.content_type == "text/html" and b"Maeslant" in page.html
    assert article_server.requests[-1] == ("/article.html", USER_AGENT)


def test_ingests_main_text_title_and_date(article_server: ArticleServer, library: Library) -> None:
    library.settings.allowed_hosts = ["127.0.0.1"]
    url = article_server.url("/article.html")
    report = library.ingest([url])
    assert report.added == [url] and not report.problems
    [source] = library.sources()
    assert (source.doc_id, source.source) == (url, url)
    assert source.title == "Rotterdam storm barrier passes full-scale test"
    assert source.published == "2024-06-11"
    text = library.document_text(url) or ""
    assert "Maeslant storm barrier" in text and "Ciarán" in text
    for leak in ("SCRIPT-LEAK", "STYLE-LEAK", "dataLayer", "font-family", "Buy cheap flights", "All rights reserved"):
        assert leak not in text


def test_follows_a_redirect_but_keeps_the_requested_url(article_server: ArticleServer, library: Library) -> None:
    library.settings.allowed_hosts = ["127.0.0.1"]
    url = article_server.url("/redirect-ok")
    assert library.ingest([url]).added == [url]
    assert [p for p, _ in article_server.requests] == ["/redirect-ok", "/article.html"]


@pytest.mark.parametrize(
    ("url", "allowed", "reason"),
    [
        ("http://127.0.0.1:{port}/article.html", [], "127.0.0.1, a loopback address"),
        ("http://localhost:{port}/article.html", ["127.0.0.1"], "a loopback address"),  # resolved by the real resolver
        ("http://[::1]:{port}/article.html", [], "a loopback address"),
        ("http://[::ffff:127.0.0.1]:{port}/article.html", [], "a loopback address"),
        ("http://2130706433:{port}/article.html", [], "a loopback address"),  # 127.0.0.1 written as one number
        ("http://0.0.0.0:{port}/article.html", [], "address"),
        ("http://10.1.2.3/news", [], "10.1.2.3, a private address"),
        ("http://192.168.1.1/", [], "a private address"),
        ("http://169.254.169.254/latest/meta-data/", [], "a cloud metadata address"),
        ("http://metadata.google.internal/computeMetadata/v1/", [], "cloud metadata service"),
        ("http://100.100.100.200/latest/meta-data/", [], "a cloud metadata address"),
        ("http://224.0.0.1/", [], "a multicast address"),
        ("http://240.0.0.1/", [], "address"),
        ("file:///etc/passwd", ["127.0.0.1"], "only http:// and https://"),
        ("ftp://127.0.0.1/file.html", ["127.0.0.1"], "only http:// and https://"),
        ("gopher://127.0.0.1:70/_GET", ["127.0.0.1"], "only http:// and https://"),
        ("http://user:pw@127.0.0.1:{port}/article.html", ["127.0.0.1"], "user name or password"),
    ],
)
def test_refuses_what_it_must(url: str, allowed: list[str], reason: str, article_server: ArticleServer, tmp_path: Path) -> None:
    with pytest.raises(FetchRefused, match=reason.replace("(", r"\(").replace(".", r"\.")):
        Fetcher(_settings(tmp_path, allowed)).fetch(url.format(port=article_server.port))
    assert article_server.requests == []  # refused before connecting


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/redirect-private", "10.20.30.40, a private address"),
        ("/redirect-metadata", "169.254.169.254, a cloud metadata address"),
        ("/redirect-loop", "redirected more than 5 times"),
        ("/big.html", "over the 100,000-byte limit"),  # declared in Content-Length
        ("/big-chunked.html", "over the 100,000-byte limit"),  # counted while streaming
        ("/data.json", "application/json, not an HTML article"),
        ("/photo.png", "image/png, not an HTML article"),
        ("/gone.html", "404 Not Found"),
    ],
)
def test_refuses_bad_answers_from_an_allowed_host(path: str, reason: str, article_server: ArticleServer, tmp_path: Path) -> None:
    fetcher = Fetcher(_settings(tmp_path, ["127.0.0.1"], fetch_max_bytes=100_000))
    with pytest.raises(FetchRefused, match=reason):
        fetcher.fetch(article_server.url(path))


def test_public_addresses_pass_and_the_connection_is_pinned(tmp_path: Path) -> None:
    """A public name resolves once; the request goes to that address with the original Host header."""
    assert address_problem("93.184.215.14") is None and address_problem("2606:4700::6810:84e5") is None
    fetcher = Fetcher(_settings(tmp_path, []), resolver=lambda host, port: ["93.184.215.14"])
    url, address = fetcher.check("https://news.example.com/story")
    assert address == "93.184.215.14"
    import httpx

    with httpx.Client() as client:
        request = fetcher._request(client, url, address)
    assert request.url.host == "93.184.215.14" and request.headers["Host"] == "news.example.com"
    assert request.extensions["sni_hostname"] == "news.example.com"
    rebinding = Fetcher(_settings(tmp_path, []), resolver=lambda host, port: ["93.184.215.14", "127.0.0.1"])
    with pytest.raises(FetchRefused, match="loopback"):
        rebinding.check("https://news.example.com/story")


def test_refusals_are_reported_and_good_urls_still_land(article_server: ArticleServer, library: Library) -> None:
    library.settings.allowed_hosts = ["127.0.0.1"]
    good = article_server.url("/article.html")
    report = library.ingest([article_server.url("/redirect-metadata"), good, "http://10.0.0.7/", article_server.url("/data.json")])
    assert report.added == [good]
    assert [p.source for p in report.problems] == [article_server.url("/redirect-metadata"), "http://10.0.0.7/", article_server.url("/data.json")]


def test_cli_ingests_a_url_and_cites_it(article_server: ArticleServer, settings: Settings, tmp_path: Path) -> None:
    url = article_server.url("/article.html")
    env = cli_env(settings, RAGBOT_ALLOWED_HOSTS="127.0.0.1")
    done = subprocess.run([RAGBOT, "ingest", url, "--json"], env=env, cwd=tmp_path, capture_output=True, check=False, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == 1
    asked = subprocess.run(
        [RAGBOT, "ask", "--json", "Who protects the Rotterdam region from storm surges?"],
        env=env, cwd=tmp_path, capture_output=True, check=False, text=True, timeout=600,
    )
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["answerable"] and answer["citations"]
    assert {c["source"] for c in answer["citations"]} == {url} and {c["doc_id"] for c in answer["citations"]} == {url}
    shown = subprocess.run(
        [RAGBOT, "ask", "Who protects the Rotterdam region from storm surges?"], env=env, cwd=tmp_path, capture_output=True, check=False, text=True, timeout=600
    )
    assert url in shown.stdout  # the plain-text answer links the source


def test_cli_refuses_loopback_without_the_setting(article_server: ArticleServer, settings: Settings, tmp_path: Path) -> None:
    done = subprocess.run(
        [RAGBOT, "ingest", article_server.url("/article.html")], env=cli_env(settings), cwd=tmp_path, capture_output=True, check=False, text=True, timeout=600
    )
    assert done.returncode == 1
    assert "loopback address" in done.stderr and "RAGBOT_ALLOWED_HOSTS" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert article_server.requests == []
