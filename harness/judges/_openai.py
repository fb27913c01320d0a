"""OpenAI Chat Completions judge (and any OpenAI-compatible server: vLLM, Ollama, llama.cpp).

The call goes through the official SDK (``AsyncOpenAI``) with its own retries switched off
(``max_retries=0``): the runner retries, once, with its own budget and backoff, so a retried
call is never retried twice over.

The reply body is read through ``with_raw_response`` and decoded here as plain JSON rather
than through the SDK's response models. That way a ``200`` whose body is not a chat
completion (not JSON, a wrong content type, missing fields) still reaches the runner as a
:class:`JudgeReply` carrying the body text in ``raw``; the runner's parser then records it
``invalid`` after its parse re-asks. Only transport and HTTP-level failures become
:class:`ProviderError`\\ s.

Error mapping (shared with the Anthropic judge through :func:`map_status` and
:func:`parse_retry_after`):

* 408, 409, 429 and every 5xx, connection errors and timeouts -> :class:`RetryableError`
  (429 carries ``retry_after`` from ``retry-after-ms`` / ``Retry-After``, seconds or an HTTP
  date);
* every other 4xx (400, 401, 403, 404, 422, ...) -> :class:`FatalError`, with a message that
  says what to check.

Structured mode (``structured="auto"``, the default) is negotiated once per endpoint and
model: ``response_format`` ``json_schema``, else ``json_object`` carrying the same schema
(llama-cpp-python's server answers HTTP 500 to ``json_schema`` and enforces a
``json_object`` schema), else no response format; the choice is logged, reported in
:attr:`Judge.structured_used` and remembered in the journal (see :class:`OpenAIJudge`).
The judge's :meth:`~OpenAIJudge.identity` holds the whole endpoint (scheme, host, port,
path: :func:`endpoint_id`) and the configured setting, never the negotiated one.

API keys come from an environment variable only and never appear in :meth:`identity`, the
judge's ``repr`` or any error message (messages go through :func:`harness.journal.redact`).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import openai

from harness.journal import redact

from ._base import (
    FatalError,
    Judge,
    JudgeReply,
    JudgeRequest,
    Message,
    ProviderError,
    RetryableError,
    SDKClientPerLoop,
    UnsupportedError,
    Usage,
    with_retries,
)

if TYPE_CHECKING:
    from harness.journal import Journal

log = logging.getLogger(__name__)

#: How structured mode constrains a reply on the wire (``none``: no response format).
StructuredMode = Literal["json_schema", "json_object", "none"]
#: The ``structured`` setting: a mode, or ``auto`` (negotiated once per endpoint and model).
StructuredSetting = Literal["auto", "json_schema", "json_object", "none"]

#: The modes ``structured="auto"`` tries, strongest first.
NEGOTIATION_ORDER: tuple[StructuredMode, ...] = ("json_schema", "json_object", "none")

#: HTTP statuses with which a server refuses a response format it does not support
#: (llama-cpp-python's server answers 500 to ``json_schema``).
REFUSAL_STATUSES = frozenset({400, 422, 500, 501})

#: :attr:`Judge.structured_used` for each mode.
_USED: dict[str, str] = {"json_schema": "json_schema", "json_object": "json_object",
                         "none": "text"}
_DESCRIBED: dict[str, str] = {
    "json_schema": "response_format json_schema (a strict JSON schema)",
    "json_object": "response_format json_object with the schema",
    "none": "no response format (the JSON object is parsed from the text)",
}
TokenLimitParam = Literal["max_tokens", "max_completion_tokens"]

#: Key sent to servers that need none (``api_key_env=None``); the SDK insists on a key.
NO_KEY = "not-needed"

#: The Chat Completions API accepts at most 20 top logprobs.
MAX_TOP_LOGPROBS = 20

#: Tokens generated in logprob mode: the prompt asks for the digit alone, and only the
#: first generated token is read; a couple more keep ``raw`` informative at no real cost.
LOGPROB_MAX_TOKENS = 3

_DEFAULT_BASE_URL = "https://api.openai.com/v1"


# --------------------------------------------------------------------------- shared helpers


def read_api_key(env: str | None, provider: str) -> str:
    """The API key from environment variable ``env`` (``None``: a placeholder key).

    Parameters
    ----------
    env : str or None
        Name of the environment variable; ``None`` for a local server without auth.
    provider : str
        Provider name, for the error message.

    Returns
    -------
    str
        The key, or :data:`NO_KEY`.

    Raises
    ------
    FatalError
        If the variable is unset or empty (the message names the variable, never a value).
    """
    if env is None:
        return NO_KEY
    key = os.environ.get(env, "")
    if not key.strip():
        raise FatalError(
            f"no API key for provider {provider}: environment variable ${env} is not set "
            f"(set it, or name the variable that holds the key with --api-key-env NAME or "
            f"[judge] api_key_env = \"NAME\" in the experiment; \"\" for a local server "
            f"that needs no key)"
        )
    return key.strip()


_DEFAULT_PORTS = {"http": 80, "https": 443}


def endpoint_id(url: str) -> str:
    """The endpoint of ``url`` for identities: ``scheme://host:port/path``.

    The scheme and host are lower-cased, the port made explicit (the scheme's default when
    the URL has none), the path kept without its trailing slash; credentials, query and
    fragment are dropped. Two servers on one host (two ports, or two path prefixes) are two
    endpoints.

    Parameters
    ----------
    url : str
        A base URL (a URL without a scheme is read as ``http``).

    Returns
    -------
    str
        The normalised endpoint.

    Examples
    --------
    >>> endpoint_id("http://user:secret@127.0.0.1:8000/v1/?key=x#frag")
    'http://127.0.0.1:8000/v1'
    >>> endpoint_id("HTTPS://API.OpenAI.com/v1")
    'https://api.openai.com:443/v1'
    >>> endpoint_id("localhost:8089/")
    'http://localhost:8089'
    """
    text = url.strip()
    parts = urlsplit(text if "//" in text else f"http://{text}")
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: keep the text, the call will fail
        port = None
    if port is None:
        port = _DEFAULT_PORTS.get(scheme)
    path = re.sub(r"/+", "/", parts.path).rstrip("/")
    return f"{scheme}://{host}{f':{port}' if port is not None else ''}{path}"


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None
                      ) -> float | None:
    """Seconds to wait according to ``retry-after-ms`` or ``Retry-After``.

    Parameters
    ----------
    headers : mapping
        Response headers (case-insensitive lookups are done by lower-casing keys if the
        mapping is a plain ``dict``).
    now : float, optional
        Current time (``time.time()``), for HTTP-date values.

    Returns
    -------
    float or None
        Non-negative seconds, or ``None`` when absent or unparseable.

    Examples
    --------
    >>> parse_retry_after({"Retry-After": "3"})
    3.0
    >>> parse_retry_after({"retry-after-ms": "250"})
    0.25
    >>> parse_retry_after({"Retry-After": "Thu, 01 Jan 1970 00:00:10 GMT"}, now=4.0)
    6.0
    >>> parse_retry_after({}) is None
    True
    """
    if not headers:
        return None
    if isinstance(headers, dict):
        headers = {str(k).lower(): v for k, v in headers.items()}

    def get(name: str) -> str | None:
        value = headers.get(name)
        return None if value is None else str(value).strip()

    ms = get("retry-after-ms")
    if ms:
        try:
            value = float(ms) / 1000.0
            if value == value and value != float("inf"):
                return max(0.0, value)
        except ValueError:
            pass
    raw = get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
        if value == value and value != float("inf"):
            return max(0.0, value)
        return None
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        when = email.utils.mktime_tz(parsed)
    except (TypeError, ValueError, OverflowError):
        return None
    return max(0.0, float(when) - (time.time() if now is None else now))


def map_status(
    status: int, detail: str, *, provider: str, key_env: str | None,
    headers: Mapping[str, str] | None, secrets: list[str],
) -> ProviderError:
    """The :class:`ProviderError` for an HTTP error status.

    Parameters
    ----------
    status : int
        HTTP status code.
    detail : str
        The server's message (already extracted from the body).
    provider : str
        Provider name, for messages.
    key_env : str or None
        Name of the key's environment variable, for authentication messages.
    headers : mapping or None
        Response headers (``Retry-After``).
    secrets : list of str
        Strings to redact from the message (the API key).

    Returns
    -------
    ProviderError
        :class:`RetryableError` for 408, 409, 429 and 5xx; :class:`FatalError` otherwise.
    """
    check = f" (check ${key_env})" if key_env else ""
    if status == 429:
        msg = f"rate limited by provider {provider} (HTTP 429): {detail}"
        return RetryableError(redact(msg, secrets) or msg, status=status,
                              retry_after=parse_retry_after(headers))
    if status >= 500 or status in (408, 409):
        msg = f"provider {provider} server error (HTTP {status}): {detail}"
        return RetryableError(redact(msg, secrets) or msg, status=status,
                              retry_after=parse_retry_after(headers))
    if status == 401:
        msg = f"authentication failed for provider {provider}{check}: {detail}"
    elif status == 403:
        msg = f"permission denied by provider {provider}{check}: {detail}"
    elif status == 404:
        msg = f"not found at provider {provider} (unknown model or wrong base_url?): {detail}"
    elif status in (400, 422):
        msg = f"provider {provider} rejected the request (HTTP {status}): {detail}"
    else:
        msg = f"provider {provider} refused the request (HTTP {status}): {detail}"
    return FatalError(redact(msg, secrets) or msg, status=status)


def error_detail(body: object, fallback: str) -> str:
    """A short server message from an error body (``{"error": {"message": ...}}``)."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            message = inner.get("message")
            if isinstance(message, str) and message:
                return message[:500]
        elif isinstance(inner, str) and inner:
            return inner[:500]
    if isinstance(body, str) and body:
        return body[:500]
    return fallback[:500]


