"""Benchmark the local judge against calling llama-cpp-python directly.

Run from the project root:

    uv run python benchmarks/bench_local.py

Scores the first ``--items`` recipes of ``anchors/recipes/recipes-overall.jsonl`` with the
embedded SmolLM2-135M-Instruct model, in one asyncio loop, two or three ways per mode:

* **harness**: ``await LocalJudge.complete(...)`` (worker thread, lock, prompt formatting
  and token count for the context check, grammar, JSON parsing);
* **direct**: llama-cpp-python called on a separately loaded model with the same settings,
  the same messages and the same grammar, reset before each call like the judge.

Structured mode: ``Llama.create_chat_completion`` with the grammar. Logprob mode: the judge's
route (``Llama.eval``, then the last position's logits) done by hand, and the alternative
``create_chat_completion(logprobs=True, max_tokens=1)``, which needs a model loaded with
``logits_all=True``.

The machine is shared, so every item is run ``--repeat`` times per way, the ways alternating
in rotated order item by item (drift hits all alike); the overhead is computed from the
per-item minima (the least disturbed run), and judgments/s from all runs. Prints Markdown;
``benchmarks/README.md`` records the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from harness.anchors import load_anchor_set
from harness.judges._base import JudgeRequest, Message
from harness.judges._local import LocalJudge, bundled_model_path, score_grammar

ANCHORS = Path(__file__).resolve().parents[1] / "anchors" / "recipes" / "recipes-overall.jsonl"


def build_messages(rubric: str, lo: int, hi: int, item_input: str, output: str,
                   logprob: bool) -> tuple[Message, ...]:
    """A plain judge prompt: the rubric as system message, the recipe as user message."""
    ask = (f"Answer with the score only: one digit from {lo} to {hi}." if logprob else
           f"Reply in JSON: first a short reasoning, then the score (an integer from {lo} "
           f"to {hi}).")
    return (Message("system", f"{rubric}\n\n{ask}"),
            Message("user", f"{item_input}\n\n{output}\n\nYour rating:"))


async def measure(ways: dict[str, Callable[[Any], Any]], prompts: list[Any], repeat: int
                  ) -> tuple[dict[str, list[list[float]]], dict[str, list[list[float]]],
                             dict[str, list[Any]]]:
    """Wall and process-CPU seconds per way, item and run; the first run's result per item."""
    names = list(ways)
    wall: dict[str, list[list[float]]] = {n: [] for n in names}
    cpu: dict[str, list[list[float]]] = {n: [] for n in names}
    results: dict[str, list[Any]] = {n: [] for n in names}
    for i, prompt in enumerate(prompts):
        for n in names:
            wall[n].append([])
            cpu[n].append([])
        for r in range(repeat):
            k = (i * repeat + r) % len(names)
            for n in names[k:] + names[:k]:
                c0, t0 = time.process_time(), time.perf_counter()
                out = ways[n](prompt)
                if inspect.isawaitable(out):
                    out = await out
                wall[n][-1].append(time.perf_counter() - t0)
                cpu[n][-1].append(time.process_time() - c0)
                if r == 0:
                    results[n].append(out)
    return wall, cpu, results


def table(labels: dict[str, str], wall: dict[str, list[list[float]]],
          cpu: dict[str, list[list[float]]]) -> None:
    print("| way | judgments/s | mean s/call | median s/call | best s/call (mean of per-item "
          "minima) | CPU s/call (mean) |")
    print("|---|---|---|---|---|---|")
    for key, label in labels.items():
        runs = [t for item in wall[key] for t in item]
        best = [min(item) for item in wall[key]]
        cpus = [t for item in cpu[key] for t in item]
        print(f"| {label} | {len(runs) / sum(runs):.3f} | {statistics.mean(runs):.3f} | "
              f"{statistics.median(runs):.3f} | {statistics.mean(best):.3f} | "
              f"{statistics.mean(cpus):.3f} |")


