"""What a job cost in US dollars at the provider's list prices (``bot/prices.toml``), as Decimal.

Credits are what members spend; money is what the provider bills. GPT image models bill tokens,
so a job with reported usage is priced from it (input text, input images, output images, each at
its own rate); an answer without usage (DALL·E, many gateways) is priced per image by quality and
size. A model without a row is priced like the model its catalog entry is ``like``, nearest
first, as credits are; one with neither has no price (None), never a made-up $0.
"""

from __future__ import annotations

import datetime
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from types import MappingProxyType
from typing import Any

from babel.numbers import format_currency

from bot.i18n import SOURCE, first_locale, t
from bot.models.spec import parse_size
from bot.store.models import Reservation, UsageLike

MILLION = Decimal(1_000_000)
CENT = Decimal("0.01")
MICRO = Decimal("0.000001")  # the ledger keeps micro-dollars: a token at $5 per 1M is $0.000005
_RATES = ("text_input", "image_input", "image_output")
_MODEL_KEYS = frozenset({*_RATES, "per_image", "default_size", "auto_quality", "source"})


@dataclass(frozen=True, slots=True)
class ModelPrices:
    """One model's list prices: USD per 1M tokens, and USD per image by quality then size."""

    text_input: Decimal | None = None
    image_input: Decimal | None = None
    image_output: Decimal | None = None
    per_image: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    default_size: str | None = None
    auto_quality: str | None = None
    source: str = ""

    @property
    def bills_tokens(self) -> bool:
        """Whether the provider bills this model by tokens (GPT image models)."""
        return self.image_output is not None

    def image_price(self, quality: str | None, size: str | None) -> Decimal | None:
        """One image: exact, else the dearest size of that quality (of all, for a quality the
        table lacks), and more in proportion to the pixels a size has beyond that one's: what
        GPT image models bill grows with the pixels they make, as credits do."""
        if not self.per_image:
            return None
        quality = self.auto_quality if quality in (None, "auto") else quality
        size = (self.default_size if size in (None, "auto") else size) or ""
        by_size = self.per_image.get(quality or "")
        if by_size is not None and size in by_size:
            return by_size[size]
        rows = [by_size] if by_size is not None else list(self.per_image.values())
        dearest, price = max(
            ((listed, usd) for row in rows for listed, usd in row.items()), key=lambda kv: kv[1]
        )
        pixels, base = parse_size(size), parse_size(dearest)
        if pixels is None or base is None or math.prod(pixels) <= math.prod(base):
            return price
        return price * math.prod(pixels) / math.prod(base)


@dataclass(frozen=True, slots=True)
class PriceList:
    """Every model's prices, the day they were taken and where from."""

    taken: datetime.date
    source: str
    models: Mapping[str, ModelPrices]

    def prices(self, model: str, like: Sequence[str] = ()) -> ModelPrices | None:
        """The model's own row, else that of the nearest model it is like, else None."""
        return next((self.models[m] for m in (model, *like) if m in self.models), None)


def load_prices(text: str | None = None) -> PriceList:
    """Parse a price table (default: the packaged ``bot/prices.toml``); ValueError naming what."""
    if text is None:
        text = resources.files("bot").joinpath("prices.toml").read_text("utf-8")
    raw = tomllib.loads(text)
    taken = raw.get("taken")
    if not isinstance(taken, datetime.date) or raw.get("currency", "USD") != "USD":
        raise ValueError("prices: `taken` must be a date and `currency` USD")
    models = {name: _model(name, row) for name, row in raw.get("models", {}).items()}
    return PriceList(taken, str(raw.get("source", "")), MappingProxyType(models))


def _model(name: str, row: dict[str, Any]) -> ModelPrices:
    unknown = set(row) - _MODEL_KEYS
    if unknown:
        raise ValueError(f"prices: {name} has unknown keys {sorted(unknown)}")
    rates = {key: _usd(name, key, row[key]) for key in _RATES if key in row}
    per_image = {
        quality: MappingProxyType(
            {size: _usd(name, f"per_image.{quality}", v) for size, v in sizes.items()}
        )
        for quality, sizes in row.get("per_image", {}).items()
    }
    if not per_image and "image_output" not in rates:
        raise ValueError(f"prices: {name} needs image_output or per_image")
    return ModelPrices(
        **rates,
        per_image=MappingProxyType(per_image),
        default_size=row.get("default_size"),
        auto_quality=row.get("auto_quality"),
        source=str(row.get("source", "")),
    )


def _usd(name: str, key: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"prices: {name} {key} must be a number")
    amount = Decimal(str(value))  # str: 0.011 stays 0.011, not its binary neighbour
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"prices: {name} {key} can't be negative")
    return amount


PRICES = load_prices()  # packaged data, read once at import: never on the event loop later


def cost_usd(
    model: str,
    usage: UsageLike | None,
    size: str | None,
    quality: str | None,
    n: int,
    *,
    like: Sequence[str] = (),
    prices: PriceList = PRICES,
) -> Decimal | None:
    """What ``n`` images of a job cost at list prices, in dollars to the micro-dollar.

    ``usage`` is what the API reported for the whole job (``bot.images.types.Usage`` carries the
    input's text/image split); ``size``/``quality`` are what it made. None: no price is known.
    """
    row = prices.prices(model, like)
    if row is None:
        return None
    if n <= 0:
        return Decimal(0)
    if row.bills_tokens and usage is not None and usage.input_tokens + usage.output_tokens > 0:
        return _quantized(_token_cost(row, usage))
    each = row.image_price(quality, size)
    return None if each is None else _quantized(each * n)


def _token_cost(row: ModelPrices, usage: UsageLike) -> Decimal:
    """Tokens at their rates; input the answer didn't split goes at the dearer input rate, so
    an estimate never undercounts."""
    text_rate, image_rate = row.text_input or Decimal(0), row.image_input or Decimal(0)
    text = int(getattr(usage, "input_text_tokens", 0))
    image = int(getattr(usage, "input_image_tokens", 0))
    unsplit = max(usage.input_tokens - text - image, 0)
    spent = (
        text * text_rate
        + image * image_rate
        + unsplit * max(text_rate, image_rate)
        + usage.output_tokens * (row.image_output or Decimal(0))
    )
    return spent / MILLION


def _quantized(amount: Decimal) -> Decimal:
    return amount.quantize(MICRO, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Spent:
    """Money spent by ledger entries: the dollars of the priced, and how many had no price."""

    usd: Decimal = Decimal(0)
    unpriced: int = 0


def spent(charges: Iterable[Reservation]) -> Spent:
    """What committed ledger entries cost together at the prices they were settled at."""
    usd, unpriced = Decimal(0), 0
    for charge in charges:
        if charge.cost_usd is None:
            unpriced += 1
        else:
            usd += charge.cost_usd
    return Spent(usd, unpriced)


def dollars(amount: Decimal, locale: str = SOURCE) -> str:
    """ "$4.37" as ``locale`` writes dollars ("4,37 $" in Russian); a spend under a cent reads
    "less than $0.01" rather than a false "$0.00"."""
    if 0 < amount < CENT / 2:
        return t(locale, "less than {amount}", amount=_usd_in(CENT, locale))
    return _usd_in(amount.quantize(CENT, rounding=ROUND_HALF_UP), locale)


def _usd_in(amount: Decimal, locale: str) -> str:
    return format_currency(amount, "USD", locale=first_locale(locale))
