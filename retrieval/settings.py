"""Settings, read from the environment and `.env` (every variable is listed in `.env.example`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from retrieval.errors import RagbotError

K_MIN, K_MAX = 1, 50  # passages per question: RAGBOT_K, --k, the REPL's :k and Library.search/ask all use this range


def check_k(value: int | str) -> int:
    """The number of passages to retrieve, or a RagbotError saying the allowed range."""
    try:
        k = int(str(value).strip())
    except ValueError:
        k = None
    if k is None or not K_MIN <= k <= K_MAX:
        raise RagbotError(f"The number of passages (k) must be a whole number from {K_MIN} to {K_MAX}, not {str(value).strip()!r}.")
    return k


def default_data_dir() -> Path:
    """The platform's user data folder for ragbot, so that the library does not depend on the working folder."""
    import platformdirs

    return Path(platformdirs.user_data_dir("ragbot", appauthor=False))


class Settings(BaseSettings):
    """Every knob of ragbot; environment variables are `RAGBOT_<NAME>` unless noted."""

    model_config = SettingsConfigDict(
        env_prefix="RAGBOT_",
        env_file=".env",
        env_nested_delimiter="__",
        env_ignore_empty=True,
        extra="ignore",
    )

    # Storage
    data_dir: Path = Field(
        default_factory=lambda: default_data_dir(),
        description="Folder for the on-disk library and model cache; default the user data dir (~/.local/share/ragbot on Linux).",
    )
    chroma_url: str | None = Field(None, description="Use a Chroma server at this URL instead of the data dir.")
    chroma_token: SecretStr | None = Field(None, description="Auth token for the Chroma server, if it needs one.")
    collection: str = Field("ragbot", description="Default collection (library) name.")
    chroma_retry_seconds: float = Field(
        30.0, ge=0, description="How long a question waits for a Chroma server that stopped answering before it fails."
    )

    # Embedding
    embed_model: str | None = Field(
        None, description="sentence-transformers model path or name; empty = bundled all-MiniLM-L6-v2."
    )
    # int8 is the default because it keeps retrieval quality on SQuAD v1.1 dev within half a point
    # of fp32 at a fraction of the cost (bench/quality.py; figures in docs/performance.md).
    embed_backend: Literal["onnx", "onnx-int8", "torch"] = Field(
        "onnx-int8",
        description="onnx-int8 (default: quantized, faster, same SQuAD quality), onnx (fp32), or torch (sentence-transformers).",
    )
    model_cache_dir: Path | None = Field(None, description="Where exported ONNX models live; default DATA_DIR/models.")
    embed_batch_size: int | None = Field(
        None,
        ge=1,
        description="Texts per embedding batch; unset: 1 for onnx-int8 (a text's vector then never depends on what shares its batch), else 8.",
    )

    # Chunking and retrieval
    chunk_tokens: int = Field(200, ge=32, le=256, description="Target chunk size in model tokens (window is 256).")
    chunk_overlap_tokens: int = Field(40, ge=0, description="Overlap between neighbouring chunks, in tokens.")
    k: int = Field(5, ge=K_MIN, le=K_MAX, description="Passages retrieved per question.")
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted, in characters.")
    max_file_bytes: int = Field(20_000_000, ge=1, description="Largest file accepted for ingest, in bytes.")

    # Fetching articles by URL
    fetch_timeout: float = Field(15.0, gt=0, description="Seconds a web page may take to download in all (redirects included).")
    fetch_max_bytes: int = Field(5_000_000, ge=1, description="Largest web page fetched, in bytes.")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names fetched even when they resolve to private or loopback addresses (comma-separated).",
    )
    duplicates: Literal["keep", "skip"] = Field(
        "keep", description="Near-duplicate documents at ingest: keep (and report) or skip them."
    )

    # Answering
    generator: str = Field(
        "llamacpp",
        description="llamacpp (default: a local GGUF model in this process), ollama, openai, or extractive (quoted sentences, no model).",
    )
    llm_model: str | None = Field(
        None,
        description="For llamacpp a GGUF path or a packaged model (qwen2.5-coder-1.5b, the default, or qwen2.5-coder-0.5b); "
        "for ollama/openai the model name.",
    )
    ollama_url: str = Field("http://127.0.0.1:11434", description="Ollama server URL.")
    openai_base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1.")
    openai_api_key: SecretStr | None = Field(None, description="API key for the OpenAI-compatible endpoint.")
    llm_max_tokens: int = Field(256, ge=16, description="Most tokens a generated answer may use.")
    llm_timeout: float = Field(120.0, gt=0, description="Seconds to wait for a language model.")
    llm_gate: float = Field(
        0.6, ge=0,
        description="Least retrieval confidence (the abstention score) for a question to reach the language model; "
        "below it the answer is the cannot-answer phrase without a model call (docs/generative.md).",
    )
    llm_refuse_at: float | None = Field(
        None, ge=0, le=1,
        description="llamacpp: abstain when the model's probability of starting the cannot-answer reply reaches this at its "
        "first step, though another start is likelier (1 = only when it writes it; unset = the packaged model's own, chosen "
        "on SQuAD near misses: 0.2 for qwen2.5-coder-1.5b, 1 for the others; docs/generative.md).",
    )
    llm_support_threshold: float = Field(
        0.55, ge=0, le=1,
        description="Least embedding similarity between a generated sentence and a cited passage sentence for it to be kept.",
    )

    debug: bool = Field(False, description="Show tracebacks for unexpected errors.")

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        """`a.example,b.example` in the environment; a list when built in code."""
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    @property
    def models_dir(self) -> Path:
        """Folder for exported embedding models."""
        return self.model_cache_dir or self.data_dir / "models"
