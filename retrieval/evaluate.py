"""`ragbot eval`: retrieval, answer, citation and abstention quality over a QA file."""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

from retrieval.errors import RagbotError
from retrieval.library import Library
from retrieval.settings import Settings
from retrieval.text import sentence_spans
from retrieval.types import IngestReport


@dataclass
class QAItem:
    """One evaluation question."""

    question: str
    answers: list[str] = field(default_factory=list)
    gold_passage_id: str | None = None
    is_impossible: bool = False


@dataclass
class Outcome:
    """What ragbot did with one question."""

    item: QAItem
    gold_rank: int | None
    answerable: bool
    contains: bool
    citations: int
    precise_citations: int
    sentences: int
    seconds: float
    confidence: float


@dataclass
class EvalReport:
    """The figures `ragbot eval` prints."""

    questions: int
    answerable_questions: int
    impossible_questions: int
    hit_at_1: float | None
    hit_at_5: float | None
    hit_at_10: float | None
    mrr_at_10: float | None
    answer_containment: float | None
    citation_precision: float | None
    abstention_accuracy: float | None
    refusal_rate: float | None
    median_sentences: float | None
    median_seconds: float
    p95_seconds: float
    outcomes: list[Outcome] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Every figure, rounded; the per-question outcomes are left out."""
        out = {k: v for k, v in asdict(self).items() if k != "outcomes"}
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def read_questions(path: Path, limit: int | None = None, seed: int = 0) -> list[QAItem]:
    """Questions from a JSONL file; with `limit`, a seeded random sample of that many."""
    items: list[QAItem] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RagbotError(f"Could not read the questions file {path}: {exc}.") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            items.append(
                QAItem(
                    question=str(row["question"]),
                    answers=[str(a) for a in row.get("answers") or []],
                    gold_passage_id=str(row["gold_passage_id"]) if row.get("gold_passage_id") is not None else None,
                    is_impossible=bool(row.get("is_impossible", False)),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise RagbotError(f"{path}, line {number}: not a question object ({exc}).") from exc
    if not items:
        raise RagbotError(f"The questions file {path} holds no questions.")
    if limit is not None and limit < len(items):
        items = random.Random(seed).sample(items, limit)
    return items


def _contains(text: str, answers: list[str]) -> bool:
    low = text.lower()
    return any(a.strip() and a.lower().strip() in low for a in answers)


def run(
    lib: Library,
    items: list[QAItem],
    k: int = 5,
    collection: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Ask every question (search for the retrieval figures, ask for the answer figures)."""
    outcomes: list[Outcome] = []
    for done, item in enumerate(items, start=1):
        hits = lib.search(item.question, k=max(10, k), collection=collection)
        ids = [h.doc_id for h in hits]
        gold_rank = ids.index(item.gold_passage_id) + 1 if item.gold_passage_id in ids else None
        t0 = time.perf_counter()
        answer = lib.ask(item.question, k=k, collection=collection)
        seconds = time.perf_counter() - t0
        precise = 0
        for c in answer.citations:
            if _contains(c.quote, item.answers) or (item.gold_passage_id is not None and c.doc_id == item.gold_passage_id):
                precise += 1
        body = answer.text if answer.answerable else ""
        outcomes.append(
            Outcome(
                item=item,
                gold_rank=gold_rank,
                answerable=answer.answerable,
                contains=answer.answerable and _contains(body, item.answers),
                citations=len(answer.citations),
                precise_citations=precise,
                sentences=len(sentence_spans(body)) if answer.answerable else 0,
                seconds=seconds,
                confidence=float(answer.confidence or 0.0),
            )
        )
        if progress:
            progress(done, len(items))
    return summarise(outcomes)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(outcomes: list[Outcome]) -> EvalReport:
    """Aggregate per-question outcomes into the report."""
    possible = [o for o in outcomes if not o.item.is_impossible]
    impossible = [o for o in outcomes if o.item.is_impossible]
    gold = [o for o in possible if o.item.gold_passage_id is not None]
    with_answers = [o for o in possible if o.item.answers]
    answered = [o for o in possible if o.answerable]
    cited = sum(o.citations for o in answered if o.item.answers or o.item.gold_passage_id)
    seconds = sorted(o.seconds for o in outcomes)
    return EvalReport(
        questions=len(outcomes),
        answerable_questions=len(possible),
        impossible_questions=len(impossible),
        hit_at_1=_mean([float(o.gold_rank is not None and o.gold_rank <= 1) for o in gold]),
        hit_at_5=_mean([float(o.gold_rank is not None and o.gold_rank <= 5) for o in gold]),
        hit_at_10=_mean([float(o.gold_rank is not None and o.gold_rank <= 10) for o in gold]),
        mrr_at_10=_mean([1.0 / o.gold_rank if o.gold_rank else 0.0 for o in gold]),
        answer_containment=_mean([float(o.contains) for o in with_answers]),
        citation_precision=(sum(o.precise_citations for o in answered) / cited) if cited else None,
        abstention_accuracy=_mean([float(not o.answerable) for o in impossible]),
        refusal_rate=_mean([float(not o.answerable) for o in possible]),
        median_sentences=statistics.median([o.sentences for o in answered]) if answered else None,
        median_seconds=statistics.median(seconds) if seconds else 0.0,
        p95_seconds=seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))] if seconds else 0.0,
        outcomes=outcomes,
    )


