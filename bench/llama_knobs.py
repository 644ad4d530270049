"""llama.cpp settings against the prompt-reading speed of ragbot's answers, in one process.

    .venv/bin/python bench/llama_knobs.py [--model qwen2.5-coder-1.5b] [--new 350] [--repeats 3]

An answer's time to its first token is the reading of the prompt's new part (the excerpts and the
question) after the fixed prefix llama.cpp holds. This evaluates the text of ragbot's prefix messages (rules
and worked examples, joined without the chat template), then `--new` tokens of SQuAD passages after it, `--repeats` times per setting, and 32 tokens
one at a time (the speed of writing the answer). Each setting loads the model afresh; the first row is
ragbot's own (`retrieval/llm/llamacpp.py::load_llama`), the baseline of the ratio column.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

from _common import SQUAD

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SETTINGS: list[dict[str, Any]] = [
    {},
    {"flash_attn": True},
    {"n_batch": 128, "n_ubatch": 128},
    {"flash_attn": True, "n_batch": 128, "n_ubatch": 128},
]


def measure(path: str, prefix: str, new_text: str, n_new: int, repeats: int, **settings: Any) -> tuple[float, float, int]:
    """Median seconds to read `n_new` tokens after the prefix, tokens per second written, prefix tokens."""
    from retrieval.llm.llamacpp import load_llama

    llama = load_llama(path, **settings)
    held = llama.tokenize(prefix.encode())
    new = llama.tokenize(new_text.encode(), add_bos=False)[:n_new]
    llama.reset()
    llama.eval(held)
    times = []
    for _ in range(repeats):
        llama.n_tokens = len(held)  # back to the held prefix, as a next question finds it
        t0 = time.perf_counter()
        llama.eval(new)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for token in new[:32]:
        llama.eval([token])
    writing = 32 / (time.perf_counter() - t0)
    return statistics.median(times), writing, len(held)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--new", type=int, default=350, help="tokens read after the prefix (default 350)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from retrieval.answer.prompts import prefix
    from retrieval.llm import gguf_path
    from retrieval.settings import Settings

    path = str(gguf_path(Settings(llm_model=args.model)))  # type: ignore[call-arg]
    held = "\n\n".join(str(m.content) for m in prefix())
    passages = [json.loads(line)["text"] for _, line in zip(range(8), (SQUAD / "passages.jsonl").open(), strict=False)]
    print(f"model={args.model}; {args.new} new tokens after ragbot's prompt prefix; median of {args.repeats}\n")
    print("| llama.cpp settings | prefix tokens | read s | read tokens/s | vs ragbot's | written tokens/s |")
    print("|---|---|---|---|---|---|")
    base = None
    for settings in SETTINGS:
        seconds, writing, n_held = measure(path, held, "\n".join(passages), args.new, args.repeats, **settings)
        base = base or seconds
        label = ", ".join(f"{k}={v}" for k, v in settings.items()) or "ragbot's (defaults)"
        print(f"| {label} | {n_held} | {seconds:.2f} | {args.new / seconds:.1f} | {base / seconds:.2f}x | {writing:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
