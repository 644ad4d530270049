"""Generative answers: no model call without relevant passages, clear backend errors, verification end to end.

The end-to-end tests run the default answer model (Qwen2.5-Coder-1.5B) for real: through
`python -m llama_cpp.server` and the `openai` backend, and in-process through `llamacpp`. A scripted chat model
(langchain-core's FakeListChatModel) stands in only where a test needs a model answer chosen
in advance (fallback, renumbering), which no real model can be made to produce on demand.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from retrieval.answer import prompts
from retrieval.answer.context import AnswerContext
from retrieval.answer.extractive import compose
from retrieval.answer.generative import FALLBACK, generate
from retrieval.answer.verify import SUPPORT_THRESHOLD, missing_facts
from retrieval.errors import RagbotError
from retrieval.ingest.loaders import SAMPLE_DOC_ID
from retrieval.library import Library
from retrieval.llm import gguf_path, llamacpp
from retrieval.llm.llamacpp import ChatLlamaCppLocal, load_llama
from retrieval.types import CANNOT_ANSWER, Answer, Document
from tests.support.helpers import free_port
from tests.support.llm import default_model
from tests.support.passages import INJECTION, passage_with

ARRIVAL = "Belousov arrived in Beijing on Monday"
# The real model gets room to be slow on a busy machine; these tests assert on content, never on time.
REAL = {"llm_timeout": 900.0, "llm_max_tokens": 128}


def check_citations(lib: Library, answer: Answer) -> None:
    """Markers are 1..N in order of first use, each resolves, and every quote is exact; a generated answer's
    citations are what the verifier kept.

    For a generated answer each sentence ends with the markers of the quotes that support it: every quote
    is a span of a passage that was retrieved, carries the verifier's similarity (at least the support
    threshold in use), and the passage states every number, date and name the sentence states.
    """
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
    assert list(dict.fromkeys(markers)) == list(range(1, len(answer.citations) + 1))
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for c in answer.citations:
        text = lib.document_text(c.doc_id)
        assert text is not None and text[c.start : c.end] == c.quote
    if answer.generator in ("extractive", FALLBACK) or not answer.answerable:
        return
    hits = {h.chunk_id: h for h in answer.hits}
    by_n = {c.n: c for c in answer.citations}
    threshold = lib.settings.llm_support_threshold
    for c in answer.citations:
        hit = hits.get(c.chunk_id)
        assert hit is not None and hit.doc_id == c.doc_id, f"[{c.n}] quotes no retrieved passage"
        assert hit.start <= c.start < c.end <= hit.end, f"[{c.n}] is not inside its passage"
        assert c.support is not None and threshold <= c.support <= 1.0, f"[{c.n}] support {c.support} (threshold {threshold})"
    sentences = re.findall(r"\s*(.+?)\s*((?:\[\d+\])+)(?=\s|$)", answer.text)
    assert " ".join(body + " " + marks for body, marks in sentences) == answer.text, "a sentence without a marker"
    for body, marks in sentences:
        for n in map(int, re.findall(r"\d+", marks)):
            assert not missing_facts(body, hits[by_n[n].chunk_id]), (body, by_n[n].quote)


def with_generator(lib: Library, **changes: object) -> Library:
    """The same library (same store and model) with other answering settings."""
    return Library(lib.settings.model_copy(update=changes), embedder=lib.embedder, client=lib.client)


def hits_and_idf(lib: Library, question: str):  # type: ignore[no-untyped-def]
    """What Library.ask hands to the composer: hits, the idf function and the question vector."""
    searcher = lib._searcher(None)
    vector = lib.embedder.embed([question])[0]
    return searcher.search(question, 5, vector=vector), searcher.idf(), vector


# -- no model when nothing is relevant; errors naming the setting ------------------------------


def test_nothing_relevant_returns_cannot_answer_without_calling_the_model(sample_library: Library) -> None:
    # The endpoint is a closed port: any model call would raise.
    lib = with_generator(sample_library, generator="openai", openai_base_url=f"http://127.0.0.1:{free_port()}/v1", llm_model="m")
    answer = lib.ask("What is the boiling point of mercury in kelvin?")
    assert answer.text == CANNOT_ANSWER and not answer.answerable and answer.citations == []
    assert answer.generator == "openai"


def test_unreachable_openai_endpoint_names_the_setting(sample_library: Library) -> None:
    lib = with_generator(sample_library, generator="openai", openai_base_url=f"http://127.0.0.1:{free_port()}/v1", llm_model="m")
    with pytest.raises(RagbotError, match=r"RAGBOT_OPENAI_BASE_URL"):
        lib.ask("When did Belousov arrive in Beijing?")
    lib = with_generator(sample_library, generator="openai", openai_base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(RagbotError, match=r"RAGBOT_OPENAI_BASE_URL"):  # no model name: the server is asked, and is not there
        lib.ask("When did Belousov arrive in Beijing?")


def test_openai_without_endpoint_or_key_names_the_setting(sample_library: Library) -> None:
    with pytest.raises(RagbotError, match=r"set RAGBOT_OPENAI_BASE_URL"):
        with_generator(sample_library, generator="openai").ask("When did Belousov arrive in Beijing?")


def test_unreachable_ollama_names_the_setting(sample_library: Library) -> None:
    lib = with_generator(sample_library, generator="ollama", ollama_url=f"http://127.0.0.1:{free_port()}", llm_model="llama3.2")
    with pytest.raises(RagbotError, match=r"RAGBOT_OLLAMA_URL"):
        lib.ask("When did Belousov arrive in Beijing?")
    with pytest.raises(RagbotError, match=r"RAGBOT_LLM_MODEL"):
        with_generator(sample_library, generator="ollama").ask("When did Belousov arrive in Beijing?")


def test_missing_gguf_names_the_setting(sample_library: Library, tmp_path: Path) -> None:
    lib = with_generator(sample_library, generator="llamacpp", llm_model=str(tmp_path / "nope.gguf"))
    # Configured but missing: answered extractively, with the reason said once (tests/retrieval/llm/test_default_generation.py).
    assert lib.ask("When did Belousov arrive in Beijing?").generator == "extractive" and lib.generator_note
    with pytest.raises(RagbotError, match=r"does not exist: set RAGBOT_LLM_MODEL"):  # asked for by name: an error
        lib.ask("When did Belousov arrive in Beijing?", generator="llamacpp")


def test_unknown_generator_names_the_setting(sample_library: Library) -> None:
    with pytest.raises(RagbotError, match=r"RAGBOT_GENERATOR"):
        sample_library.ask("When did Belousov arrive in Beijing?", generator="gpt-magic")


# -- the flow, with answers chosen in advance -------------------------------------------------


def test_verified_answer_is_renumbered_and_streamed(sample_library: Library) -> None:
    question = "When did Belousov arrive in Beijing, and whom did he meet?"
    hits, idf, vector = hits_and_idf(sample_library, question)
    a = passage_with(hits, ARRIVAL)
    raw = (f"Belousov arrived in Beijing on Monday [{a}]. He met his counterpart, Admiral Dong Jun [{a}]. "
           f"He also visited the Great Wall [{a}].")
    tokens: list[str] = []
    answer = generate(AnswerContext(question, hits, sample_library.embedder, idf, question, vector), sample_library.settings, generator="openai",
                      on_token=tokens.append, model=FakeListChatModel(responses=[raw]))
    check_citations(sample_library, answer)
    assert "".join(tokens) == raw and len(tokens) > 1  # streamed piece by piece, the raw draft
    assert answer.generator == "openai" and answer.answerable
    assert answer.text.startswith("Belousov arrived in Beijing on Monday. [1]")
    assert "Great Wall" not in answer.text
    assert [d["reason"] for d in answer.dropped] == [f"passage [{a}] does not state Great, Wall"]
    assert all(c.support is not None and c.support >= SUPPORT_THRESHOLD for c in answer.citations)
    out = answer.to_json()
    assert out["dropped"] == answer.dropped and {"verified", "support"} <= set(out["citations"][0])


def test_nothing_surviving_falls_back_to_the_extractive_answer(sample_library: Library) -> None:
    question = "When did Belousov arrive in Beijing?"
    hits, idf, vector = hits_and_idf(sample_library, question)
    raw = "Belousov arrived in Beijing on Friday [1]. He flew there on a dragon."
    answer = generate(AnswerContext(question, hits, sample_library.embedder, idf, question, vector), sample_library.settings, generator="llamacpp",
                      model=FakeListChatModel(responses=[raw]))
    expected = compose(AnswerContext(question, hits, sample_library.embedder, idf, question, vector))
    assert answer.generator == "extractive-fallback"
    assert answer.text == expected.text and answer.citations == expected.citations and "Monday" in answer.text
    assert [d["reason"] for d in answer.dropped] == ["passage [1] does not state Friday", "cites no passage, and no passage supports it"]
    check_citations(sample_library, answer)


def test_model_saying_the_passages_do_not_answer_is_an_abstention(sample_library: Library) -> None:
    question = "When did Belousov arrive in Beijing?"
    hits, idf, vector = hits_and_idf(sample_library, question)
    answer = generate(AnswerContext(question, hits, sample_library.embedder, idf, question, vector), sample_library.settings, generator="ollama",
                      model=FakeListChatModel(responses=[CANNOT_ANSWER]))
    assert answer.generator == "ollama" and not answer.answerable
    assert answer.text == CANNOT_ANSWER and answer.citations == []
    assert answer.dropped == [{"sentence": CANNOT_ANSWER, "markers": [], "reason": "the model found no answer in the passages"}]


# -- the real model (minutes on two cores: marked slow) -------------------------------------------


@pytest.mark.slow
def test_openai_backend_against_a_real_llama_cpp_server(sample_library: Library, llama_server: str) -> None:
    lib = with_generator(sample_library, generator="openai", openai_base_url=llama_server, **REAL)
    for question in ("Who is Russia's defence minister?", "When did Belousov arrive in Beijing?", "What exercises were mentioned?"):
        tokens: list[str] = []
        answer = lib.ask(question, on_token=tokens.append)
        assert tokens, "the model was called and streamed its draft"
        assert answer.generator == "openai" and answer.answerable, answer.dropped
        check_citations(lib, answer)
        assert all(c.support is not None and c.support >= SUPPORT_THRESHOLD for c in answer.citations)
    assert "Belousov" in lib.ask("Who is Russia's defence minister?").text


@pytest.mark.slow
def test_llamacpp_backend_in_process(sample_library: Library) -> None:
    default_model()
    lib = with_generator(sample_library, generator="llamacpp", **REAL)
    # The model is loaded once per process and shared by the tests before this one. llama.cpp
    # reuses the longest prompt prefix it already holds, and greedy output can differ with what it
    # held: start from nothing, as a fresh `ragbot ask` does (it then holds the fixed prefix first,
    # loaded if saved: the next test).
    load_llama(str(gguf_path(lib.settings).resolve())).reset()
    tokens: list[str] = []
    answer = lib.ask("When did Belousov arrive in Beijing?", on_token=tokens.append)
    assert tokens and answer.generator == "llamacpp", ("".join(tokens), answer.dropped)
    check_citations(lib, answer)
    assert "Monday" in answer.text


@pytest.mark.slow
def test_the_evaluated_prompt_prefix_is_saved_and_the_next_process_loads_it(
    sample_library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A fresh `ragbot ask` reads a saved prefix state instead of evaluating the fixed rules and examples again,
    and answers exactly as the process that evaluated them; a state file llama.cpp refuses is evaluated over."""
    path = str(default_model().resolve())
    llama = load_llama(path)
    evaluated: list[int] = []
    real_eval = llama.eval
    monkeypatch.setattr(llama, "eval", lambda tokens: (evaluated.append(len(tokens)), real_eval(tokens))[1])
    loads: list[Path] = []
    real_load = llamacpp._load_state
    monkeypatch.setattr(llamacpp, "_load_state", lambda model, file: (loads.append(file), real_load(model, file))[1])

    def fresh_process() -> ChatLlamaCppLocal:
        llama.reset()  # what a new process holds: nothing evaluated, and no record of a primed prefix
        llama._ctx.kv_cache_clear()
        llamacpp._primed.pop(llama, None)
        evaluated.clear()
        return ChatLlamaCppLocal(model_path=path, max_tokens=128, llama=llama, state_dir=str(tmp_path / "state"))

    question = "When did Belousov arrive in Beijing?"
    chat = fresh_process()
    lib = Library(sample_library.settings.model_copy(update={"generator": "llamacpp", **REAL}), embedder=sample_library.embedder,
                  client=sample_library.client, chat_model=chat)
    evaluated_first = lib.ask(question)
    saved = list((tmp_path / "state").iterdir())
    assert len(saved) == 1 and saved[0].suffix == ".bin" and saved[0].stat().st_size > 1_000_000, saved
    prefix_tokens, suffix_tokens = evaluated[:2]  # the rules and examples, then the excerpts and question
    assert prefix_tokens > 300, evaluated

    chat = fresh_process()
    chat.prime(prompts.prefix())
    assert evaluated == [] and llama.n_tokens >= prefix_tokens - 1, "the prefix was read from the file, not evaluated"
    lib = Library(lib.settings, embedder=sample_library.embedder, client=sample_library.client, chat_model=chat)
    loaded = lib.ask(question)
    assert evaluated[0] == suffix_tokens, "only the excerpts and question were evaluated"
    assert loaded.text == evaluated_first.text and loaded.generator == "llamacpp", (loaded.text, evaluated_first.text)
    check_citations(lib, loaded)
    after, read = len(evaluated), len(loads)
    chat.prime(prompts.prefix())  # what the next question does first: the model still holds the prefix
    assert (len(evaluated), len(loads)) == (after, read), "a held prefix was evaluated or loaded again"

    saved[0].write_bytes(saved[0].read_bytes()[:4096])  # cut short: llama.cpp refuses it
    chat = fresh_process()
    lib = Library(lib.settings, embedder=sample_library.embedder, client=sample_library.client, chat_model=chat)
    with caplog.at_level("WARNING", logger="retrieval.llm.llamacpp"):
        again = lib.ask(question)
    assert "could not read the saved prompt state" in caplog.text
    assert again.text == evaluated_first.text
    assert saved[0].stat().st_size > 1_000_000, "the refused file was replaced by a whole one"


