"""How ragbot grows with the library: ingest, disk, question latency, first question after a write, memory.

Synthetic articles, generated deterministically (a Zipf vocabulary of made-up words, titles,
dates, about 5 % near-duplicates), are ingested into a fresh data dir per size. Sizes up to
`--real-up-to` chunks use the bundled embedding model; above that a cheap deterministic
embedder (feature hashing, `CheapEmbedder`) stands in so that the store and search are measured
apart from the model. A fresh child process per size then measures, on Chroma on disk:
cold (first in the process) and warm search and extractive ask latency, the first question after
adding one document and after forgetting one (written by another Library, as a CLI ingest would),
and its peak RSS.

    python bench/scale.py --sizes 1000 10000 100000 --real-ingest --json scale.json --plot scale.png

`--real-ingest` then times, at each size, a real-model ingest of about 1,000 more chunks into
that library (under the cheap embedder's name above `--real-up-to`: the store's cost at that
size with the model's work per chunk), so ingest throughput compares across sizes with the model.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import ROOT, child_json  # first: it puts the checkout on sys.path

from retrieval.types import Document

SYLLABLES = ["ka", "lo", "mi", "ra", "te", "su", "vo", "na", "pe", "di", "ru", "sa", "ko", "ve", "li", "mo", "ta", "ne", "po", "gu", "ba", "fi", "ze", "ho", "ja"]
CHUNKS_PER_ARTICLE = 3.0  # what the generator's articles average with the default chunking (the table shows the real count)


def article_count(size: int) -> int:
    """How many generated articles make a library of about `size` chunks."""
    return max(10, int(size / CHUNKS_PER_ARTICLE))


def vocabulary(n: int = 30_000, seed: int = 7) -> list[str]:
    """Made-up words, distinct, most common first."""
    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def articles(n: int, seed: int = 11, prefix: str = "a") -> Iterator[Document]:
    """`n` deterministic synthetic articles: varied vocabulary, titles, dates, some near-duplicates (ids `prefix` + number)."""
    rng = random.Random(seed)
    words = vocabulary()
    weights = np.cumsum(1.0 / np.arange(1, len(words) + 1))  # Zipf
    weights /= weights[-1]
    recent: list[Document] = []
    for i in range(n):
        if recent and rng.random() < 0.05:  # a near-duplicate: an earlier article with a few words changed
            base = rng.choice(recent)
            toks = base.text.split(" ")
            for _ in range(3):
                toks[rng.randrange(len(toks))] = words[int(np.searchsorted(weights, rng.random()))]
            yield Document(f"{prefix}{i}", f"https://news.example/{prefix}{i}", base.title, " ".join(toks), base.published)
            continue
        sentences = []
        for _ in range(rng.randint(6, 16)):
            picks = np.searchsorted(weights, [rng.random() for _ in range(rng.randint(8, 20))])
            s = " ".join(words[int(p)] for p in picks)
            sentences.append(s[0].upper() + s[1:] + ".")
        title = " ".join(words[int(p)] for p in np.searchsorted(weights, [rng.random() for _ in range(4)])).title()
        date = f"{rng.randint(2000, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        doc = Document(f"{prefix}{i}", f"https://news.example/{prefix}{i}", title, " ".join(sentences), date)
        recent = (recent + [doc])[-50:]
        yield doc


def questions(n: int, articles_count: int, seed: int = 3) -> list[str]:
    """Questions made of a few words of random articles (deterministic)."""
    rng = random.Random(seed)
    wanted = sorted(rng.sample(range(articles_count), min(n, articles_count)))
    out = []
    for doc in articles(articles_count):
        if int(doc.doc_id[1:]) in wanted:
            toks = doc.text.rstrip(".").split()
            start = rng.randrange(max(1, len(toks) - 6))
            out.append("What about " + " ".join(toks[start : start + 5]) + "?")
            if len(out) == len(wanted):
                break
    return out


class CheapEmbedder:
    """A deterministic feature-hashing embedder (words and word pairs), so the store is measured apart from the model."""

    dim = 384

    def __init__(self, tokenizer: object) -> None:
        self.tokenizer = tokenizer
        self.identity = f"bench-cheap-hashing-{self.dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            toks = text.lower().split()
            h = np.fromiter((zlib.crc32(t.encode()) for t in toks), dtype=np.uint32, count=len(toks))
            np.add.at(out[row], h % self.dim, np.where(h & 65536, 1.0, -1.0))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> tuple[np.ndarray, list[np.ndarray]]:
        return self.embed(texts), [self.embed([t[a:b] for a, b in s]) for t, s in zip(texts, spans, strict=True)]


class UnderCheapName:
    """The bundled model under the cheap embedder's name: real-model ingests into a library built cheaply.

    Only for timing an ingest of real-model work into a large library (the vectors of the two
    embedders do not compare, and no question is asked of them).
    """

    def __init__(self, real: Any) -> None:
        self.real = real
        self.dim = real.dim
        self.identity = f"bench-cheap-hashing-{self.dim}"
        self.tokenizer = real.tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.real.embed(texts)

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> tuple[np.ndarray, list[np.ndarray]]:
        return self.real.embed_spans(texts, spans)

    def ingesting(self) -> Any:
        return self.real.ingesting()


MARGINAL_ARTICLES = 330  # about 1,000 chunks: the real-model ingest timed at each size


def real_model_library(data_dir: Path, real: bool) -> Any:
    """The library in `data_dir`, ingesting with the bundled model (under the cheap embedder's name when it was built with that), the model warmed up."""
    lib = _library(data_dir, real)
    if not real:
        lib._embedder = UnderCheapName(_library(data_dir, True).embedder)
    lib.embedder.embed(["warm the model up"])
    return lib


def marginal_ingest(data_dir: Path, real: bool) -> tuple[float, float]:
    """Chunks per second of two real-model ingests of about 1,000 new chunks each, one after the other.

    The first pays for opening the library in this process (Chroma loads its HNSW index on the
    first write, the registry and keyword index are read for the first time); the second is the
    rate into a library that is already open, as a running bot's next `/ingest` sees it.
    """
    lib = real_model_library(data_dir, real)
    prefix = f"m{time.time_ns()}-"  # new documents even in a library measured before (--reuse)
    batches = [list(articles(MARGINAL_ARTICLES, seed=seed, prefix=f"{prefix}{seed}-")) for seed in (29, 31)]  # before the clock starts
    rates = []
    for docs in batches:
        t = time.perf_counter()
        report = lib.ingest_documents(docs, duplicates="keep")
        rates.append(report.chunks / (time.perf_counter() - t))
    lib.close()
    return rates[0], rates[1]


def _library(data_dir: Path, real: bool) -> Any:
    from retrieval.embedding import load_embedder
    from retrieval.library import Library
    from retrieval.settings import Settings

    models = Path(os.environ.get("RAGBOT_TEST_MODELS", ROOT / ".ragbot-test-models"))  # the exported ONNX model, shared
    extra = {"model_cache_dir": models} if models.exists() else {}
    settings = Settings(_env_file=None, data_dir=data_dir, generator="extractive", **extra)  # type: ignore[arg-type]
    if real:
        return Library(settings)
    tok = load_embedder(None, "onnx", settings.models_dir).tokenizer
    return Library(settings, embedder=CheapEmbedder(tok))


def _disk(data_dir: Path) -> dict[str, int]:
    """Bytes on disk: Chroma's SQLite, its HNSW segment folders, the keyword index."""
    chroma = data_dir / "chroma"
    out = {"chroma_sqlite": 0, "hnsw": 0, "keyword": 0}
    for p in chroma.rglob("*"):
        if p.is_file():
            out["hnsw" if p.parent != chroma else "chroma_sqlite"] += p.stat().st_size
    for p in (data_dir / "keyword").rglob("*"):
        if p.is_file():
            out["keyword"] += p.stat().st_size
    return out


def peak_rss_mb() -> float:
    """This process's peak resident set since it started (VmHWM, MB).

    Not getrusage's ru_maxrss: Linux keeps that across fork and exec, so a child started by a
    parent that has just ingested a large library would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def measure(data_dir: Path, real: bool, n_articles: int, repeats: int) -> dict[str, Any]:
    """In a fresh process: cold and warm latencies, first question after one add and one forget, peak RSS."""
    t0 = time.perf_counter()
    lib = _library(data_dir, real)
    qs = questions(repeats, n_articles)
    lib.embedder.embed(["warm the model up"])  # model load is not what this measures
    t1 = time.perf_counter()
    lib.search(qs[0])
    cold_search = time.perf_counter() - t1
    t1 = time.perf_counter()
    lib.ask(qs[1 % len(qs)])
    cold_ask = time.perf_counter() - t1
    search_ms, ask_ms = [], []
    for q in qs:
        t = time.perf_counter()
        lib.search(q)
        search_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        lib.ask(q)
        ask_ms.append((time.perf_counter() - t) * 1000)
    writer = _library(data_dir, real)
    writer._embedder = lib.embedder
    new = Document("fresh-1", "https://news.example/fresh", "Harbour ferry timetable", "The night ferry to Stornoway leaves at eleven.")
    writer.ingest_documents([new])
    t = time.perf_counter()
    hits = lib.ask("When does the night ferry to Stornoway leave?")
    after_add = (time.perf_counter() - t) * 1000
    assert any(c.doc_id == "fresh-1" for c in hits.citations), "the added document was not seen"
    writer.forget("fresh-1")
    t = time.perf_counter()
    gone = lib.search("night ferry Stornoway")
    after_forget = (time.perf_counter() - t) * 1000
    assert all(h.doc_id != "fresh-1" for h in gone)
    peak = peak_rss_mb()
    return {
        "open_and_model_s": t1 - t0,
        "cold_search_ms": cold_search * 1000,
        "cold_ask_ms": cold_ask * 1000,
        "warm_search_p50_ms": statistics.median(search_ms),
        "warm_search_p95_ms": _pct(search_ms, 0.95),
        "warm_ask_p50_ms": statistics.median(ask_ms),
        "warm_ask_p95_ms": _pct(ask_ms, 0.95),
        "first_ask_after_add_ms": after_add,
        "first_search_after_forget_ms": after_forget,
        "peak_rss_mb": peak,
    }


def run_size(size: int, real: bool, work: Path, repeats: int, colds: int, reuse: bool = False, marginal: bool = False) -> dict[str, Any]:
    """Ingest about `size` chunks into a fresh data dir and measure it (`marginal`: then time a real-model ingest of 1,000 more)."""
    data_dir = work / f"lib-{size}"
    n_articles = article_count(size)
    done = data_dir / "bench-ingest.json"
    if reuse and done.exists():
        chunks, ingest_s = json.loads(done.read_text())
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
        lib = _library(data_dir, real)
        t = time.perf_counter()
        report = lib.ingest_documents(articles(n_articles), duplicates="keep")
        ingest_s = time.perf_counter() - t
        chunks = report.chunks
        lib.close()  # disk is measured at rest, as an ingest leaves it when its process ends
        del lib
        done.write_text(json.dumps([chunks, ingest_s]))
    disk = _disk(data_dir)
    runs = []
    for _ in range(colds):
        runs.append(child_json([__file__, "--measure", str(data_dir), "--articles", str(n_articles), "--repeats", str(repeats),
                                *(["--real"] if real else [])]))
    row: dict[str, Any] = {
        "chunks": chunks, "articles": n_articles, "embedder": "bundled model (int8)" if real else "cheap hashing",
        "ingest_s": ingest_s, "ingest_chunks_per_s": chunks / ingest_s,
        "disk_bytes_per_chunk_excl_hnsw": (disk["chroma_sqlite"] + disk["keyword"]) / chunks,
        "chroma_sqlite_bytes_per_chunk": disk["chroma_sqlite"] / chunks, "keyword_bytes_per_chunk": disk["keyword"] / chunks,
        "hnsw_bytes_per_chunk": disk["hnsw"] / chunks,
    }
    for key in runs[0]:
        row[key] = statistics.median(r[key] for r in runs)
    row["cold_search_ms_runs"] = [r["cold_search_ms"] for r in runs]
    if marginal:  # last: it adds to the library
        row["real_ingest_next_1k_chunks_per_s"], row["real_ingest_then_1k_chunks_per_s"] = marginal_ingest(data_dir, real)
    return row


COLUMNS = [
    ("chunks", "chunks", "{:,.0f}"), ("embedder", "embedder", "{}"), ("ingest_chunks_per_s", "ingest chunks/s", "{:,.0f}"),
    ("disk_bytes_per_chunk_excl_hnsw", "disk B/chunk (no HNSW)", "{:,.0f}"), ("keyword_bytes_per_chunk", "keyword B/chunk", "{:,.0f}"),
    ("cold_search_ms", "cold search ms", "{:.1f}"), ("cold_ask_ms", "cold ask ms", "{:.1f}"),
    ("warm_search_p50_ms", "search p50", "{:.1f}"), ("warm_search_p95_ms", "search p95", "{:.1f}"),
    ("warm_ask_p50_ms", "ask p50", "{:.1f}"), ("warm_ask_p95_ms", "ask p95", "{:.1f}"),
    ("first_ask_after_add_ms", "1st ask after add ms", "{:.1f}"), ("first_search_after_forget_ms", "1st search after forget ms", "{:.1f}"),
    ("peak_rss_mb", "peak RSS MB", "{:,.0f}"),
    ("real_ingest_next_1k_chunks_per_s", "real-model ingest of 1k more, chunks/s", "{:,.1f}"),
    ("real_ingest_then_1k_chunks_per_s", "then 1k more, same process", "{:,.1f}"),
]


def table(rows: list[dict[str, Any]]) -> str:
    """The growth table (markdown)."""
    head = "| " + " | ".join(c[1] for c in COLUMNS) + " |\n|" + "---|" * len(COLUMNS)
    body = ["| " + " | ".join(fmt.format(r[key]) if key in r else "-" for key, _, fmt in COLUMNS) + " |" for r in rows]
    return "\n".join([head, *body])


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """A log-log plot of the measures against the number of chunks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["chunks"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 5))
    for key, label in [("warm_search_p50_ms", "warm search p50 (ms)"), ("warm_ask_p50_ms", "warm ask p50 (ms)"),
                       ("cold_search_ms", "cold search (ms)"), ("first_ask_after_add_ms", "first ask after add (ms)"),
                       ("disk_bytes_per_chunk_excl_hnsw", "disk per chunk, no HNSW (B)"), ("peak_rss_mb", "peak RSS (MB)"),
                       ("ingest_chunks_per_s", "ingest (chunks/s)")]:
        ax.plot(x, [r[key] for r in rows], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the library")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    """Measure each size and print the growth table; optionally write JSON and a PNG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--real-up-to", type=int, default=1000, help="use the bundled model up to this many chunks")
    parser.add_argument("--repeats", type=int, default=40, help="warm questions per process")
    parser.add_argument("--colds", type=int, default=3, help="fresh processes per size (cold figures are their median)")
    parser.add_argument("--work", type=Path, help="where the data dirs go (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true", help="measure the libraries already ingested in --work (ingest figures from then)")
    parser.add_argument("--real-ingest", action="store_true", help="at each size, also time two real-model ingests of about 1,000 more chunks each, in one process")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--articles", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--real", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.real, args.articles, args.repeats)))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="ragbot-scale-"))
    rows = []
    for size in args.sizes:
        rows.append(run_size(size, size <= args.real_up_to, work, args.repeats, args.colds, args.reuse, args.real_ingest))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
    print(table(rows))
    if args.plot:
        plot(rows, args.plot)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
