"""The domain model: documents, chunks, hits, citations and answers."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

CANNOT_ANSWER = "I could not find this in the articles."


def content_hash(text: str) -> str:
    """Return a stable hash of a document's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Document:
    """One article or file, as loaded; `text` is what offsets point into."""

    doc_id: str
    source: str
    title: str
    text: str
    published: str | None = None

    @property
    def content_hash(self) -> str:
        """Hash of title, source, date and text: any change means a new version."""
        return content_hash("\x1f".join([self.title, self.source, self.published or "", self.text]))


@dataclass(frozen=True)
class Chunk:
    """A span of a document's text; `text == document.text[start:end]`."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    ordinal: int


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its scores and rank (1-based)."""

    chunk_id: str
    doc_id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    ordinal: int
    score: float
    rank: int
    dense: float | None = None
    keyword: float | None = None
    published: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The hit as a JSON object."""
        return {
            "rank": self.rank,
            "doc_id": self.doc_id,
            "chunk_id": self.chunk_id,
            "source": self.source,
            "title": self.title,
            "score": round(self.score, 6),
            "text": self.text,
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True)
class Citation:
    """A numbered, checkable quote: `quote == document.text[start:end]`."""

    n: int
    doc_id: str
    source: str
    title: str
    chunk_id: str
    quote: str
    start: int
    end: int
    verified: bool = True
    support: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The citation as a JSON object."""
        return asdict(self)


@dataclass
class Answer:
    """An answer whose `[n]` markers are numbered 1..N in order of first use."""

    question: str
    text: str
    citations: list[Citation]
    answerable: bool
    generator: str = "extractive"
    timings_ms: dict[str, float] = field(default_factory=dict)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    confidence: float | None = None  # best sentence score + weighted coverage and passage cosine (the abstention rule)
    more: bool = False  # a list answer that stops before the end of the list it found
    refusal: float | None = None  # the model's probability of starting the cannot-answer reply (llamacpp), at its first step

    def to_json(self) -> dict[str, Any]:
        """The answer as a JSON object."""
        out: dict[str, Any] = {
            "question": self.question,
            "answer": self.text,
            "answerable": self.answerable,
            "citations": [c.to_json() for c in self.citations],
            "generator": self.generator,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
        if self.confidence is not None:
            out["confidence"] = round(self.confidence, 4)
        if self.refusal is not None:
            out["refusal_probability"] = round(self.refusal, 4)
        if self.dropped:
            out["dropped"] = self.dropped
        return out


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation: the question, the answer shown, and the quotes it cited."""

    question: str
    answer: str = ""
    quotes: tuple[str, ...] = ()

    @classmethod
    def of(cls, answer: Answer) -> Turn:
        """The turn an answer makes (an abstention cites nothing)."""
        return cls(answer.question, answer.text, tuple(c.quote for c in answer.citations) if answer.answerable else ())


@dataclass(frozen=True)
class FollowUp:
    """A question asked after earlier turns of the same conversation (`history`, oldest first)."""

    question: str
    history: tuple[Turn, ...] = ()


@dataclass(frozen=True)
class SourceInfo:
    """A document as the library lists it."""

    doc_id: str
    source: str
    title: str
    published: str | None
    added_at: str
    chunks: int
    content_hash: str

    def to_json(self) -> dict[str, Any]:
        """The source as a JSON object."""
        return asdict(self)


@dataclass
class IngestProblem:
    """Why one input (or one line of it) was not ingested."""

    source: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}, line {self.line}" if self.line is not None else self.source
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Duplicate:
    """A document found to repeat one already in the library (or earlier in the same ingest)."""

    doc_id: str
    source: str
    of_doc_id: str
    of_source: str
    similarity: float
    action: str  # "kept" or "skipped"

    def __str__(self) -> str:
        return (
            f"{self.source} looks like a near-duplicate of {self.of_source} "
            f"({self.similarity:.0%} of the text is shared); {self.action}."
        )

    def to_json(self) -> dict[str, Any]:
        """The duplicate as a JSON object."""
        out = asdict(self)
        out["similarity"] = round(self.similarity, 3)
        return out


@dataclass
class IngestReport:
    """What an ingest did, document by document."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[IngestProblem] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)  # near-duplicates found, kept or skipped
    chunks: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON summary."""
        return {
            "added": len(self.added),
            "replaced": len(self.replaced),
            "unchanged": len(self.unchanged),
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "problems": [str(p) for p in self.problems],
            "duplicates": [d.to_json() for d in self.duplicates],
        }


@dataclass(frozen=True)
class Upload:
    """A file received as bytes (a chat attachment): its name (the suffix says how to read it), bytes and where it came from."""

    name: str
    data: bytes
    source: str
    doc_id: str