def decode_json(text: str) -> Any:
    """``json.loads(text)``, or ``None`` when ``text`` is not JSON."""
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError):  # RecursionError: hostile nesting
        return None


def int_or_zero(value: object) -> int:
    """``value`` as an int when it is a number, else 0 (token counts in usage blocks)."""
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


# --------------------------------------------------------------------------- the judge


class KeyedSDKClient(SDKClientPerLoop):
    """An SDK client per event loop, with the API key and the SDK's errors handled here.

    Shared by the OpenAI and Anthropic judges, whose SDKs have the same error classes
    (``APIStatusError``, ``APITimeoutError``, ``APIConnectionError``, ``APIError``). The
    key is read from ``api_key_env`` when the judge is made, or with ``check_key=False`` on
    the first call: an offline gate only needs the judge's identity to find its journaled
    replies.
    """

    provider: str
    api_key_env: str | None
    timeout_s: float
    _key: str | None = None

    def _init_key(self, check_key: bool) -> None:
        self._key = read_api_key(self.api_key_env, self.provider) if check_key else None

    def _api_key(self) -> str:
        if self._key is None:
            self._key = read_api_key(self.api_key_env, self.provider)
        return self._key

    @contextlib.contextmanager
    def _sdk_errors(self, sdk: ModuleType) -> Iterator[None]:
        """Turn the errors of one ``sdk`` call into :class:`ProviderError` (key redacted)."""
        try:
            yield
        except sdk.APIStatusError as exc:
            raise map_status(exc.status_code, error_detail(exc.body, exc.message),
                             provider=self.provider, key_env=self.api_key_env,
                             headers=exc.response.headers, secrets=[self._key]) from None
        except sdk.APITimeoutError:
            raise RetryableError(f"provider {self.provider} request timed out after "
                                 f"{self.timeout_s:g} s") from None
        except sdk.APIConnectionError as exc:
            msg = f"connection to provider {self.provider} failed: {exc.message}"
            raise RetryableError(redact(msg, [self._key]) or msg) from None
        except sdk.APIError as exc:  # e.g. a response-validation error
            msg = f"provider {self.provider} call failed: {exc.message}"
            raise RetryableError(redact(msg, [self._key]) or msg) from None


