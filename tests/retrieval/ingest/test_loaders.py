"""Loading files into documents (retrieval.ingest.loaders): text, Markdown, HTML and JSONL, and what bad input is told.

Real files in tmp_path; the whole engine's view of the same input is tests/retrieval/test_library.py and
tests/retrieval/test_hostile.py, the command line's tests/integration/test_hostile_cli.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from retrieval.ingest.loaders import iso_date, load_file, load_sources, normalize
from retrieval.types import Document

LIMIT = 1_000_000


def one(path: Path, **kwargs: object) -> Document:
    """The single document a file loads to."""
    (loaded,) = list(load_file(path, LIMIT, **kwargs))  # type: ignore[arg-type]
    assert loaded.problem is None and loaded.document is not None, loaded.problem
    return loaded.document


def problems(inputs: list[str], max_bytes: int = LIMIT) -> list[str]:
    return [str(x.problem) for x in load_sources(inputs, max_bytes) if x.problem]


def test_a_text_file_is_its_text_titled_by_its_first_line_with_its_resolved_path_as_id(tmp_path: Path) -> None:
    path = tmp_path / "harbour.txt"
    path.write_text("\n\n  Harbour news  \nThe canal festival drew 5,000 visitors.\n", encoding="utf-8")
    doc = one(path)
    assert doc.text == path.read_text(encoding="utf-8")  # nothing stripped: offsets index the file
    assert doc.title == "Harbour news" and doc.doc_id == doc.source == str(path.resolve()) and doc.published is None
    assert one(path, doc_id="mine").doc_id == "mine"


def test_markdown_takes_its_title_from_the_first_heading(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("Some preamble line\n\n## The Lighthouse Keepers ##\n\nThey trimmed the wicks.\n")
    assert one(path).title == "The Lighthouse Keepers"
    plain = tmp_path / "plain.md"
    plain.write_text("# \n\nNo heading text, so the first line with words.\n")
    assert one(plain).title == "No heading text, so the first line with words."


def test_controls_and_crlf_are_replaced_one_for_one_and_tabs_kept(tmp_path: Path) -> None:
    path = tmp_path / "dos.txt"
    path.write_bytes(b"First line\r\nSecond\tline\x07 here\r\n")
    doc = one(path)
    assert doc.text == "First line \nSecond\tline  here \n" and len(doc.text) == len(path.read_bytes())  # tabs stay
    assert normalize("a\x00b\ufeffc") == "a b c"


def test_html_keeps_the_article_and_drops_scripts_and_navigation(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Ferry strike ends</title><script>var leak='SCRIPT-LEAK'</script></head><body>"
        "<nav>Home | News | Sport</nav><article><h1>Ferry strike ends</h1>"
        "<p>The ferry crews of the Western Isles returned to work on Friday after a nine-day strike over rosters.</p>"
        "<p>The union said the new rota guarantees two rest days in every seven for deckhands and engineers.</p>"
        "</article></body></html>"
    )
    doc = one(path)
    assert doc.title == "Ferry strike ends" and "nine-day strike" in doc.text and "two rest days" in doc.text
    assert "SCRIPT-LEAK" not in doc.text and "Sport" not in doc.text
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body><script>only()</script></body></html>")
    assert problems([str(empty)]) == [f"{empty.resolve()}: no article text could be extracted from this HTML."]


def test_jsonl_gives_one_document_per_line_with_title_url_and_date(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    rows = [
        {"id": "a", "title": "Lamp_keepers", "text": "They trimmed the wicks.", "url": "https://x.example/a", "published": "March 5, 2024"},
        {"id": 7, "text": "An integer id is read as text."},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    docs = [x.document for x in load_file(path, LIMIT)]
    assert [(d.doc_id, d.title, d.source, d.published) for d in docs if d] == [
        ("a", "Lamp keepers", "https://x.example/a", "2024-03-05"),
        ("7", "7", f"{path.resolve()}#7", None),
    ]


def test_bad_jsonl_lines_are_reported_by_line_and_the_good_ones_still_load(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"id": "ok", "text": "Fine."}\n{not json\n{"id": "no-text"}\n["a"]\n{"id": "blank", "text": "  "}\n')
    loaded = list(load_file(path, LIMIT))
    assert [x.document.doc_id for x in loaded if x.document] == ["ok"]
    where = str(path.resolve())
    assert [str(x.problem) for x in loaded if x.problem] == [
        f"{where}, line 2: not valid JSON (Expecting property name enclosed in double quotes).",
        f'{where}, line 3: each line needs an "id" and a "text" string.',
        f'{where}, line 4: each line needs an "id" and a "text" string.',
        f"{where}#blank, line 5: no text could be found in it.",
    ]


def test_bad_files_get_one_sentence_each(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"  \n")
    (tmp_path / "binary.txt").write_bytes(b"abc\x00def")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9".encode("latin-1"))
    (tmp_path / "big.txt").write_text("x" * 101)
    assert problems([str(tmp_path / n) for n in ("empty.txt", "binary.txt", "latin1.txt", "missing.txt")]) == [
        f"{(tmp_path / 'empty.txt').resolve()}: the file is empty.",
        f"{(tmp_path / 'binary.txt').resolve()}: the file looks binary, not text.",
        f"{(tmp_path / 'latin1.txt').resolve()}: the file is not valid UTF-8 text (bad byte at offset 3).",
        f"{tmp_path / 'missing.txt'}: no such file or folder.",
    ]
    assert problems([str(tmp_path / "big.txt")], max_bytes=100) == [
        f"{tmp_path / 'big.txt'}: the file is 101 bytes, over the 100-byte limit (RAGBOT_MAX_FILE_BYTES)."]


def test_a_folder_loads_its_supported_files_and_counts_the_rest(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("Alpha text.")
    (tmp_path / "sub" / "b.md").write_text("# Beta\n\nBeta text.")
    (tmp_path / "data.csv").write_text("x,y")
    (tmp_path / ".hidden.txt").write_text("Never read.")
    loaded = list(load_sources([str(tmp_path)], LIMIT))
    assert sorted(Path(x.document.source).name for x in loaded if x.document) == ["a.txt", "b.md"]
    (problem,) = [str(x.problem) for x in loaded if x.problem]
    assert problem.startswith(f"{tmp_path}: 1 file not read (.csv: 1); ragbot reads only .htm, .html")
    assert problems([str(tmp_path / "data.csv")]) == [f"{tmp_path / 'data.csv'}: ragbot reads only {problem.split('reads only ')[1]}"]
    assert problems(["https://example.com/a.html"]) == [
        "https://example.com/a.html: fetching URLs is not supported here; save the page and ingest the file."]


def test_publication_dates_become_iso_or_none() -> None:
    assert iso_date("2024-03-05T10:00:00+02:00") == "2024-03-05"
    assert iso_date("5 March 2024") == "2024-03-05"
    assert iso_date("not a date") is None and iso_date("  ") is None and iso_date(None) is None
