"""Token prices, for cost estimates and cost budgets.

The shipped table (``prices.toml`` beside this module) holds *example* list prices that
users must check; ``<state_dir>/prices.toml`` and explicit files override it entry by entry.
An unknown model has an unknown cost (``None``), never a cost of 0 -- except the ``local``
provider, which is always free.

The ``[batch]`` table holds each provider's batch-API price as a share of its list price
(``openai = 0.5``: half price); :meth:`PriceTable.for_batch` is the table a batch run costs
its calls with. A provider without a factor has no batch discount (factor 1).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = ["FREE_PROVIDERS", "SHIPPED_PRICES", "Price", "PriceTable"]

#: The shipped example price list.
SHIPPED_PRICES = Path(__file__).with_name("prices.toml")

#: Providers whose calls cost nothing, whatever the table says.
FREE_PROVIDERS = frozenset({"local"})


class _Usage(Protocol):
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Price:
    """USD per million input and output tokens, and the file the entry came from."""

    input_per_mtok: float
    output_per_mtok: float
    source: str = ""

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """USD for the given token counts."""
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


class PriceTable:
    """Prices by ``(provider, model)``; ``model="*"`` is a provider-wide default.

    Parameters
    ----------
    entries : mapping of (provider, model) to Price, optional
        The prices. Use :meth:`load` for the shipped table and its overrides.
    """

    def __init__(self, entries: Mapping[tuple[str, str], Price] | None = None,
                 batch_factors: Mapping[str, float] | None = None) -> None:
        self._entries: dict[tuple[str, str], Price] = dict(entries or {})
        self._batch: dict[str, float] = dict(batch_factors or {})

    @classmethod
    def load(
        cls,
        extra_paths: Sequence[str | Path] = (),
        *,
        state_dir: str | Path | None = None,
        shipped: bool = True,
    ) -> PriceTable:
        """The shipped table, then ``<state_dir>/prices.toml``, then ``extra_paths``.

        Later files override earlier ones entry by entry.

        Parameters
        ----------
        extra_paths : sequence of path
            Price files given explicitly; each must exist.
        state_dir : path, optional
            The project state directory; its ``prices.toml`` is read when it exists.
            ``None`` reads no state-directory file.
        shipped : bool
            Start from the shipped example table (default) or from an empty table.

        Returns
        -------
        PriceTable

        Raises
        ------
        FileNotFoundError
            An explicit path does not exist.
        ValueError
            A file is not valid TOML or an entry is malformed.

        Examples
        --------
        >>> from harness.judges._base import Usage
        >>> table = PriceTable.load()
        >>> table.cost("local", "anything.gguf", Usage(1000, 1000))
        0.0
        >>> table.cost("openai", "no-such-model", Usage(1000, 1000)) is None
        True
        """
        table = cls()
        paths: list[tuple[Path, bool]] = []
        if shipped:
            paths.append((SHIPPED_PRICES, True))
        if state_dir is not None:
            paths.append((Path(state_dir) / "prices.toml", False))
        paths.extend((Path(p), True) for p in extra_paths)
        for path, required in paths:
            if not path.is_file():
                if required:
                    raise FileNotFoundError(f"price file not found: {path}")
                continue
            entries, factors = _read(path)
            table._entries.update(entries)
            table._batch.update(factors)
        return table

    def batch_factor(self, provider: str) -> float:
        """The share of the list price a batch-API call of ``provider`` costs (default 1).

        Examples
        --------
        >>> PriceTable.load().batch_factor("anthropic")
        0.5
        """
        return self._batch.get(provider, 1.0)

    def for_batch(self) -> PriceTable:
        """The table at batch-API prices: every entry times its provider's batch factor.

        Returns
        -------
        PriceTable
            A new table (its own batch factors all 1, so it is not discounted twice).

        Examples
        --------
        >>> from harness.judges._base import Usage
        >>> table = PriceTable.load()
        >>> table.for_batch().cost("openai", "gpt-4o", Usage(1_000_000, 0))
        1.25
        """
        entries = {}
        for (provider, model), p in self._entries.items():
            f = self.batch_factor(provider)
            entries[(provider, model)] = Price(p.input_per_mtok * f, p.output_per_mtok * f,
                                               source=p.source)
        return PriceTable(entries)

    def price(self, provider: str, model: str) -> Price | None:
        """The price of ``model`` (exact name, else the provider's ``"*"`` entry), or None."""
        return self._entries.get((provider, model)) or self._entries.get((provider, "*"))

    def cost(self, provider: str, model: str, usage: _Usage) -> float | None:
        """USD for one call's ``usage``; ``None`` when the price is unknown.

        Parameters
        ----------
        provider, model : str
            The judge's provider and model name.
        usage : Usage
            Anything with ``input_tokens`` and ``output_tokens``.

        Returns
        -------
        float or None
            The cost, 0.0 for a free provider (``local``), ``None`` for an unknown model.
        """
        if provider in FREE_PROVIDERS:
            return 0.0
        price = self.price(provider, model)
        if price is None:
            return None
        return price.cost(int(usage.input_tokens), int(usage.output_tokens))

    def knows(self, provider: str, model: str) -> bool:
        """Whether the cost of ``model`` is known."""
        return provider in FREE_PROVIDERS or self.price(provider, model) is not None

    def __len__(self) -> int:
        return len(self._entries)


#: The table of batch-API price factors in a price file (not a provider).
BATCH_TABLE = "batch"


def _read(path: Path) -> tuple[dict[tuple[str, str], Price], dict[str, float]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    out: dict[tuple[str, str], Price] = {}
    factors: dict[str, float] = {}
    for provider, models in data.items():
        if provider == BATCH_TABLE:
            factors = _factors(path, models)
            continue
        if not isinstance(models, dict):
            raise ValueError(f"{path}: [{provider}] must be a table of models")
        for model, entry in models.items():
            out[(provider, model)] = _entry(path, provider, model, entry)
    return out, factors


def _factors(path: Path, table: Any) -> dict[str, float]:
    if not isinstance(table, dict):
        raise ValueError(f"{path}: [{BATCH_TABLE}] must be a table of provider = factor")
    out: dict[str, float] = {}
    for provider, v in table.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                or not 0 <= v <= 1:
            raise ValueError(f"{path}: {BATCH_TABLE}.{provider}: the batch price factor must "
                             f"be a number from 0 to 1 (0.5: half the list price), got {v!r}")
        out[provider] = float(v)
    return out


def _entry(path: Path, provider: str, model: str, entry: Any) -> Price:
    where = f"{path}: {provider}.{model!r}"
    if not isinstance(entry, dict) or set(entry) != {"input", "output"}:
        raise ValueError(f"{where}: expected {{ input = <USD/Mtok>, output = <USD/Mtok> }}")
    values = []
    for side in ("input", "output"):
        v = entry[side]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{where}: {side} must be a non-negative number, got {v!r}")
        values.append(float(v))
    return Price(values[0], values[1], source=str(path))
