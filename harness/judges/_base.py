"""The one interface every provider implements, and the types that cross it."""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from harness.journal import Journal

Role = Literal["system", "user", "assistant"]
_T = TypeVar("_T")
ScoringMode = Literal["structured", "logprob"]


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class ScoreField:
    """One score a multi-score request asks for (a scorecard question judged in one call).

    A numeric field is an integer from ``minimum`` to ``maximum``; a label field
    (``labels`` given) is one of the labels, and its score is the label's index (the code a
    scorecard's view uses for a label scale).
    """

    name: str
    minimum: int = 0
    maximum: int = 0
    labels: tuple[str, ...] = ()

    def schema(self) -> dict[str, Any]:
        """The JSON schema of this field's value."""
        if self.labels:
            return {"type": "string", "enum": list(self.labels)}
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}

    def describe(self) -> str:
        """The allowed values, for messages (``1-6`` or ``fail|pass``)."""
        if self.labels:
            return "|".join(self.labels)
        return f"{self.minimum}-{self.maximum}"


@dataclass(frozen=True)
class JudgeRequest:
    """What the runner asks a provider for: one scoring call.

    ``mode="structured"``: the provider must return the reasoning and an integer score,
    constrained by the provider's own mechanism (JSON schema, a tool with an input schema,
    a grammar), in :attr:`JudgeReply.structured`.
    ``mode="logprob"``: the provider must return the log-probabilities of the candidate next
    tokens at the score position in :attr:`JudgeReply.score_logprobs`; a provider that cannot
    raises :class:`UnsupportedError`, never falls back quietly.

    ``fields`` (structured mode only): the request asks for several scores in one reply,
    one property per field beside the reasoning (a scorecard judged in one call); the
    scale is then unused.
    """

    messages: tuple[Message, ...]
    mode: ScoringMode
    scale_min: int
    scale_max: int
    temperature: float = 0.0
    max_tokens: int = 512
    top_logprobs: int = 20
    seed: int | None = None
    #: logprob mode: the least probability mass on score tokens for a valid judgment.
    min_score_mass: float = 0.5
    fields: tuple[ScoreField, ...] = ()

    @property
    def scale_points(self) -> list[int]:
        return list(range(self.scale_min, self.scale_max + 1))

    def score_schema(self) -> dict[str, Any]:
        """The JSON schema of a structured reply: a reasoning string and a score on the scale.

        One schema for every provider's constraint (OpenAI's ``json_schema`` and
        ``json_object`` with a schema, Anthropic's tool ``input_schema``). With ``fields``:
        the reasoning first, then one required property per field (:meth:`ScoreField.schema`).
        """
        if self.fields:
            props: dict[str, Any] = {"reasoning": {"type": "string"}}
            props.update({f.name: f.schema() for f in self.fields})
            return {"type": "object", "properties": props, "required": list(props),
                    "additionalProperties": False}
        return {
            "type": "object",
            "properties": {
                "reasoning": {"type": "string"},
                "score": {"type": "integer", "minimum": self.scale_min,
                          "maximum": self.scale_max},
            },
            "required": ["reasoning", "score"],
            "additionalProperties": False,
        }


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class JudgeReply:
    """A provider's answer, before parsing into a score."""

    raw: str
    structured: dict[str, Any] | None = None
    score_logprobs: dict[str, float] | None = None
    usage: Usage = field(default_factory=Usage)
    model: str | None = None


class ProviderError(Exception):
    """A provider call failed. ``retryable`` errors are retried by the runner."""

    retryable: bool = False

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RetryableError(ProviderError):
    """Rate limits (429), server errors (5xx), timeouts and dropped connections."""

    retryable = True


class FatalError(ProviderError):
    """Authentication, permission, bad request, unknown model: retrying cannot help."""


class UnsupportedError(FatalError):
    """The provider cannot do what the request asks (e.g. logprobs)."""


