"""A thin LangChain chat model over an in-process llama-cpp-python `Llama` (a GGUF file).

langchain-community's ChatLlamaCpp would bring langchain-community and its many
dependencies for one class; this is the part we use: streamed chat completions.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import tempfile
import threading
import weakref
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
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
# The prefix's tokens end with the chat template's generation prompt ("<|im_start|>assistant\n"),
# where a real prompt goes on with the next message instead: a model still holding all but this
# many of them holds the prefix (priming again would cost more than re-reading those few).
GENERATION_PROMPT_SLACK = 8
KEEP_STATES = 4  # saved prefix states kept (about 16 MB each for the default model); older ones are deleted
# The prompt prefixes each loaded Llama holds evaluated: state key -> its tokens.
_primed: weakref.WeakKeyDictionary[Any, dict[str, tuple[int, ...]]] = weakref.WeakKeyDictionary()
log = logging.getLogger(__name__)


@lru_cache(maxsize=2)
def load_llama(path: str, n_ctx: int = CONTEXT_TOKENS, **settings: Any) -> Any:
    """The GGUF model at `path`, loaded once per process and shared by every question (`settings`: more `Llama` arguments)."""
    from llama_cpp import Llama

    # llama-cpp-python defaults to half the cores for generation; every core is ours while we answer.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return Llama(model_path=path, n_ctx=n_ctx, n_threads=cores, n_threads_batch=cores, verbose=False, seed=0, **settings)


class ChatLlamaCppLocal(BaseChatModel):
    """Chat completions from a GGUF model run in this process by llama-cpp-python."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    max_tokens: int = 256
    temperature: float = 0.0
    repeat_penalty: float = 1.1
    state_dir: str | None = None  # where evaluated prompt prefixes are saved for the next process (None: not saved)
    # The reply that means "the passages do not say"; its first token's probability at the reply's
    # first step is reported as `refusal_probability`, and from `refuse_at` on the reply ends there (empty).
    refusal: str | None = None
    refuse_at: float = 1.0
    llama: Any = Field(default=None, exclude=True)

    @property
    def _llm_type(self) -> str:
        return "llamacpp-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "max_tokens": self.max_tokens, "temperature": self.temperature}

    def prime(self, messages: list[BaseMessage]) -> None:
        """Have the model hold a prompt prefix evaluated, so that prompts starting with it only read what follows.

        Nothing to do when it holds the prefix already. Otherwise the prefix's evaluated state is
        loaded from `state_dir` when an earlier process saved it there for this model, prefix,
        context size and llama.cpp build; or else evaluated now (what the first question would
        have paid) and saved for the next process.
        """
        llama = self._model()
        payload = _payload(messages)
        with _lock:
            key = _state_key(llama, self.model_path, payload)
            held = _primed.setdefault(llama, {}).get(key)
            if held is not None and _holds(llama, held):
                return
            path = Path(self.state_dir) / f"{key}.bin" if self.state_dir else None
            tokens = _load_state(llama, path) if path else None
            if tokens is None:
                llama.reset()
                llama.create_chat_completion(messages=payload, max_tokens=1, temperature=0.0)
                tokens = tuple(llama._input_ids.tolist())
                if path:
                    _save_state(llama, path, tokens)
            _primed[llama][key] = tokens

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
        """Yield the completion token by token; with `refusal` set, a last empty chunk carries `refusal_probability`."""
        from llama_cpp import LogitsProcessorList

        llama = self._model()
        with _lock:
            watch = _FirstStep(llama, self.refusal, self.refuse_at) if self.refusal else None
            stream = llama.create_chat_completion(
                messages=_payload(messages),
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                repeat_penalty=self.repeat_penalty,
                stop=stop,
                stream=True,
                logits_processor=LogitsProcessorList([watch]) if watch else None,
            )
            for part in stream:
                delta = part["choices"][0].get("delta", {}).get("content")
                if not delta:
                    continue
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                if run_manager:
                    run_manager.on_llm_new_token(delta, chunk=chunk)
                yield chunk
        if watch is not None and watch.probability is not None:
            yield ChatGenerationChunk(message=AIMessageChunk(content="", response_metadata={
                "refusal_probability": watch.probability, "refused_early": watch.stopped}))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """The whole completion (built from the stream)."""
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))