class OpenAIJudge(KeyedSDKClient, Judge):
    """A judge served by the OpenAI Chat Completions API or an OpenAI-compatible server.

    Parameters
    ----------
    model : str
        Model name as the server knows it.
    base_url : str, optional
        Server URL including the API prefix (e.g. ``http://localhost:8000/v1``); default the
        SDK's (``$OPENAI_BASE_URL`` or the OpenAI API).
    api_key_env : str or None
        NAME of the environment variable holding the key (default ``OPENAI_API_KEY``);
        ``None`` for a local server without auth (a placeholder key is sent).
    timeout_s : float
        Per-request timeout in seconds.
    structured : {"auto", "json_schema", "json_object", "none"}
        How structured mode constrains the reply: a strict JSON schema with the scale bounds
        (``response_format`` ``json_schema``: OpenAI, vLLM), JSON mode carrying the same
        schema (``json_object``; llama-cpp-python's server enforces the schema, others may
        ignore it), or nothing (the runner parses the JSON object from the text). ``auto``
        (the default) negotiates once per endpoint and model: the first structured call tries
        ``json_schema``, and when the server refuses it (HTTP 400, 422, 500 or 501) tries
        ``json_object``, then ``none``; the first mode that succeeds is used from then on,
        logged, and remembered in the run's journal (:meth:`bind_journal`), so later runs
        start with it. A server that refuses every mode is broken, not limited: the first
        refusal is raised and nothing is remembered. The reply text is always in ``raw``.
    max_concurrency : int, optional
        Upper bound on useful concurrent calls (e.g. a local server's slots).
    max_tokens_param : {"max_tokens", "max_completion_tokens"}
        Which parameter carries the token limit; newer OpenAI reasoning models accept only
        ``max_completion_tokens``.

    Raises
    ------
    FatalError
        If the key's environment variable is unset.
    """

    provider = "openai"
    supports_logprobs = True

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        structured: StructuredSetting = "auto",
        max_concurrency: int | None = None,
        max_tokens_param: TokenLimitParam = "max_tokens",
        check_key: bool = True,
    ) -> None:
        super().__init__(model)
        if structured not in ("auto", *NEGOTIATION_ORDER):
            raise ValueError(f"structured must be auto, json_schema, json_object or none, "
                             f"not {structured!r}")
        if max_tokens_param not in ("max_tokens", "max_completion_tokens"):
            raise ValueError(f"max_tokens_param must be max_tokens or max_completion_tokens, "
                             f"not {max_tokens_param!r}")
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.timeout_s = float(timeout_s)
        self.structured: StructuredSetting = structured
        self.max_concurrency = max_concurrency
        self.max_tokens_param: TokenLimitParam = max_tokens_param
        #: The mode in use: the configured one, or the negotiated one (None until then).
        self._mode: StructuredMode | None = None if structured == "auto" else structured
        self.structured_used = None if self._mode is None else _USED[self._mode]
        self._journal: Journal | None = None
        self._lock: tuple[object, asyncio.Lock] | None = None
        self._init_key(check_key)

    def __repr__(self) -> str:
        return (f"OpenAIJudge(model={self.model!r}, base_url={self.base_url!r}, "
                f"api_key_env={self.api_key_env!r}, structured={self.structured!r})")

    @property
    def endpoint(self) -> str:
        """The server's endpoint (:func:`endpoint_id` of the base URL the SDK uses)."""
        return endpoint_id(self.base_url or os.environ.get("OPENAI_BASE_URL")
                           or _DEFAULT_BASE_URL)

    def identity(self) -> dict[str, Any]:
        """Provider, model, endpoint and the options that change a request (never the key).

        ``structured`` is the configured setting (``auto`` stays ``auto`` after the
        negotiation), so journal keys do not change when a mode is negotiated.
        """
        return {"provider": self.provider, "model": self.model, "endpoint": self.endpoint,
                "structured": self.structured, "max_tokens_param": self.max_tokens_param}

    def bind_journal(self, journal: Journal) -> None:
        """Use ``journal`` to remember the negotiated structured mode (``auto`` only).

        A mode remembered there for this endpoint and model is taken at once: no call
        negotiates again.

        Parameters
        ----------
        journal : Journal
            The run's journal.
        """
        self._journal = journal
        if self._mode is None:
            self._take_remembered()

    # ------------------------------------------------------------------ negotiation

    def _take_remembered(self) -> bool:
        """Take the mode the journal remembers for this endpoint and model, if any."""
        if self._journal is None:
            return False
        known = self._journal.endpoint_mode(self.endpoint, self.model)
        if known is None or known.structured not in NEGOTIATION_ORDER:
            return False
        self._mode = known.structured  # type: ignore[assignment]
        self.structured_used = _USED[known.structured]
        log.info("%s (model %s): structured replies use %s, as negotiated before%s",
                 self.endpoint, self.model, _DESCRIBED[known.structured],
                 f" ({known.reason})" if known.reason else "")
        return True

    def _negotiation_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        return self._lock[1]

    async def _negotiate(self, request: JudgeRequest) -> str:
        """The first structured call of an ``auto`` judge: find the mode the server takes.

        One call at a time negotiates (the others wait and then use its decision). Each
        mode in :data:`NEGOTIATION_ORDER` is tried with ``request`` until one succeeds; a
        refusal (:data:`REFUSAL_STATUSES`) moves to the next mode, any other error is raised
        with nothing decided. The successful call's body is this request's reply.
        """
        async with self._negotiation_lock():
            decided = self._mode is not None or self._take_remembered()
            if not decided:
                return await self._try_modes(request)
        # Decided by another call while this one waited: send outside the lock, so the
        # calls queued behind a negotiation run concurrently again (and one that hangs
        # does not hold up the rest).
        return await self._post(self.build_params(request))

    async def _try_modes(self, request: JudgeRequest) -> str:
        """Each mode of :data:`NEGOTIATION_ORDER` in turn (under the negotiation lock)."""
        refusals: list[tuple[str, ProviderError]] = []
        for mode in NEGOTIATION_ORDER:
            try:
                text = await self._post(self.build_params(request, structured=mode))
            except ProviderError as exc:
                if exc.status not in REFUSAL_STATUSES:
                    raise
                refusals.append((mode, exc))
                continue
            self._decide(mode, refusals)
            return text
        log.warning("%s (model %s) refused every structured mode (%s): the server is "
                    "failing, not declining a format; nothing is remembered",
                    self.endpoint, self.model,
                    "; ".join(f"{m}: HTTP {e.status}" for m, e in refusals))
        raise refusals[0][1]

    def _decide(self, mode: StructuredMode, refusals: list[tuple[str, ProviderError]]) -> None:
        self._mode = mode
        self.structured_used = _USED[mode]
        if refusals:
            reason = "; ".join(f"{m} refused with HTTP {e.status}: {e}" for m, e in refusals)
            log.warning("%s (model %s) refused a stronger structured mode (%s); structured "
                        "replies use %s", self.endpoint, self.model, reason, _DESCRIBED[mode])
        else:
            reason = f"{mode} accepted"
            log.info("%s (model %s) accepts %s; structured replies use it", self.endpoint,
                     self.model, _DESCRIBED[mode])
        if self._journal is not None:
            self._journal.remember_endpoint_mode(self.endpoint, self.model, mode, reason)

    # ------------------------------------------------------------------ client

    def _new_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(api_key=self._api_key(), base_url=self.base_url,
                                  max_retries=0, timeout=self.timeout_s)

    # ------------------------------------------------------------------ calls

    def build_params(self, request: JudgeRequest, *,
                     structured: StructuredMode | None = None) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` for ``request``.

        Parameters
        ----------
        request : JudgeRequest
        structured : {"json_schema", "json_object", "none"}, optional
            The mode to build for; default the mode in use (``json_schema`` while an
            ``auto`` judge has not negotiated yet).

        Returns
        -------
        dict
        """
        params: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_dict() for m in request.messages],
            "temperature": request.temperature,
        }
        if request.seed is not None:
            params["seed"] = request.seed
        if request.mode == "logprob":
            # The prompt asks for the score digit alone, so the distribution over the FIRST
            # generated token is the distribution over scores; later tokens are not read.
            params["logprobs"] = True
            params["top_logprobs"] = max(1, min(int(request.top_logprobs), MAX_TOP_LOGPROBS))
            params[self.max_tokens_param] = min(int(request.max_tokens), LOGPROB_MAX_TOKENS)
            return params
        params[self.max_tokens_param] = int(request.max_tokens)
        mode = structured or self._mode or "json_schema"
        if mode == "json_schema":
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "judgement", "strict": True,
                                "schema": request.score_schema()},
            }
        elif mode == "json_object":
            params["response_format"] = {"type": "json_object",
                                         "schema": request.score_schema()}
        return params

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        """Make one Chat Completions call.

        Parameters
        ----------
        request : JudgeRequest

        Returns
        -------
        JudgeReply
            ``raw`` is the message content (or the whole body when it is not a chat
            completion); ``structured`` the parsed JSON object when the content parses;
            ``score_logprobs`` the first generated token's top logprobs in logprob mode.

        Raises
        ------
        RetryableError
            429, 408, 409, 5xx, timeouts, connection errors.
        FatalError
            Other 4xx.
        UnsupportedError
            Logprob mode and the server returned a completion without logprobs.
        """
        if request.mode == "structured" and self._mode is None:
            text = await self._negotiate(request)
        else:
            text = await self._post(self.build_params(request))
        return self._reply(text, request)

    async def _post(self, params: dict[str, Any]) -> str:
        """One ``chat.completions.create`` call; the body text, or a :class:`ProviderError`."""
        client = self._get_client()
        with self._sdk_errors(openai):
            response = await client.chat.completions.with_raw_response.create(**params)
            return response.text

    async def generate(self, messages: Sequence[Message], *, max_tokens: int,
                       temperature: float) -> str:
        """Free text from a plain Chat Completions call (no response format), with retries.

        Parameters
        ----------
        messages : sequence of Message
            The conversation.
        max_tokens : int
            Token limit (sent as :attr:`max_tokens_param`).
        temperature : float
            Sampling temperature.

        Returns
        -------
        str
            The message content.

        Raises
        ------
        ProviderError
            As :meth:`complete` (retryable errors after 3 attempts); a ``200`` without message
            text is a :class:`RetryableError`.
        """
        params: dict[str, Any] = {"model": self.model,
                                  "messages": [m.to_dict() for m in messages],
                                  "temperature": temperature,
                                  self.max_tokens_param: int(max_tokens)}

        async def once() -> str:
            text = await self._post(params)
            body = decode_json(text)
            content = None
            if isinstance(body, Mapping) and isinstance(body.get("choices"), list) \
                    and body["choices"] and isinstance(body["choices"][0], Mapping):
                message = body["choices"][0].get("message")
                content = message.get("content") if isinstance(message, Mapping) else None
            if not isinstance(content, str):
                raise RetryableError(f"provider {self.provider} returned no message text: "
                                     f"{text[:200]!r}")
            return content

        return await with_retries(once)

    def _reply(self, text: str, request: JudgeRequest) -> JudgeReply:
        body = decode_json(text)
        message: Mapping[str, Any] | None = None
        choice: Mapping[str, Any] | None = None
        usage = Usage()
        model: str | None = None
        if isinstance(body, Mapping):
            raw_usage = body.get("usage")
            if isinstance(raw_usage, Mapping):
                usage = Usage(input_tokens=int_or_zero(raw_usage.get("prompt_tokens")),
                              output_tokens=int_or_zero(raw_usage.get("completion_tokens")))
            model = body.get("model") if isinstance(body.get("model"), str) else None
            choices = body.get("choices")
            if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
                choice = choices[0]
                if isinstance(choice.get("message"), Mapping):
                    message = choice["message"]
        content = message.get("content") if message is not None else None
        if not isinstance(content, str):
            # Not a chat completion, or one without text: hand the body to the runner's
            # parser, which records the reply invalid (after its re-asks).
            return JudgeReply(raw=text, usage=usage, model=model)
        if request.mode == "logprob":
            assert choice is not None
            logprobs = _first_token_logprobs(choice.get("logprobs"))
            if logprobs is None:
                raise UnsupportedError(
                    f"provider {self.provider} (model {self.model}): the server returned no "
                    f"logprobs for a logprob-mode request; use scoring mode 'structured' or a "
                    f"server that supports logprobs/top_logprobs"
                )
            return JudgeReply(raw=content, score_logprobs=logprobs, usage=usage, model=model)
        parsed = decode_json(content)
        return JudgeReply(raw=content, structured=parsed if isinstance(parsed, dict) else None,
                          usage=usage, model=model)


def _first_token_logprobs(logprobs: object) -> dict[str, float] | None:
    """``{token: logprob}`` of the first generated token's alternatives, or ``None``."""
    if not isinstance(logprobs, Mapping):
        return None
    content = logprobs.get("content")
    if not isinstance(content, list) or not content or not isinstance(content[0], Mapping):
        return None
    first = content[0]
    out: dict[str, float] = {}
    top = first.get("top_logprobs")
    entries = top if isinstance(top, list) and top else [first]
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        token, lp = entry.get("token"), entry.get("logprob")
        if isinstance(token, str) and isinstance(lp, int | float) and not isinstance(lp, bool):
            # The same string can come back twice (different token ids); keep the likelier.
            out[token] = max(float(lp), out.get(token, float("-inf")))
    return out or None


__all__ = ["KeyedSDKClient", "OpenAIJudge", "endpoint_id", "map_status", "parse_retry_after",
           "read_api_key"]
