"""A provider: one OpenAI-compatible endpoint, its client, and what it offers today.

The catalog says what a model *can* take; the provider says what is *there*. It reads
``GET {base}/models`` (at start-up, every few hours, and in ``check``): a model is usable when the
provider lists it and its ``shutdown_date``, if any, is still ahead. Without a model list (no such
route, or it couldn't be read) the catalog's own shutdown dates decide. A listed id the catalog
doesn't know but whose name places it in a known family is usable with that family's limits,
marked as assumed. A model the API answers ``model_not_found`` for is unusable until the next
refresh, and an endpoint the provider turned out not to have (variations, on most gateways today)
is remembered the same way. A model that streams by the catalog but that this provider refused to
stream (a relay without streaming) is asked without ``stream`` from then on, until restart.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.errors import APIError, ValidationError
from bot.gate import Gate, LocalGate
from bot.i18n import N_, Text, lazy
from bot.images.client import ImagesClient
from bot.images.types import ModelListing, Operation
from bot.models import Catalog, ModelSpec
from bot.models.families import assumed, nearest_known
from bot.scheduler import Scheduler

log = logging.getLogger(__name__)
SOON_DAYS = 30
# "{model} can't ... here." for each operation: whole sentences, so each language words its own.
_CANT = {
    "generate": N_("{model} can't create images here. {offer}"),
    "edit": N_("{model} can't edit images here. {offer}"),
    "variation": N_("{model} can't make variations here. {offer}"),
}
NOT_LISTED = lazy("isn't offered by this provider")
GONE_NOW = lazy("isn't offered by this provider right now")


def utc_today() -> datetime.date:
    """Today in UTC (shutdown dates are UTC days)."""
    return datetime.datetime.now(datetime.UTC).date()


@dataclass(frozen=True, slots=True)
class ModelState:
    """One model as this provider has it today."""

    spec: ModelSpec
    usable: bool
    shutdown: datetime.date | None  # the provider's date, else the catalog's
    # Why it isn't usable, completing "{model} ...", e.g. "was shut down on 2026-12-01"; a
    # ``Text`` put in the reader's language where it is shown. None: it is usable.
    reason: Text | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def why_not(self) -> str:
        """The reason in English, for the operator's console and logs ("" when usable)."""
        return "" if self.reason is None else str(self.reason)