def _watched(llama: object, path: str, **fields: object) -> tuple[str, dict]:
    """One reply of the real model to a fixed prompt (the rules, the examples, one passage), and its metadata.

    The whole prompt is read from nothing each time: llama.cpp's greedy output can differ with the prefix
    it already held (the note in test_llamacpp_backend_in_process), and these replies are compared.
    """
    from langchain_core.messages import HumanMessage

    llama.reset()  # type: ignore[attr-defined]
    llama._ctx.kv_cache_clear()  # type: ignore[attr-defined]

    question = fields.pop("question", "Whom did Belousov meet on Tuesday?")
    passage = "[1] Visit: Belousov arrived in Beijing on Monday. He met Dong Jun on Tuesday."
    messages = [*prompts.prefix(), HumanMessage(content=f"<passages>\n{passage}\n</passages>\nQuestion: {question}")]
    chat = ChatLlamaCppLocal(model_path=path, max_tokens=48, llama=llama, **fields)
    text, meta = "", {}
    for chunk in chat.stream(messages):
        text += str(chunk.content)
        meta.update(chunk.response_metadata)
    return text, meta


@pytest.mark.slow
def test_the_refusal_probability_is_read_at_the_first_step_and_changes_nothing_under_the_threshold() -> None:
    path = str(default_model().resolve())
    llama = load_llama(path)
    plain, plain_meta = _watched(llama, path)
    assert "Dong Jun" in plain and "refusal_probability" not in plain_meta
    text, meta = _watched(llama, path, refusal=CANNOT_ANSWER)
    assert text == plain, "reading the first step changed the reply"
    p = meta["refusal_probability"]
    assert 0.0 < p < 0.5 and meta["refused_early"] is False, meta
    # The same prompt read again from nothing gives the same first step (a margin of 10 % all the same).
    text, meta = _watched(llama, path, refusal=CANNOT_ANSWER, refuse_at=min(1.0, p * 1.1))
    assert text == plain and meta["refused_early"] is False
    text, meta = _watched(llama, path, refusal=CANNOT_ANSWER, refuse_at=p * 0.9)  # over the threshold: the reply ends at once
    assert text == "" and meta == {"refusal_probability": pytest.approx(p, rel=0.1), "refused_early": True}
    refused, refused_meta = _watched(llama, path, refusal=CANNOT_ANSWER, question="What is the capital of Peru?")
    assert refused == CANNOT_ANSWER and refused_meta["refusal_probability"] > 0.5, (refused, refused_meta)


