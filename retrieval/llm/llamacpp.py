"""A thin LangChain chat model over an in-process llama-cpp-python `Llama` (a GGUF file).

langchain-community's ChatLlamaCpp would bring langchain-community and its many
dependencies for one class; this is the part we use: streamed chat completions.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

# Room for k=5 passages of ~230 tokens, the instructions and the answer, with margin.
CONTEXT_TOKENS = 4096
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}
_lock = threading.Lock()  # a Llama object is not safe to use from two threads at once


@lru_cache(maxsize=2)
def load_llama(path: str, n_ctx: int = CONTEXT_TOKENS) -> Any:
    """The GGUF model at `path`, loaded once per process and shared by every question."""
    from llama_cpp import Llama

    # llama-cpp-python defaults to half the cores for generation; every core is ours while we answer.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return Llama(model_path=path, n_ctx=n_ctx, n_threads=cores, n_threads_batch=cores, verbose=False, seed=0)


class ChatLlamaCppLocal(BaseChatModel):
    """Chat completions from a GGUF model run in this process by llama-cpp-python."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    max_tokens: int = 256
    temperature: float = 0.0
    repeat_penalty: float = 1.1
    llama: Any = Field(default=None, exclude=True)

    @property
    def _llm_type(self) -> str:
        return "llamacpp-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "max_tokens": self.max_tokens, "temperature": self.temperature}

    def prime(self, messages: list[BaseMessage]) -> None:
        """Evaluate a prompt prefix now, so that later prompts starting with it only read what follows."""
        llama = self._model()
        with _lock:
            llama.create_chat_completion(messages=_payload(messages), max_tokens=1, temperature=0.0)

    def _model(self) -> Any:
        if self.llama is None:
            self.llama = load_llama(self.model_path)
        return self.llama

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Yield the completion token by token."""
        llama = self._model()
        with _lock:
            stream = llama.create_chat_completion(
                messages=_payload(messages),
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                repeat_penalty=self.repeat_penalty,
                stop=stop,
                stream=True,
            )
            for part in stream:
                delta = part["choices"][0].get("delta", {}).get("content")
                if not delta:
                    continue
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                if run_manager:
                    run_manager.on_llm_new_token(delta, chunk=chunk)
                yield chunk

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """The whole completion (built from the stream)."""
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))


def _payload(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as llama.cpp chat messages."""
    return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]