class Provider:
    """A base URL and key (inside ``client``), the models it offers, learnt live, and its queue.

    ``queue`` holds this provider's concurrency limit and its rate-limit pause: a provider that
    is slow or asks to slow down holds up only its own jobs. ``gate`` holds them for every bot
    process sending to it (``bot.gate``; one process alone: the queue is enough). ``own``: a
    server brought it (else it is the operator's, shared by the servers without their own).
    """

    def __init__(
        self,
        name: str,
        client: ImagesClient,
        catalog: Catalog,
        *,
        today: Callable[[], datetime.date] = utc_today,
        queue: Scheduler | None = None,
        gate: Gate | None = None,
        own: bool = False,
    ) -> None:
        self.name = name
        self.client = client
        self.catalog = catalog
        self.today = today
        self.queue = queue or Scheduler(4)
        self.gate = gate or LocalGate(self.queue)
        self.own = own
        self.listing: dict[str, ModelListing] | None = None  # None: the catalog's dates decide
        self.listed_at: float | None = None
        self.has_model_route: bool | None = None  # None: not asked yet, or the asking failed
        self.refresh_error: APIError | None = None
        self._assumed: dict[str, ModelSpec] = {}
        self._gone: set[str] = set()
        self._missing: set[Operation] = set()
        self._no_stream: set[str] = set()  # kept across refreshes: the relay, not the list, decides
        self._lock = asyncio.Lock()

    # --- learning -------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Read the provider's model list; on failure keep what was known and say why in the log."""
        async with self._lock:
            try:
                listed = await self.client.list_models()
            except APIError as err:
                self.refresh_error = err
                log.warning("Could not read %s's model list (%s): %s", self.name, err.kind, err)
                return
            self.refresh_error = None
            self.has_model_route = listed is not None
            self.listed_at = time.time()
            self._gone.clear()
            self._missing.clear()
            self._learn(listed)

    def _learn(self, listed: list[ModelListing] | None) -> None:
        if listed is None:
            self.listing, self._assumed = None, {}
            return
        known = list(self.catalog)
        fresh = {}
        for entry in listed:
            if entry.id in self.catalog or entry.id in self.catalog.disabled:
                continue
            base = nearest_known(entry.id, known)
            if base is not None:
                fresh[entry.id] = assumed(entry.id, base)
        listing = {entry.id: entry for entry in listed}
        if not fresh and not any(name in listing for name in self.catalog.names()):
            # A list of only other kinds of models (chat, audio) says nothing about images.
            log.warning("%s lists none of the image models; using the catalog's dates", self.name)
            self.listing, self._assumed = None, {}
            return
        self.listing, self._assumed = listing, fresh

    def mark_gone(self, model: str) -> None:
        """The API said it doesn't have ``model``: unusable here until the next refresh."""
        if model not in self._gone:
            log.warning("%s doesn't offer %s any more; avoiding it until the next refresh",
                        self.name, model)  # fmt: skip
        self._gone.add(model)

    def mark_missing(self, op: Operation) -> None:
        """The provider has no endpoint for ``op`` (until the next refresh)."""
        self._missing.add(op)

    def mark_no_stream(self, model: str) -> None:
        """This provider refused to stream ``model``: ask it without ``stream`` until restart."""
        if model not in self._no_stream:
            log.info("%s refused to stream %s; asking it without previews from now on",
                     self.name, model)  # fmt: skip
        self._no_stream.add(model)

    # --- asking ---------------------------------------------------------------------------

    def streams(self, model: str) -> bool:
        """Whether ``model`` can stream partial images here (its spec says so, not refused here)."""
        spec = self.spec(model)
        return spec is not None and spec.streams and model not in self._no_stream

    def spec(self, name: str) -> ModelSpec | None:
        """The limits of ``name``: the catalog's, or assumed for a new model the provider lists."""
        return self.catalog.find(name) or self._assumed.get(name)

    def models(self) -> tuple[ModelSpec, ...]:
        """Every model this provider may have: the catalog's, then the assumed ones."""
        return (*self.catalog, *self._assumed.values())

    def state(self, spec: ModelSpec) -> ModelState:
        """Whether ``spec`` is usable here today, and its shutdown date."""
        today = self.today()
        if self.listing is not None:
            entry = self.listing.get(spec.name)
            if entry is None:
                return ModelState(spec, False, None, NOT_LISTED)
            shutdown = _date(entry.shutdown_date)
        else:
            shutdown = spec.shutdown
        if shutdown is not None and shutdown <= today:
            why = lazy("was shut down on {day}", day=shutdown.isoformat())
            return ModelState(spec, False, shutdown, why)
        if spec.name in self._gone:
            return ModelState(spec, False, shutdown, GONE_NOW)
        return ModelState(spec, True, shutdown)

    def can(self, spec: ModelSpec, op: Operation) -> bool:
        """Whether ``spec`` can serve ``op`` here (the endpoint it needs is there)."""
        return spec.can(op) and spec.endpoint(op) not in self._missing

    def usable(self, op: Operation | None = None) -> tuple[ModelSpec, ...]:
        """The usable models (that can do ``op``), catalog first."""
        return tuple(
            spec
            for spec in self.models()
            if (op is None or self.can(spec, op)) and self.state(spec).usable
        )

    def is_usable(self, name: str | None, op: Operation) -> bool:
        """Whether ``name`` is a model usable here for ``op``."""
        spec = self.spec(name) if name else None
        return spec is not None and self.can(spec, op) and self.state(spec).usable

    def default(self, op: Operation, wanted: Sequence[str | None] = ()) -> str | None:
        """The first usable of ``wanted``, else of the catalog's preferences, else of any."""
        for name in (*wanted, *self.catalog.preferences.get(op, ())):
            if self.is_usable(name, op):
                return name
        able = self.usable(op)
        return able[0].name if able else None

    def replacement(self, spec: ModelSpec, op: Operation) -> str | None:
        """What to use instead of ``spec`` for ``op``: its announced successor when usable, else
        the first usable of the catalog's preferences."""
        return self.default(op, (spec.replacement,))

    def require(self, name: str, op: Operation) -> ModelSpec:
        """The usable model ``name``; else a refusal naming why and what to use instead."""
        spec = self.spec(name)
        if spec is None:
            raise ValidationError([lazy("Unknown model '{model}'. {offer}", model=name,
                                        offer=self._offer(op))])  # fmt: skip
        if not self.can(spec, op):
            raise ValidationError([lazy(_CANT[op], model=name, offer=self._offer(op))])
        state = self.state(spec)
        if not state.usable:
            instead = self.replacement(spec, op)
            hint = lazy("Use {model} instead.", model=instead) if instead else self._offer(op)
            why = state.reason or GONE_NOW
            raise ValidationError([lazy("{model} {why}. {hint}", model=name, why=why, hint=hint)])
        return spec

    def soon_shut(self, days: int = SOON_DAYS) -> list[ModelState]:
        """Usable models whose shutdown date is within ``days``."""
        horizon = self.today() + datetime.timedelta(days=days)
        states = [self.state(spec) for spec in self.models()]
        return [s for s in states if s.usable and s.shutdown is not None and s.shutdown <= horizon]

    def _offer(self, op: Operation) -> Text:
        names = [spec.name for spec in self.usable(op)]
        if not names:
            return lazy("No model here can do that right now.")
        shown = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
        return lazy("Models that can: {models}.", models=shown)


def _date(raw: str | None) -> datetime.date | None:
    if raw is None:
        return None
    try:
        return datetime.date.fromisoformat(raw[:10])
    except ValueError:
        return None  # an unreadable date is no date: the model stays usable