def overhead(wall: dict[str, list[list[float]]], cpu: dict[str, list[list[float]]],
             a: str, b: str) -> str:
    best = sum(min(x) for x in wall[a]) / sum(min(x) for x in wall[b]) - 1
    mean = sum(map(sum, wall[a])) / sum(map(sum, wall[b])) - 1
    cpu_best = sum(min(x) for x in cpu[a]) / sum(min(x) for x in cpu[b]) - 1
    return (f"{100 * best:+.1f} % (per-item minima of wall time; all runs: {100 * mean:+.1f} %; "
            f"per-item minima of process CPU time: {100 * cpu_best:+.1f} %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--skip-logprob", action="store_true")
    args = parser.parse_args()

    aset = load_anchor_set(ANCHORS)
    lo, hi = int(aset.meta.scale.min), int(aset.meta.scale.max)
    items = aset.items[: args.items]
    rubric = aset.meta.rubric or ""
    path = str(bundled_model_path())

    judge = LocalJudge(n_ctx=args.n_ctx)
    direct = llama_cpp.Llama(model_path=path, n_ctx=args.n_ctx, logits_all=False,
                             verbose=False)
    direct.chat_format = "chat_template.default"  # the GGUF's template, as the judge uses
    grammar_text = score_grammar(lo, hi)

    def direct_structured(messages: tuple[Message, ...]) -> tuple[str, int, int]:
        grammar = llama_cpp.LlamaGrammar.from_string(grammar_text, verbose=False)
        direct.reset()
        out = direct.create_chat_completion(
            messages=[m.to_dict() for m in messages], temperature=0.0, top_k=0, top_p=1.0,
            min_p=0.0, typical_p=1.0, repeat_penalty=1.0, seed=0, max_tokens=512,
            grammar=grammar)
        u = out["usage"]
        return out["choices"][0]["message"]["content"], u["prompt_tokens"], u["completion_tokens"]

    async def harness_structured(messages: tuple[Message, ...]) -> tuple[str, int, int]:
        reply = await judge.complete(JudgeRequest(messages=messages, mode="structured",
                                                  scale_min=lo, scale_max=hi, seed=0))
        return reply.raw, reply.usage.input_tokens, reply.usage.output_tokens

    prompts = [build_messages(rubric, lo, hi, it.input, it.output, False) for it in items]
    ways: dict[str, Callable[[Any], Any]] = {"h": harness_structured, "d": direct_structured}
    asyncio.run(measure(ways, prompts[:1], 1))  # warm-up: loads, first decodes
    wall, cpu, res = asyncio.run(measure(ways, prompts, args.repeat))

    n = len(prompts)
    same = sum(h == d for h, d in zip(res["h"], res["d"], strict=True))
    scores = " ".join(str(json.loads(raw)["score"]) for raw, _, _ in res["h"])
    print(f"# Local judge benchmark ({platform.machine()}, Python {platform.python_version()}, "
          f"llama-cpp-python {llama_cpp.__version__}, n_threads={direct.n_threads}, "
          f"n_threads_batch={direct.n_threads_batch}, n_ctx={args.n_ctx})\n")
    print(f"{n} recipes x {args.repeat} runs per way; mean prompt "
          f"{statistics.mean(r[1] for r in res['h']):.0f} tokens, mean reply "
          f"{statistics.mean(r[2] for r in res['h']):.0f} tokens; identical replies both "
          f"ways: {same}/{n}; scores given: {scores}\n")
    print("## Structured mode (grammar)\n")
    table({"h": "harness: `await LocalJudge.complete` in a loop",
           "d": "direct: `Llama.create_chat_completion` + grammar"}, wall, cpu)
    print(f"\n**Harness overhead: {overhead(wall, cpu, 'h', 'd')}; target <= 10 %.**\n")

    if args.skip_logprob:
        return

    lp_prompts = [build_messages(rubric, lo, hi, it.input, it.output, True) for it in items]
    formatter = judge._engine().formatter  # the same template, built the same way

    def direct_eval(messages: tuple[Message, ...]) -> np.ndarray:
        r = formatter(messages=[m.to_dict() for m in messages])
        toks = direct.tokenize(r.prompt.encode(), add_bos=not r.added_special, special=True)
        direct.reset()
        direct.eval(toks)
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(direct.ctx, -1),
                                       shape=(direct.n_vocab(),))
        return llama_cpp.Llama.logits_to_logprobs(logits)

    async def harness_logprob(messages: tuple[Message, ...]) -> dict[str, float]:
        reply = await judge.complete(JudgeRequest(messages=messages, mode="logprob",
                                                  scale_min=lo, scale_max=hi))
        return reply.score_logprobs or {}

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    full = llama_cpp.Llama(model_path=path, n_ctx=args.n_ctx, logits_all=True, verbose=False)
    full.chat_format = "chat_template.default"

    def chat_logprobs(messages: tuple[Message, ...]) -> dict[str, float]:
        full.reset()
        out = full.create_chat_completion(messages=[m.to_dict() for m in messages],
                                          temperature=0.0, max_tokens=1, logprobs=True,
                                          top_logprobs=20, seed=0)
        top = out["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        return {t["token"]: float(t["logprob"]) for t in top}

    ways = {"h": harness_logprob, "e": direct_eval, "c": chat_logprobs}
    asyncio.run(measure(ways, lp_prompts[:1], 1))
    wall, cpu, res = asyncio.run(measure(ways, lp_prompts, args.repeat))
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    max_diff = 0.0
    digit_ids = {str(p): direct.tokenize(str(p).encode(), add_bos=False, special=False)[0]
                 for p in range(lo, hi + 1)}
    for h, e, c in zip(res["h"], res["e"], res["c"], strict=True):
        for d, tid in digit_ids.items():
            max_diff = max(max_diff, abs(h[d] - float(e[tid])))
            if d in c:
                max_diff = max(max_diff, abs(h[d] - c[d]))
    print("## Logprob mode (first reply token)\n")
    table({"h": "harness: `await LocalJudge.complete` (`Llama.eval` + last-position logits)",
           "e": "direct: `Llama.eval` + `llama_get_logits_ith(ctx, -1)`",
           "c": "direct: `create_chat_completion(logprobs=True, top_logprobs=20, "
                "max_tokens=1)`, model loaded with `logits_all=True`"}, wall, cpu)
    print(f"\n**Harness overhead over the direct eval: {overhead(wall, cpu, 'h', 'e')}.** "
          f"The chat-completion route against the judge's: {overhead(wall, cpu, 'c', 'h')}. "
          f"Largest difference between the ways' scale-digit logprobs: {max_diff:.1e}. "
          f"Peak RSS {rss_before:.0f} MB before the `logits_all=True` model was loaded, "
          f"{rss_after:.0f} MB after it ran.")


if __name__ == "__main__":
    main()
