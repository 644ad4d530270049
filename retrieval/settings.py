"""Settings, read from the environment and `.env` (every variable is listed in `.env.example`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    data_dir: Path = Field(Path(".ragbot"), description="Folder for the on-disk library and model cache.")
    chroma_url: str | None = Field(None, description="Use a Chroma server at this URL instead of the data dir.")
    chroma_token: SecretStr | None = Field(None, description="Auth token for the Chroma server, if it needs one.")
    collection: str = Field("ragbot", description="Default collection (library) name.")

    # Embedding
    embed_model: str | None = Field(
        None, description="sentence-transformers model path or name; empty = bundled all-MiniLM-L6-v2."
    )
    embed_backend: Literal["onnx", "onnx-int8", "torch"] = Field(
        "onnx", description="onnx (fp32, default), onnx-int8, or torch (sentence-transformers)."
    )
    model_cache_dir: Path | None = Field(None, description="Where exported ONNX models live; default DATA_DIR/models.")
    embed_batch_size: int = Field(32, ge=1, description="Texts per embedding batch.")

    # Chunking and retrieval
    chunk_tokens: int = Field(200, ge=32, le=256, description="Target chunk size in model tokens (window is 256).")
    chunk_overlap_tokens: int = Field(40, ge=0, description="Overlap between neighbouring chunks, in tokens.")
    k: int = Field(5, ge=1, le=50, description="Passages retrieved per question.")
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted, in characters.")
    max_file_bytes: int = Field(20_000_000, ge=1, description="Largest file accepted for ingest, in bytes.")

    # Answering
    generator: str = Field("extractive", description="extractive, llamacpp, ollama or openai.")
    llm_model: str | None = Field(None, description="GGUF path for llamacpp; model name for ollama/openai.")
    ollama_url: str = Field("http://127.0.0.1:11434", description="Ollama server URL.")
    openai_base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1.")
    openai_api_key: SecretStr | None = Field(None, description="API key for the OpenAI-compatible endpoint.")
    llm_max_tokens: int = Field(256, ge=16, description="Most tokens a generated answer may use.")
    llm_timeout: float = Field(120.0, gt=0, description="Seconds to wait for a language model.")

    # Discord
    discord_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("DISCORD_TOKEN", "RAGBOT_DISCORD_TOKEN"),
        description="Bot token (DISCORD_TOKEN); required by `ragbot bot`.",
    )
    discord_dev_guild: int | None = Field(
        None,
        validation_alias=AliasChoices("DISCORD_DEV_GUILD", "RAGBOT_DISCORD_DEV_GUILD"),
        description="Sync slash commands to this guild only (instant); unset = global.",
    )
    shared_library: bool = Field(False, description="One library for all servers instead of one per server.")
    max_concurrent_questions: int = Field(2, ge=1, description="Questions answered at once; others queue.")
    max_queued_questions: int = Field(100, ge=1, description="Questions that may wait their turn.")
    cooldown_seconds: float = Field(3.0, ge=0, description="Per-user pause between questions.")

    debug: bool = Field(False, description="Show tracebacks for unexpected errors.")

    @property
    def models_dir(self) -> Path:
        """Folder for exported embedding models."""
        return self.model_cache_dir or self.data_dir / "models"