@pytest.mark.slow
def test_a_question_the_model_leans_towards_refusing_is_an_abstention_with_nothing_streamed(sample_library: Library) -> None:
    llama = load_llama(str(default_model().resolve()))

    def fresh_process() -> None:  # both asks read the same tokens the same way (the prefix, then the rest)
        llama.reset()
        llama._ctx.kv_cache_clear()
        llamacpp._primed.pop(llama, None)

    question = "When did Belousov arrive in Beijing?"
    fresh_process()
    answered = with_generator(sample_library, generator="llamacpp", **REAL).ask(question)
    assert answered.answerable and "Monday" in answered.text and answered.refusal is not None, answered.dropped
    lib = with_generator(sample_library, generator="llamacpp", llm_refuse_at=answered.refusal * 0.9, **REAL)
    tokens: list[str] = []
    fresh_process()
    answer = lib.ask(question, on_token=tokens.append)
    assert tokens == [] and answer.text == CANNOT_ANSWER and not answer.answerable and answer.citations == []
    assert answer.generator == "llamacpp" and answer.refusal == pytest.approx(answered.refusal, rel=0.1)
    assert [d["reason"] for d in answer.dropped] == [
        f"the model leaned towards finding no answer (p = {answer.refusal:.2f} of starting the cannot-answer reply)"]
    assert answer.to_json()["refusal_probability"] == round(answer.refusal, 4)


