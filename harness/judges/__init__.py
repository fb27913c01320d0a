"""Judges: providers behind one interface, the runner that calls them, and scoring.

Providers (one private module each, imported only when used):

* ``local`` — :class:`LocalJudge`, SmolLM2-135M-Instruct embedded through llama-cpp-python;
  no network, no key.
* ``openai`` — :class:`OpenAIJudge`, Chat Completions; with ``base_url`` any
  OpenAI-compatible server (vLLM, Ollama, llama.cpp server).
* ``anthropic`` — :class:`AnthropicJudge`, the Messages API.

:func:`make_judge` builds one by name; :func:`run_judge` / :func:`run_judge_sync` run a set
of :class:`JudgeTask` through it with retries, a budget and the journal;
:func:`run_judge_batch` / :func:`run_judge_batch_sync` do the same through the provider's
batch API (``openai``, ``anthropic``) at batch prices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness._lazy import lazy_exports

if TYPE_CHECKING:
    from ._base import Judge

# Imported on first use: reading PROVIDERS (the command line's --provider help) loads neither
# the runner nor a provider's SDK.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "._base": ("FatalError", "Judge", "JudgeReply", "JudgeRequest", "Message", "ProviderError",
               "RetryableError", "ScoreField", "UnsupportedError", "Usage"),
    "._batch": ("BATCH_PROVIDERS", "BatchSettings", "batch_refusal", "run_judge_batch",
                "run_judge_batch_sync"),
    "._prices": ("PriceTable",),
    "._runner": ("JudgeTask", "Judgment", "RequestSpec", "RunAborted", "RunResult", "RunSettings",
                 "run_judge", "run_judge_sync"),
    "._scoring": ("InvalidReply", "ParsedScore", "aggregate", "parse_reply", "retest_agreement"),
    # Provider classes: `local` needs llama-cpp-python loaded, the others their SDKs; a run
    # with one provider should not pay for the rest.
    "._local": ("LocalJudge",),
    "._openai": ("OpenAIJudge",),
    "._anthropic": ("AnthropicJudge",),
})
__all__ = sorted({*__all__, "PROVIDERS", "make_judge"} - {"LocalJudge", "OpenAIJudge",
                                                          "AnthropicJudge"})

PROVIDERS = ("local", "openai", "anthropic")


def make_judge(
    provider: str,
    model: str,
    *,
    base_url: str | None = None,
    api_key_env: str | None = None,
    timeout_s: float = 60.0,
    options: dict[str, Any] | None = None,
) -> Judge:
    """Build a judge by provider name.

    Parameters
    ----------
    provider : {"local", "openai", "anthropic"}
    model : str
        The provider's model name (``local``: a label for the embedded SmolLM2 model, or
        any GGUF given as ``options={"model_path": ...}``).
    base_url : str, optional
        For ``openai``: any OpenAI-compatible server; for ``anthropic``: a proxy.
    api_key_env : str, optional
        NAME of the environment variable holding the key (default ``OPENAI_API_KEY`` /
        ``ANTHROPIC_API_KEY``); ``""`` for a local server that needs none. Keys are read
        from the environment only.
    timeout_s : float
        Per-request timeout.
    options : dict, optional
        Provider-specific keyword arguments (e.g. ``structured="json_object"`` for
        ``openai``, ``n_ctx`` for ``local``).
    """
    options = dict(options or {})
    if provider == "local":
        from ._local import LocalJudge

        return LocalJudge(model, **options)
    if provider in ("openai", "anthropic"):
        key_env: str | None
        default_env = "OPENAI_API_KEY" if provider == "openai" else "ANTHROPIC_API_KEY"
        key_env = default_env if api_key_env is None else (api_key_env or None)
        if provider == "openai":
            from ._openai import OpenAIJudge

            return OpenAIJudge(model, base_url=base_url, api_key_env=key_env,
                               timeout_s=timeout_s, **options)
        from ._anthropic import AnthropicJudge

        return AnthropicJudge(model, base_url=base_url, api_key_env=key_env,
                              timeout_s=timeout_s, **options)
    raise ValueError(f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)}")

