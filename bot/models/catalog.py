"""The model catalog: built-in and operator models, looked up and checked by the rest of the bot."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path

from bot.errors import ConfigError, ValidationError
from bot.i18n import lazy
from bot.images.types import ImageRequest, Operation
from bot.models import loader
from bot.models.shaping import shape_note
from bot.models.spec import ModelSpec, Plan
from bot.models.validate import names_of, normalise, split, violations

BUILTIN_FILE = "catalog.toml"
BUILTIN_SOURCE = "bot/catalog.toml"


class Catalog:
    """Every model the bot knows, with the limits each one has; immutable once loaded."""

    def __init__(
        self,
        models: Mapping[str, ModelSpec],
        *,
        max_n_adapted: int = 1,
        preferences: Mapping[Operation, Sequence[str]] | None = None,
        vary_prompts: Mapping[str, str] | None = None,
        disabled: frozenset[str] = frozenset(),
    ) -> None:
        self._models = dict(models)
        self.max_n_adapted = max_n_adapted
        self.preferences = {op: tuple(names) for op, names in (preferences or {}).items()}
        self.vary_prompts = dict(vary_prompts or {})
        self.disabled = disabled

    @classmethod
    def load(cls, operator_file: Path | None = None) -> Catalog:
        """The built-in catalog, extended or overridden by the operator's TOML file if given."""
        builtin = resources.files("bot").joinpath(BUILTIN_FILE).read_text(encoding="utf-8")
        if operator_file is None:
            return cls.from_toml_text(builtin)
        try:
            operator = operator_file.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(
                [f"{operator_file}: can't read the model catalog ({error})"]
            ) from None
        return cls.from_toml_text(builtin, operator, source=str(operator_file))

    @classmethod
    def from_toml_text(
        cls, builtin: str, operator: str | None = None, *, source: str = "operator catalog"
    ) -> Catalog:
        """A catalog from TOML text; ``source`` names the operator's file in error messages."""
        sources = [(BUILTIN_SOURCE, builtin)]
        if operator is not None:
            sources.append((source, operator))
        data = loader.load(sources)
        return cls(
            data.models,
            max_n_adapted=data.max_n_adapted,
            preferences=data.preferences,
            vary_prompts=data.vary_prompts,
            disabled=data.disabled,
        )

    def get(self, name: str) -> ModelSpec:
        """The model called ``name``; a ValidationError naming the choices when there is none."""
        spec = self._models.get(name)
        if spec is None:
            available = names_of(list(self._models))
            raise ValidationError(
                [
                    lazy(
                        "Unknown model '{model}'. Available: {models}.",
                        model=name,
                        models=available,
                    )
                ]
            )
        return spec

    def find(self, name: str) -> ModelSpec | None:
        """The model called ``name``, or None."""
        return self._models.get(name)

    def names(self, op: Operation | None = None) -> tuple[str, ...]:
        """Model names in catalog order, only those that can do ``op`` when given."""
        return tuple(spec.name for spec in self.models_for(op))

    def models_for(self, op: Operation | None) -> tuple[ModelSpec, ...]:
        """The models that can do ``op`` (all models for None), in catalog order."""
        return tuple(s for s in self._models.values() if op is None or s.can(op))

    def plan(
        self,
        request: ImageRequest,
        spec: ModelSpec | None = None,
        others: Sequence[ModelSpec] | None = None,
    ) -> Plan:
        """Check ``request`` against its model and return the normalised calls that serve it.

        ``spec`` defaults to the catalog's entry for the request's model; ``others`` (the models a
        member could use instead, named when an option doesn't apply) to the whole catalog.
        """
        spec = spec or self.get(request.model)
        found = violations(spec, request, others or tuple(self), self.max_n_adapted)
        if found:
            raise ValidationError(found)
        plan = split(spec, normalise(spec, request))
        note = shape_note(spec, request)  # the size a ratio or detail became
        return Plan(plan.requests, (note, *plan.notes)) if note else plan

    def precheck(
        self,
        request: ImageRequest,
        *,
        image_count: int,
        spec: ModelSpec | None = None,
        others: Sequence[ModelSpec] | None = None,
    ) -> None:
        """Check everything but the image contents, before anything is downloaded or charged."""
        spec = spec or self.get(request.model)
        models = others or tuple(self)
        found = violations(spec, request, models, self.max_n_adapted, image_count=image_count)
        if found:
            raise ValidationError(found)

    def __contains__(self, name: object) -> bool:
        return name in self._models

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)
