"""ragbot's retrieval engine. This package is its one import surface: the front ends import from here only.

`Library` is the facade (ingest, search, ask, sources, forget, evaluate); the rest are the types
it takes and returns, its settings and errors, and a few constants a front end shows. Names are
imported on first use, so `ragbot --help` pays for neither Chroma nor the model runtime.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.answer.generative import MODEL_LEANED_NO, MODEL_SAID_NO
    from retrieval.answer.scoring import ANSWER_THRESHOLD
    from retrieval.errors import LibraryEmpty, RagbotError
    from retrieval.evaluate import EvalPlan, EvalReport, Evaluation
    from retrieval.evaluate import plot as plot_eval
    from retrieval.ingest.loaders import HTML_SUFFIXES, SAMPLE_ARTICLE, is_url
    from retrieval.ingest.loaders import SUPPORTED as SUPPORTED_SUFFIXES
    from retrieval.library import Library
    from retrieval.search.searcher import Filters
    from retrieval.settings import Settings, check_k
    from retrieval.text import is_abbreviation, without_markers
    from retrieval.types import (
        CANNOT_ANSWER,
        Answer,
        Citation,
        Document,
        FollowUp,
        Hit,
        IngestReport,
        SourceInfo,
        Turn,
        Upload,
    )

# name -> (module, attribute)
_EXPORTS = {
    "Library": ("retrieval.library", "Library"),
    "Settings": ("retrieval.settings", "Settings"),
    "check_k": ("retrieval.settings", "check_k"),
    "RagbotError": ("retrieval.errors", "RagbotError"),
    "LibraryEmpty": ("retrieval.errors", "LibraryEmpty"),
    "Answer": ("retrieval.types", "Answer"),
    "Citation": ("retrieval.types", "Citation"),
    "Document": ("retrieval.types", "Document"),
    "Hit": ("retrieval.types", "Hit"),
    "IngestReport": ("retrieval.types", "IngestReport"),
    "SourceInfo": ("retrieval.types", "SourceInfo"),
    "Turn": ("retrieval.types", "Turn"),
    "FollowUp": ("retrieval.types", "FollowUp"),
    "Upload": ("retrieval.types", "Upload"),
    "CANNOT_ANSWER": ("retrieval.types", "CANNOT_ANSWER"),
    "Filters": ("retrieval.search.searcher", "Filters"),
    "EvalPlan": ("retrieval.evaluate", "EvalPlan"),
    "EvalReport": ("retrieval.evaluate", "EvalReport"),
    "Evaluation": ("retrieval.evaluate", "Evaluation"),
    "plot_eval": ("retrieval.evaluate", "plot"),
    "ANSWER_THRESHOLD": ("retrieval.answer.scoring", "ANSWER_THRESHOLD"),
    "MODEL_SAID_NO": ("retrieval.answer.generative", "MODEL_SAID_NO"),
    "MODEL_LEANED_NO": ("retrieval.answer.generative", "MODEL_LEANED_NO"),
    "without_markers": ("retrieval.text", "without_markers"),
    "is_abbreviation": ("retrieval.text", "is_abbreviation"),
    "is_url": ("retrieval.ingest.loaders", "is_url"),
    "HTML_SUFFIXES": ("retrieval.ingest.loaders", "HTML_SUFFIXES"),
    "SUPPORTED_SUFFIXES": ("retrieval.ingest.loaders", "SUPPORTED"),
    "SAMPLE_ARTICLE": ("retrieval.ingest.loaders", "SAMPLE_ARTICLE"),
}

__all__ = [
    "ANSWER_THRESHOLD",
    "CANNOT_ANSWER",
    "HTML_SUFFIXES",
    "MODEL_LEANED_NO",
    "MODEL_SAID_NO",
    "SAMPLE_ARTICLE",
    "SUPPORTED_SUFFIXES",
    "Answer",
    "Citation",
    "Document",
    "EvalPlan",
    "EvalReport",
    "Evaluation",
    "Filters",
    "FollowUp",
    "Hit",
    "IngestReport",
    "Library",
    "LibraryEmpty",
    "RagbotError",
    "Settings",
    "SourceInfo",
    "Turn",
    "Upload",
    "check_k",
    "is_abbreviation",
    "is_url",
    "plot_eval",
    "without_markers",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'retrieval' has no attribute {name!r}") from None
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value