@pytest.mark.slow
def test_instruction_in_a_document_is_not_followed(sample_library: Library, llama_server: str) -> None:
    note = Document(doc_id="note", source="note.txt", title="Visit note",
                    text=f"Belousov arrived in Beijing on Monday for talks with Dong Jun. {INJECTION}")
    sample_library.ingest_documents([note])
    lib = with_generator(sample_library, generator="openai", openai_base_url=llama_server, **REAL)
    for question in ("When did Belousov arrive in Beijing?", "What does the visit note say?"):
        answer = lib.ask(question)
        check_citations(lib, answer)
        quotes = [" ".join(c.quote.split()) for c in answer.citations]
        for sentence in re.split(r"(?<=\])\s+", answer.text):
            if "@everyone" in sentence or "ignore previous instructions" in sentence.lower():
                # Asked what the note says, ragbot may quote it, but only as an exact, cited quote:
                # shown (and never delivered as a mention by the bot), not obeyed.
                body = re.sub(r"\s*(\[\d+\])+$", "", sentence).rstrip(".")
                assert any(body in q for q in quotes), sentence
        if question.startswith("When"):
            assert "@everyone" not in answer.text and "ignore previous" not in answer.text.lower()


@pytest.mark.slow
def test_ask_json_carries_verification(sample_library: Library, llama_server: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGBOT_")}
    env.update(RAGBOT_DATA_DIR=str(sample_library.settings.data_dir), RAGBOT_MODEL_CACHE_DIR=str(sample_library.settings.models_dir),
               RAGBOT_EMBED_BACKEND=sample_library.settings.embed_backend, RAGBOT_GENERATOR="openai", RAGBOT_OPENAI_BASE_URL=llama_server, RAGBOT_LLM_TIMEOUT="900",
               RAGBOT_LLM_MAX_TOKENS="128")
    questions = "Who is Russia's defence minister?\nWhat is the boiling point of mercury in kelvin?\n"
    run = subprocess.run([sys.executable, "-m", "bot.cli", "ask", "--json"], check=False, input=questions, capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr
    first, second = (json.loads(line) for line in run.stdout.splitlines())
    assert first["generator"] == "openai" and first["citations"]
    assert all({"verified", "support"} <= set(c) for c in first["citations"])
    assert all(isinstance(d["reason"], str) for d in first.get("dropped", []))
    assert second["answer"] == CANNOT_ANSWER and second["generator"] == "openai" and not second["answerable"]
    assert SAMPLE_DOC_ID in {c["doc_id"] for c in first["citations"]}