def plot(report: EvalReport, path: Path) -> None:
    """Histogram of the confidence of answered vs abstained questions (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise RagbotError("--plot needs matplotlib: pip install matplotlib.") from exc
    answered = [o.confidence for o in report.outcomes if o.answerable]
    abstained = [o.confidence for o in report.outcomes if not o.answerable]
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = 40
    ax.hist(answered, bins=bins, alpha=0.6, label=f"answered ({len(answered)})")
    ax.hist(abstained, bins=bins, alpha=0.6, label=f"abstained ({len(abstained)})")
    ax.set_xlabel("confidence (what the abstention rule compares with its threshold)")
    ax.set_ylabel("questions")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


@dataclass(frozen=True)
class EvalPlan:
    """What `ragbot eval` runs: questions from a QA file, optionally over a corpus ingested first.

    With a corpus and not `keep`, the corpus goes into a scratch library (a temporary data dir,
    removed afterwards) so the user's library is left as it was.
    """

    questions: Path
    limit: int | None = None
    seed: int = 0
    k: int = 5
    collection: str | None = None
    corpus: str | None = None
    keep: bool = False


class Evaluation:
    """One evaluation run; a context manager that owns the scratch library, if any.

    `items` are read at construction, so a front end can size its progress display before `run`.
    """

    def __init__(self, settings: Settings, plan: EvalPlan, notify: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.plan = plan
        self.notify = notify
        self.items = read_questions(plan.questions, plan.limit, plan.seed)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._library: Library | None = None

    def __enter__(self) -> Self:
        settings = self.settings
        if self.plan.corpus and not self.plan.keep:
            self._tmp = tempfile.TemporaryDirectory(prefix="ragbot-eval-")
            settings = settings.model_copy(update={"data_dir": Path(self._tmp.name), "model_cache_dir": settings.models_dir.resolve()})
        self._library = Library(settings, notify=self.notify)
        return self

    def __exit__(self, *exc: object) -> None:
        self._library = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def library(self) -> Library:
        if self._library is None:
            raise RuntimeError("use Evaluation as a context manager")
        return self._library

    def ingest(self, progress: Callable[[int, int | None], None] | None = None) -> IngestReport | None:
        """Ingest the plan's corpus (None without one); its problems are in the report."""
        if not self.plan.corpus:
            return None
        return self.library.ingest([self.plan.corpus], collection=self.plan.collection, progress=progress)

    def run(self, progress: Callable[[int, int], None] | None = None) -> EvalReport:
        """Ask every question and summarise."""
        return run(self.library, self.items, k=self.plan.k, collection=self.plan.collection, progress=progress)
