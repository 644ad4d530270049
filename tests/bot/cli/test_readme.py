"""README.md is a user's page: short, its links resolve, and its session is what `make run` really prints."""

from __future__ import annotations

import re

from tests.support.bench import bench_module
from tests.support.paths import ROOT

readme_session = bench_module("readme_session")


def test_readme_session_is_the_real_output_of_make_run() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme_session.readme_block(readme)
    assert shown is not None, "README.md lost its session markers"
    assert shown == readme_session.block(readme_session.session()), "regenerate it: python bench/readme_session.py --write"


def test_readme_is_a_short_page_without_history() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode("utf-8")) <= 15_000
    assert not re.search(r"\bissue \d+|\(#\d+\)", readme, re.IGNORECASE)
    assert "../shared" not in readme
    assert "make run" in readme and "make test" in readme and ".venv/bin/ragbot" in readme


def test_links_in_readme_docs_and_env_example_point_at_files_that_exist() -> None:
    pages = [ROOT / "README.md", ROOT / ".env.example", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "../shared" not in text, page
        links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)  # markdown links
        links += re.findall(r"\b((?:docs|data)/[\w./-]+\.md)\b", text)  # pages named in plain text
        for link in links:
            if re.match(r"^[a-z]+://|^mailto:", link):
                continue
            target = (page.parent / link) if not link.startswith(("docs/", "bench/", "tests/", "retrieval/", "bot/", "data/")) else ROOT / link
            assert target.exists(), f"{page.name} links to {link}, which does not exist"


def test_docs_carry_no_dated_history_or_issue_numbers() -> None:
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"\bissue \d+\b", text, re.IGNORECASE), page.name
        assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), page.name
