"""Anthropic Messages API judge.

Structured scoring uses a forced tool: the request carries one tool, ``submit_score``, whose
``input_schema`` is the reasoning string and the integer score within the scale, and
``tool_choice`` names it, so the reply's ``tool_use`` block input is the judgement.
The Messages API returns no token logprobs, so logprob mode raises
:class:`UnsupportedError` before any network call.

As for the OpenAI judge: the official SDK (``AsyncAnthropic``) with ``max_retries=0`` (the
runner retries), the body decoded here as plain JSON so a malformed ``200`` reaches the
runner as a :class:`JudgeReply` with the body in ``raw`` (recorded ``invalid`` after the
runner's re-asks), and the same status mapping (:func:`harness.judges._openai.map_status`):
408/409/429/5xx (including 529 "overloaded"), timeouts and connection errors are retryable,
other 4xx fatal. The API has no ``seed`` parameter and (since the anthropic 2.x SDK) no
``temperature``: ``JudgeRequest.seed`` is never sent, ``temperature`` only with
``send_temperature=True``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import anthropic

from ._base import (
    Judge,
    JudgeReply,
    JudgeRequest,
    Message,
    RetryableError,
    UnsupportedError,
    Usage,
    with_retries,
)
from ._openai import KeyedSDKClient, decode_json, endpoint_id, int_or_zero

TOOL_NAME = "submit_score"

_DEFAULT_BASE_URL = "https://api.anthropic.com"


class AnthropicJudge(KeyedSDKClient, Judge):
    """A judge served by the Anthropic Messages API.

    Parameters
    ----------
    model : str
        Model name, e.g. ``claude-sonnet-4-5``.
    base_url : str, optional
        A proxy or gateway URL (without ``/v1``); default the SDK's.
    api_key_env : str or None
        NAME of the environment variable holding the key (default ``ANTHROPIC_API_KEY``);
        ``None`` for a keyless proxy (a placeholder key is sent).
    timeout_s : float
        Per-request timeout in seconds.
    max_concurrency : int, optional
        Upper bound on useful concurrent calls.
    send_temperature : bool
        Send ``JudgeRequest.temperature`` (as an extra body field). Off by default: the
        current Messages API, and the SDK's ``messages.create`` (anthropic 2.x), have no
        sampling parameters; turn it on for older models or proxies that still take one.

    Raises
    ------
    FatalError
        If the key's environment variable is unset.
    """

    provider = "anthropic"
    supports_logprobs = False
    structured_used = "tool"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str | None = "ANTHROPIC_API_KEY",
        timeout_s: float = 60.0,
        max_concurrency: int | None = None,
        send_temperature: bool = False,
        check_key: bool = True,
    ) -> None:
        super().__init__(model)
        self.send_temperature = bool(send_temperature)
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.timeout_s = float(timeout_s)
        self.max_concurrency = max_concurrency
        self._init_key(check_key)

    def __repr__(self) -> str:
        return (f"AnthropicJudge(model={self.model!r}, base_url={self.base_url!r}, "
                f"api_key_env={self.api_key_env!r})")

    @property
    def endpoint(self) -> str:
        """The server's endpoint (:func:`~harness.judges._openai.endpoint_id` of the base URL
        the SDK uses: ``base_url``, ``$ANTHROPIC_BASE_URL`` or the Anthropic API)."""
        return endpoint_id(self.base_url or os.environ.get("ANTHROPIC_BASE_URL")
                           or _DEFAULT_BASE_URL)

    def identity(self) -> dict[str, Any]:
        """Provider, model, endpoint and the options that change a request (never the key)."""
        return {"provider": self.provider, "model": self.model, "endpoint": self.endpoint,
                "send_temperature": self.send_temperature}

    # ------------------------------------------------------------------ client

    def _new_client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(api_key=self._api_key(), base_url=self.base_url,
                                        max_retries=0, timeout=self.timeout_s)

    # ------------------------------------------------------------------ calls

    def build_params(self, request: JudgeRequest) -> dict[str, Any]:
        """The keyword arguments of ``messages.create`` for a structured ``request``.

        System messages are joined into ``system=``; the rest are sent in order.

        Parameters
        ----------
        request : JudgeRequest

        Returns
        -------
        dict
        """
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": int(request.max_tokens),
            "messages": [m.to_dict() for m in request.messages if m.role != "system"],
            "tools": [{
                "name": TOOL_NAME,
                "description": ("Submit the reasoning and the score of each question."
                                if request.fields else
                                "Submit the reasoning and the integer score of the judgement."),
                "input_schema": request.score_schema(),
            }],
            "tool_choice": {"type": "tool", "name": TOOL_NAME},
        }
        if system:
            params["system"] = system
        if self.send_temperature:
            params["extra_body"] = {"temperature": request.temperature}
        return params

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        """Make one Messages API call.

        Parameters
        ----------
        request : JudgeRequest

        Returns
        -------
        JudgeReply
            ``structured`` is the ``submit_score`` tool input; ``raw`` the JSON dump of the
            content blocks (or the whole body when it is not a message).

        Raises
        ------
        UnsupportedError
            Logprob mode (raised before any network call).
        RetryableError
            429, 408, 409, 5xx/529, timeouts, connection errors.
        FatalError
            Other 4xx.
        """
        if request.mode == "logprob":
            raise UnsupportedError(
                "the Anthropic Messages API returns no token logprobs; "
                "use scoring mode 'structured'"
            )
        return _reply(await self._post(self.build_params(request)))

    async def _post(self, params: dict[str, Any]) -> str:
        """One ``messages.create`` call; the body text, or a :class:`ProviderError`."""
        client = self._get_client()
        with self._sdk_errors(anthropic):
            response = await client.messages.with_raw_response.create(**params)
            return await response.text()

    async def generate(self, messages: Sequence[Message], *, max_tokens: int,
                       temperature: float) -> str:
        """Free text from a plain Messages call (no tools), with retries.

        System messages are joined into ``system=``; ``temperature`` is sent only with
        ``send_temperature=True`` (as for :meth:`complete`).

        Parameters
        ----------
        messages : sequence of Message
            The conversation.
        max_tokens : int
            Token limit.
        temperature : float
            Sampling temperature.

        Returns
        -------
        str
            The reply's text blocks, joined.

        Raises
        ------
        ProviderError
            As :meth:`complete` (retryable errors after 3 attempts); a ``200`` without text
            blocks is a :class:`RetryableError`.
        """
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": int(max_tokens),
            "messages": [m.to_dict() for m in messages if m.role != "system"],
        }
        if system:
            params["system"] = system
        if self.send_temperature:
            params["extra_body"] = {"temperature": temperature}

        async def once() -> str:
            text = await self._post(params)
            body = decode_json(text)
            blocks = body.get("content") if isinstance(body, Mapping) else None
            parts = [b["text"] for b in blocks or [] if isinstance(b, Mapping)
                     and b.get("type") == "text" and isinstance(b.get("text"), str)]
            if not isinstance(blocks, list) or not parts:
                raise RetryableError(f"provider {self.provider} returned no text: "
                                     f"{text[:200]!r}")
            return "".join(parts)

        return await with_retries(once)


def _reply(text: str) -> JudgeReply:
    body = decode_json(text)
    if not isinstance(body, Mapping) or not isinstance(body.get("content"), list):
        return JudgeReply(raw=text)
    raw_usage = body.get("usage")
    usage = Usage()
    if isinstance(raw_usage, Mapping):
        usage = Usage(input_tokens=int_or_zero(raw_usage.get("input_tokens")),
                      output_tokens=int_or_zero(raw_usage.get("output_tokens")))
    model = body.get("model") if isinstance(body.get("model"), str) else None
    blocks: list[dict[str, Any]] = []
    structured: dict[str, Any] | None = None
    for block in body["content"]:
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text":
            blocks.append({"type": "text", "text": block.get("text")})
        elif kind == "tool_use":
            blocks.append({"type": "tool_use", "name": block.get("name"),
                           "input": block.get("input")})
            tool_input = block.get("input")
            if (structured is None and block.get("name") == TOOL_NAME
                    and isinstance(tool_input, dict)):
                structured = tool_input
    raw = json.dumps(blocks, ensure_ascii=False) if blocks else text
    return JudgeReply(raw=raw, structured=structured, usage=usage, model=model)


__all__ = ["TOOL_NAME", "AnthropicJudge"]