class _FirstStep:
    """A llama.cpp logits processor that reads the reply's first step: how likely the model is to start `refusal`.

    From `refuse_at` on it ends the reply at once (only end-of-generation tokens stay possible), so a
    question the model leans towards refusing costs no generated tokens. Later steps pass through unchanged.
    """

    def __init__(self, llama: Any, refusal: str, refuse_at: float) -> None:
        self.token = llama.tokenize(refusal.encode("utf-8"), add_bos=False, special=False)[0]
        self.ends = [t for t in {llama.token_eos(), *_chat_ends(llama)} if t >= 0]
        self.refuse_at = refuse_at
        self.probability: float | None = None
        self.stopped = False

    def __call__(self, input_ids: Any, logits: Any) -> Any:
        import numpy as np

        if self.probability is not None:
            return logits
        shifted = np.exp(logits - logits.max())
        self.probability = float(shifted[self.token] / shifted.sum())
        if self.probability >= self.refuse_at:
            self.stopped = True
            ended = np.full_like(logits, -np.inf)
            ended[self.ends] = 0.0
            return ended
        return logits


def _chat_ends(llama: Any) -> list[int]:
    """The chat template's end-of-turn token ("<|im_end|>" for ChatML models), when the vocabulary has one."""
    ids = llama.tokenize(b"<|im_end|>", add_bos=False, special=True)
    return ids if len(ids) == 1 else []


def _payload(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as llama.cpp chat messages."""
    return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]


def _holds(llama: Any, tokens: tuple[int, ...]) -> bool:
    """Whether the model's evaluated tokens start with all of `tokens` but their closing generation prompt."""
    need = max(1, len(tokens) - GENERATION_PROMPT_SLACK)
    return llama.n_tokens >= need and tuple(llama._input_ids[:need].tolist()) == tokens[:need]


def _state_key(llama: Any, model_path: str, payload: list[dict[str, str]]) -> str:
    """What a saved prefix state depends on: the model file, the prefix, the context size, the llama.cpp build."""
    import llama_cpp

    stat = os.stat(model_path)
    parts = [llama_cpp.__version__, os.path.realpath(model_path), stat.st_size, stat.st_mtime_ns, llama.n_ctx(),
             llama.chat_format, payload]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def _load_state(llama: Any, path: Path) -> tuple[int, ...] | None:
    """Restore a saved prefix into the model's context; its tokens, or None (no file, or one llama.cpp refuses)."""
    import llama_cpp

    if not path.is_file():
        return None
    capacity = llama.n_ctx()
    tokens = (llama_cpp.llama_token * capacity)()
    count = ctypes.c_size_t(0)
    llama.reset()
    if not llama_cpp.llama_state_load_file(llama.ctx, str(path).encode(), tokens, capacity, ctypes.byref(count)):
        log.warning("llama.cpp could not read the saved prompt state %s: evaluating the prompt instead", path)
        llama.reset()
        llama._ctx.kv_cache_clear()
        return None
    n = count.value
    try:
        os.utime(path)  # in use: not the oldest when the folder is pruned
    except OSError:
        pass
    llama.input_ids[:n] = tokens[:n]
    llama.n_tokens = n
    llama._requires_eval = True  # the next prompt evaluates at least one token of its own before sampling
    return tuple(tokens[:n])


def _save_state(llama: Any, path: Path, tokens: tuple[int, ...]) -> None:
    """Write the evaluated prefix next to the model, atomically; a cache that cannot be written is only logged."""
    import llama_cpp

    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        os.close(fd)
        array = (llama_cpp.llama_token * len(tokens))(*tokens)
        if not llama_cpp.llama_state_save_file(llama.ctx, tmp.encode(), array, len(tokens)):
            raise OSError("llama.cpp could not write it")
        os.replace(tmp, path)
        _prune(path.parent)
    except OSError as exc:
        log.warning("Could not save the evaluated prompt prefix to %s (%s): the next process evaluates it again", path, exc)
        if tmp:
            Path(tmp).unlink(missing_ok=True)


def _prune(folder: Path) -> None:
    """Keep the most recently used saved states (a new prompt or model leaves the old ones unused)."""
    files = sorted(folder.glob("*.bin"), key=lambda f: f.stat().st_mtime_ns, reverse=True)
    for old in files[KEEP_STATES:]:
        old.unlink(missing_ok=True)
