"""Language-model backends as LangChain chat models, and streaming with errors users can act on."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage

from retrieval.errors import RagbotError
from retrieval.settings import Settings
from retrieval.types import CANNOT_ANSWER

GENERATORS = ("extractive", "llamacpp", "ollama", "openai")
# A local server ignores the key, but the OpenAI client insists on one.
_NO_KEY = "not-needed"


def gguf_path(settings: Settings) -> Path:
    """The GGUF file the llamacpp generator loads: RAGBOT_LLM_MODEL (a path or a packaged model's name), else the default.

    A packaged model is assembled into the model cache from its installed PyPI slices the first time.
    """
    from retrieval.llm import gguf

    name = _gguf_name(settings)
    if name in gguf.PACKAGED:
        return gguf.assemble(gguf.PACKAGED[name], settings.models_dir)
    path = Path(name).expanduser()
    if not path.is_file():
        raise RagbotError(f"The GGUF model {name!r} does not exist: set RAGBOT_LLM_MODEL to a GGUF file or to one of {', '.join(gguf.PACKAGED)}.")
    return path


def _gguf_name(settings: Settings) -> str:
    """RAGBOT_LLM_MODEL for llamacpp: a packaged model's name or a GGUF path (empty = the default packaged model)."""
    from retrieval.llm import gguf

    return settings.llm_model or gguf.DEFAULT_MODEL


def unavailable(settings: Settings, generator: str | None = None) -> str | None:
    """Why the in-process llama.cpp generator cannot run here (a sentence), or None when it can or is not asked for."""
    from retrieval.llm import gguf

    if (generator or settings.generator) != "llamacpp":
        return None
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (run `make install`)"
    name = _gguf_name(settings)
    if name in gguf.PACKAGED:
        model = gguf.PACKAGED[name]
        if not gguf.installed(model) and not (settings.models_dir / model.filename).is_file():
            return f"the {model.title} model is not installed (run `make install`)"
    elif not Path(name).expanduser().is_file():
        return f"the GGUF model {name!r} does not exist"
    return None


def check_generator(generator: str) -> str:
    """The generator name, or a clear error naming the setting."""
    if generator not in GENERATORS:
        raise RagbotError(f"Unknown generator {generator!r}: set RAGBOT_GENERATOR (or --generator) to one of {', '.join(GENERATORS)}.")
    return generator


def chat_model(settings: Settings, generator: str) -> BaseChatModel:
    """The configured backend as a LangChain chat model (greedy decoding, bounded length)."""
    check_generator(generator)
    if generator == "llamacpp":
        return _llamacpp(settings)
    if generator == "ollama":
        return _ollama(settings)
    if generator == "openai":
        return _openai(settings)
    raise RagbotError("The extractive composer uses no language model: set RAGBOT_GENERATOR to llamacpp, ollama or openai.")


def _llamacpp(settings: Settings) -> BaseChatModel:
    path = gguf_path(settings)
    if importlib.util.find_spec("llama_cpp") is None:
        raise RagbotError(
            "The llamacpp generator needs llama-cpp-python: install it with `pip install 'ragbot[llm]'` "
            "or set RAGBOT_GENERATOR to another backend."
        )
    from retrieval.llm.llamacpp import ChatLlamaCppLocal, load_llama

    try:
        llama = load_llama(str(path.resolve()))
    except (ValueError, RuntimeError, OSError) as exc:
        raise RagbotError(f"llama.cpp could not load {str(path)!r} ({exc}): set RAGBOT_LLM_MODEL to a valid GGUF file.") from exc
    return ChatLlamaCppLocal(
        model_path=str(path), max_tokens=settings.llm_max_tokens, llama=llama, state_dir=str(settings.models_dir / "llama-state"),
        refusal=CANNOT_ANSWER, refuse_at=refuse_at(settings),
    )


def refuse_at(settings: Settings) -> float:
    """The llamacpp refusal threshold: RAGBOT_LLM_REFUSE_AT, else the packaged model's fitted one, else 1 (none)."""
    from retrieval.llm import gguf

    if settings.llm_refuse_at is not None:
        return settings.llm_refuse_at
    packaged = gguf.PACKAGED.get(_gguf_name(settings))
    return packaged.refuse_at if packaged else 1.0


def _ollama(settings: Settings) -> BaseChatModel:
    if not settings.llm_model:
        raise RagbotError("The ollama generator needs a model name: set RAGBOT_LLM_MODEL (e.g. llama3.2).")
    from langchain_ollama import ChatOllama

    return ChatOllama(
        model=settings.llm_model,
        base_url=settings.ollama_url,
        temperature=0.0,
        num_predict=settings.llm_max_tokens,
        client_kwargs={"timeout": settings.llm_timeout},
    )


def _openai(settings: Settings) -> BaseChatModel:
    if not settings.openai_base_url and not settings.openai_api_key:
        raise RagbotError(
            "The openai generator needs an endpoint: set RAGBOT_OPENAI_BASE_URL (e.g. http://127.0.0.1:8000/v1), "
            "or RAGBOT_OPENAI_API_KEY for OpenAI itself."
        )
    from langchain_openai import ChatOpenAI

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else _NO_KEY
    model = settings.llm_model or _served_model(settings, key)
    return ChatOpenAI(
        model=model,
        base_url=settings.openai_base_url,
        api_key=key,  # type: ignore[arg-type]
        temperature=0.0,
        max_tokens=settings.llm_max_tokens,  # type: ignore[call-arg]
        timeout=settings.llm_timeout,
        max_retries=0,
        use_responses_api=False,  # local OpenAI-compatible servers speak chat completions only
    )


def _served_model(settings: Settings, key: str) -> str:
    """The model a server offers when RAGBOT_LLM_MODEL is unset (the first one it lists)."""
    import httpx

    base = (settings.openai_base_url or "https://api.openai.com/v1").rstrip("/")
    try:
        response = httpx.get(f"{base}/models", headers={"Authorization": f"Bearer {key}"}, timeout=min(settings.llm_timeout, 10.0))
        response.raise_for_status()
        models = [m["id"] for m in response.json().get("data", [])]
    except httpx.HTTPError as exc:
        raise RagbotError(f"No OpenAI-compatible server answered at {base} ({type(exc).__name__}): check RAGBOT_OPENAI_BASE_URL.") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise RagbotError(f"{base}/models did not list models: set RAGBOT_LLM_MODEL to the model name.") from exc
    if not models:
        raise RagbotError(f"The server at {base} lists no models: set RAGBOT_LLM_MODEL to the model name.")
    return str(models[0])


def stream_reply(model: BaseChatModel, messages: Sequence[BaseMessage], settings: Settings, generator: str,
                 on_token: Callable[[str], None] | None = None) -> tuple[str, dict[str, Any]]:
    """The model's whole reply and what the backend said of it (`response_metadata`), passing each piece to `on_token`
    as it arrives; backend failures become RagbotError."""
    parts: list[str] = []
    meta: dict[str, Any] = {}
    try:
        for chunk in model.stream(list(messages)):
            meta.update(chunk.response_metadata or {})
            text = chunk.content if isinstance(chunk.content, str) else "".join(str(c) for c in chunk.content)
            if text:
                parts.append(text)
                if on_token:
                    on_token(text)
    except RagbotError:
        raise
    except Exception as exc:  # each client library has its own exception tree; map the ones users can fix
        raise backend_error(exc, settings, generator) from exc
    return "".join(parts), meta


def backend_error(exc: BaseException, settings: Settings, generator: str) -> BaseException:
    """A RagbotError naming the setting to fix, or the exception itself when it is a bug."""
    text = str(exc)
    if generator == "openai":
        import openai

        where = settings.openai_base_url or "the OpenAI API"
        if isinstance(exc, openai.APITimeoutError):
            return RagbotError(f"The model at {where} did not answer within {settings.llm_timeout:g} s: raise RAGBOT_LLM_TIMEOUT or check the server.")
        if isinstance(exc, openai.APIConnectionError):
            return RagbotError(f"No OpenAI-compatible server answered at {where}: start it or fix RAGBOT_OPENAI_BASE_URL.")
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return RagbotError(f"The server at {where} refused the key: set RAGBOT_OPENAI_API_KEY.")
        if isinstance(exc, openai.NotFoundError):
            return RagbotError(f"The server at {where} does not serve model {settings.llm_model!r}: set RAGBOT_LLM_MODEL.")
        if isinstance(exc, openai.APIStatusError):
            return RagbotError(f"The server at {where} failed ({exc.status_code}): check RAGBOT_OPENAI_BASE_URL and RAGBOT_LLM_MODEL.")
    if generator == "ollama":
        import httpx
        import ollama

        if isinstance(exc, ollama.ResponseError) and exc.status_code == 404:
            return RagbotError(f"Ollama at {settings.ollama_url} has no model {settings.llm_model!r}: pull it or set RAGBOT_LLM_MODEL.")
        if isinstance(exc, ConnectionError | httpx.ConnectError | httpx.TimeoutException) or "connect" in text.lower():
            return RagbotError(f"No Ollama server answered at {settings.ollama_url}: start it or fix RAGBOT_OLLAMA_URL.")
        if isinstance(exc, ollama.ResponseError):
            return RagbotError(f"Ollama failed ({exc.error}): check RAGBOT_LLM_MODEL and RAGBOT_OLLAMA_URL.")
    if generator == "llamacpp" and isinstance(exc, ValueError) and "context" in text.lower():
        return RagbotError(f"The passages do not fit the model's context ({text}): lower RAGBOT_K or RAGBOT_CHUNK_TOKENS.")
    return exc