class Judge(abc.ABC):
    """A judge provider: turns a :class:`JudgeRequest` into a :class:`JudgeReply`.

    Implementations keep every provider detail (SDK, wire format, errors) inside their
    module, turn SDK exceptions into :class:`RetryableError` / :class:`FatalError`, and do no
    retrying of their own (the runner does, once).
    """

    provider: str = "abstract"

    def __init__(self, model: str) -> None:
        self.model = model

    #: Whether :meth:`complete` can serve ``mode="logprob"``.
    supports_logprobs: bool = False

    #: Upper bound on concurrent calls this provider can usefully take (None = no bound).
    max_concurrency: int | None = None

    #: How structured mode is actually constrained by this provider (e.g. ``json_schema``,
    #: ``json_object``, ``text``, ``grammar``, ``tool``); None until known. Reported in
    #: every run summary beside the scoring mode.
    structured_used: str | None = None

    @abc.abstractmethod
    async def complete(self, request: JudgeRequest) -> JudgeReply:
        """Make one call."""

    async def generate(self, messages: Sequence[Message], *, max_tokens: int,
                       temperature: float) -> str:
        """Generate free text (no scoring, no constraint): used by the ``llm`` reviser.

        Unlike :meth:`complete`, implementations retry :class:`RetryableError` themselves
        (a few attempts, see :func:`with_retries`): there is no runner around this call.

        Parameters
        ----------
        messages : sequence of Message
            The conversation.
        max_tokens : int
            Upper bound on the reply's length in tokens.
        temperature : float
            Sampling temperature.

        Returns
        -------
        str
            The reply text.

        Raises
        ------
        UnsupportedError
            The provider cannot generate free text (the default).
        ProviderError
            The call failed (after the retries).
        """
        raise UnsupportedError(f"provider {self.provider} cannot generate free text")

    def identity(self) -> dict[str, Any]:
        """What identifies this judge's replies in the journal key (no secrets).

        Everything that can change a reply belongs here (the endpoint, the model file, every
        option that changes the request), and nothing that changes after the judge is made
        (a structured mode negotiated with the server is not; the configured setting is).
        """
        return {"provider": self.provider, "model": self.model}

    def bind_journal(self, journal: Journal) -> None:  # noqa: B027 - optional hook
        """Give the judge the run's journal, before its first call (default: unused).

        A judge may read and remember facts about its endpoint there (the OpenAI judge
        remembers the structured mode it negotiated). The runner calls this once per run.

        Parameters
        ----------
        journal : Journal
            The run's journal.
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class SDKClientPerLoop:
    """Mixin for judges that talk through an async SDK client (OpenAI, Anthropic).

    An SDK's httpx connection pool is bound to the event loop it first ran on, so a judge
    reused under a second ``asyncio.run`` (two ``run_judge_sync`` calls, say) gets a fresh
    client; :meth:`aclose` closes the pool. Subclasses implement :meth:`_new_client`.
    """

    _client: Any = None
    _client_loop: object | None = None

    def _new_client(self) -> Any:
        raise NotImplementedError

    def _get_client(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = self._new_client()
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        client, self._client, self._client_loop = self._client, None, None
        if client is not None:
            with contextlib.suppress(RuntimeError):  # pool bound to a loop now closed
                await client.close()


async def with_retries(call: Callable[[], Awaitable[_T]], *, attempts: int = 3,
                       backoff_initial_s: float = 0.5, backoff_max_s: float = 10.0,
                       retry_after_cap_s: float = 30.0) -> _T:
    """Await ``call()``, retrying :class:`RetryableError` (Retry-After honoured, capped).

    For calls made outside the runner (:meth:`Judge.generate`); the runner has its own.

    Parameters
    ----------
    call : callable
        Makes one attempt.
    attempts : int
        Attempts in all.
    backoff_initial_s, backoff_max_s : float
        Full-jitter exponential backoff when the error carries no Retry-After.
    retry_after_cap_s : float
        Largest wait honoured from a Retry-After.

    Returns
    -------
    object
        What ``call()`` returned.

    Raises
    ------
    ProviderError
        The last error, when it is fatal or the attempts run out.
    """
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

    from ._runner import RetryAfterWait  # lazy: _runner imports this module

    retrying = AsyncRetrying(
        retry=retry_if_exception(lambda e: isinstance(e, ProviderError) and e.retryable),
        wait=RetryAfterWait(backoff_initial_s, backoff_max_s, retry_after_cap_s),
        stop=stop_after_attempt(max(1, int(attempts))),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            result = await call()
    return result
