"""Read the built-in and the operator's catalog TOML into ModelSpecs, reporting every problem."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from bot.errors import ConfigError
from bot.images.params import CHOICES
from bot.images.types import OPERATIONS, InputRules, Operation
from bot.models import fields as f
from bot.models.spec import ModelSpec

# A resolved model: each key's raw TOML value and the file it came from.
Layer = dict[str, tuple[Any, str]]
LINEAGE = "(lineage)"  # not a TOML key: the names a model is ``like``, nearest first

_PROMPT_OPS: tuple[Operation, ...] = ("generate", "edit")
# A model made ``like`` another shares its limits, not its name, text or fate.
_NOT_INHERITED = ("like", "label", "description", "enabled", "shutdown", "replacement")
_MODEL_KEYS: dict[str, f.Parser[Any]] = {
    "like": f.text,
    "enabled": f.flag,
    "label": f.text,
    "description": f.text,
    "operations": f.operations,
    "prompt_max": f.per_operation(f.count),
    "n_max": f.count,
    "sizes": f.per_operation(f.sizes),
    "default_size": f.per_operation(f.size),
    "free_size": f.free_size,
    **{c.catalog_key: f.words for c in CHOICES},
    "output_formats": f.output_formats,
    "gated_formats": f.output_formats,
    "default_quality": f.text,
    "response_format": f.flag,
    "output_compression": f.flag,
    "markup": f.flag,
    "vary_by_edit": f.flag,
    "safety_identifier": f.flag,
    "streams": f.flag,
    "shutdown": f.day,
    "replacement": f.text,
    "input": f.input_rules,
}
_MERGED_TABLES = ("input", "free_size")
_CATALOG_KEYS = ("max_n_adapted", "default_models", "preferences", "vary")
_VARY_STRENGTHS = ("subtle", "strong")
# The keys the [catalog] tables take: what to call an unknown one, and the known ones.
_CATALOG_SUBKEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "preferences": ("operation", OPERATIONS),
    "default_models": ("operation", OPERATIONS),
    "vary": ("strength", _VARY_STRENGTHS),
}


@dataclass(frozen=True)
class CatalogData:
    """Everything the catalog TOML files say, checked."""

    models: Mapping[str, ModelSpec]
    max_n_adapted: int
    preferences: Mapping[Operation, tuple[str, ...]]  # the default model: the first usable
    vary_prompts: Mapping[str, str]  # strength -> instruction for variations made by editing
    disabled: frozenset[str] = frozenset()  # turned off by the operator: never assumed either


@dataclass(frozen=True)
class _Definition:
    name: str
    source: str
    table: Mapping[str, Any]


class _Problems(list[str]):
    def add(self, source: str, where: str, message: str) -> None:
        problem = f"{source}: {where}: {message}"
        if problem not in self:  # a bad value inherited by many models is one problem
            self.append(problem)


def load(sources: list[tuple[str, str]]) -> CatalogData:
    """Parse ``(source name, TOML text)`` pairs, later ones overriding; raise one ConfigError."""
    problems = _Problems()
    definitions: dict[str, list[_Definition]] = {}
    settings: Layer = {}
    for source, text in sources:
        document = _parse(source, text, problems)
        settings.update(_settings_layer(source, document.get("catalog", {}), problems))
        for name, table in _model_tables(source, document, problems):
            definitions.setdefault(name, []).append(_Definition(name, source, table))
    resolver = _Resolver(definitions, problems)
    own = {name: _own_keys(defined) for name, defined in definitions.items()}
    models = {}
    disabled = set()
    for name in definitions:
        layer = resolver.resolve(name)
        if layer is not None and layer.get("enabled", (True, ""))[0] is False:
            disabled.add(name)
        elif layer is not None:
            spec = _build(name, layer, definitions[name][-1].source, problems, own)
            if spec is not None:
                models[name] = spec
    data = _catalog_data(models, settings, sources[0][0], problems)
    if problems:
        raise ConfigError(problems)
    return dataclasses.replace(data, disabled=frozenset(disabled))


def _own_keys(defined: list[_Definition]) -> frozenset[str]:
    """The keys a model's own tables set (a ``like`` starts it afresh), not inherited ones."""
    start = max((i for i, d in enumerate(defined) if "like" in d.table), default=0)
    return frozenset(key for d in defined[start:] for key in d.table)


def _parse(source: str, text: str, problems: _Problems) -> dict[str, Any]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        problems.add(source, "file", f"not valid TOML ({error})")
        return {}
    for key in sorted(set(document) - {"catalog", "models"}):
        problems.add(source, key, "unknown table; use [catalog] and [models.NAME]")
    return document


def _settings_layer(source: str, table: Any, problems: _Problems) -> Layer:
    """The [catalog] keys, tables flattened (``preferences.edit``) so a later file overrides each."""
    if not isinstance(table, Mapping):
        problems.add(source, "catalog", "must be a table")
        return {}
    layer: Layer = {}
    for key, value in table.items():
        if key not in _CATALOG_KEYS:
            problems.add(
                source, f"catalog.{key}", f"unknown key; known: {', '.join(_CATALOG_KEYS)}"
            )
        elif key in ("default_models", "preferences", "vary"):
            if not isinstance(value, Mapping):
                problems.add(source, f"catalog.{key}", "must be a table like {generate = ...}")
                continue
            layer.update({f"{key}.{sub}": (item, source) for sub, item in value.items()})
        else:
            layer[key] = (value, source)
    return layer


def _model_tables(
    source: str, document: Mapping[str, Any], problems: _Problems
) -> list[tuple[str, Mapping[str, Any]]]:
    tables = document.get("models", {})
    if not isinstance(tables, Mapping):
        problems.add(source, "models", "must be a table of [models.NAME] tables")
        return []
    found: list[tuple[str, Mapping[str, Any]]] = []
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            problems.add(source, f"models.{name}", "must be a table")
            continue
        for key in sorted(set(table) - set(_MODEL_KEYS)):
            problems.add(source, f"models.{name}.{key}", "unknown key")
        found.append((name, _structural(source, name, table, problems)))
    return found


def _structural(
    source: str, name: str, table: Mapping[str, Any], problems: _Problems
) -> dict[str, Any]:
    """The known keys of a model table, with ``like`` and ``enabled`` checked before resolving."""
    kept = {k: v for k, v in table.items() if k in _MODEL_KEYS}
    for key in ("like", "enabled"):
        if key in kept:
            try:
                _MODEL_KEYS[key](kept[key])
            except f.Bad as bad:
                problems.add(source, f"models.{name}.{key}", str(bad))
                del kept[key]
    return kept


class _Resolver:
    """Fold each model's definitions (built-in, then operator) over the model it is ``like``."""

    def __init__(self, definitions: dict[str, list[_Definition]], problems: _Problems) -> None:
        self._definitions = definitions
        self._problems = problems
        self._done: dict[str, Layer | None] = {}
        self._visiting: set[str] = set()

    def resolve(self, name: str) -> Layer | None:
        """The merged keys of model ``name``, or None when it can't be resolved."""
        if name in self._done:
            return self._done[name]
        self._visiting.add(name)
        layer: Layer | None = {}
        for definition in self._definitions[name]:
            layer = self._apply(definition, layer)
        self._visiting.discard(name)
        self._done[name] = layer
        return layer

    def _apply(self, definition: _Definition, layer: Layer | None) -> Layer | None:
        like = definition.table.get("like")
        if isinstance(like, str):
            layer = self._base(definition, like)
        if layer is None:
            return None
        merged = dict(layer)
        if isinstance(like, str):
            merged[LINEAGE] = ((like, *layer.get(LINEAGE, ((), ""))[0]), definition.source)
        for key, value in definition.table.items():
            old = merged.get(key, (None, ""))[0]
            if key in _MERGED_TABLES and isinstance(old, Mapping) and isinstance(value, Mapping):
                value = {**old, **value}
            merged[key] = (value, definition.source)
        return merged

    def _base(self, definition: _Definition, like: str) -> Layer | None:
        where = f"models.{definition.name}.like"
        if like not in self._definitions:
            known = ", ".join(self._definitions)
            self._problems.add(definition.source, where, f"unknown model '{like}'; known: {known}")
            return None
        if like in self._visiting:
            self._problems.add(definition.source, where, f"'{like}' leads back to itself")
            return None
        base = self.resolve(like)
        if base is None:
            return None
        return {k: v for k, v in base.items() if k not in _NOT_INHERITED}


class _Reader:
    """Parse one resolved model's keys, recording a problem (with file and key) for each bad one."""

    def __init__(
        self,
        name: str,
        layer: Layer,
        owner: str,
        problems: _Problems,
        own: Mapping[str, frozenset[str]],
    ) -> None:
        self.name, self.layer, self.owner, self.problems = name, layer, owner, problems
        self.ok = True
        # A bad value is blamed on the model whose table wrote it, not on each that inherits it.
        lineage = (name, *layer.get(LINEAGE, ((), ""))[0])
        self.origin = {
            key: next((m for m in lineage if key in own.get(m, ())), name) for key in layer
        }

    def get(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        if key not in self.layer:
            if required:
                self.fail(key, "missing (set it, or inherit it with 'like')")
            return default
        value, _ = self.layer[key]
        try:
            return _MODEL_KEYS[key](value)
        except f.Bad as bad:
            self.fail(key, str(bad))
            return default

    def fail(self, key: str, message: str) -> None:
        where = f"models.{self.origin.get(key, self.name)}.{key}"
        self.problems.add(self.layer.get(key, (None, self.owner))[1], where, message)
        self.ok = False

    def fail_model(self, key: str, message: str) -> None:
        """A problem between keys: blame the file that defined the model last."""
        self.problems.add(self.owner, self.where(key), message)
        self.ok = False

    def where(self, key: str) -> str:
        return f"models.{self.name}.{key}"

    def per_op(self, key: str, ops: tuple[Operation, ...]) -> MappingProxyType[Operation, Any]:
        values = self.get(key, {}, required=bool(ops))
        missing = [op for op in ops if op not in values]
        if values and missing:
            self.fail(key, f"has no value for {', '.join(missing)}")
        return MappingProxyType({op: values[op] for op in ops if op in values})


def _build(
    name: str, layer: Layer, owner: str, problems: _Problems, own: Mapping[str, frozenset[str]]
) -> ModelSpec | None:
    r = _Reader(name, layer, owner, problems, own)
    ops = r.get("operations", frozenset(), required=True)
    ordered = tuple(op for op in OPERATIONS if op in ops)
    choices = {c.name: r.get(c.catalog_key, ()) for c in CHOICES}
    qualities = choices["quality"]
    spec = ModelSpec(
        name=name,
        label=r.get("label", name),
        description=r.get("description", ""),
        operations=ops,
        prompt_max=r.per_op("prompt_max", tuple(op for op in ordered if op in _PROMPT_OPS)),
        size_choices=r.per_op("sizes", ordered),
        default_sizes=r.per_op("default_size", ordered),
        n_max=r.get("n_max", 1, required=True),
        choices=MappingProxyType({k: v for k, v in choices.items() if v}),
        default_quality=r.get("default_quality", qualities[0] if qualities else None),
        response_format=r.get("response_format", False),
        output_compression=r.get("output_compression", False),
        free_size=r.get("free_size"),
        input=r.get("input", InputRules()),
        markup=r.get("markup", False),
        vary_by_edit=r.get("vary_by_edit", False) and "edit" in ops,
        safety_identifier=r.get("safety_identifier", False),
        streams=r.get("streams", False),
        gated_formats=r.get("gated_formats", ()),
        shutdown=r.get("shutdown"),
        replacement=r.get("replacement"),
        lineage=layer.get(LINEAGE, ((), ""))[0],
    )
    _check_defaults(spec, r)
    return spec if r.ok else None


def _check_defaults(spec: ModelSpec, r: _Reader) -> None:
    for op, default in spec.default_sizes.items():
        if spec.sizes(op) and not spec.size_allowed(op, default):
            choices = ", ".join(spec.sizes(op))
            r.fail_model("default_size", f"{default} isn't among the sizes for {op} ({choices})")
    qualities = spec.values("quality")
    if spec.default_quality is not None and spec.default_quality not in qualities:
        allowed = ", ".join(qualities) or "none: the model has no qualities"
        r.fail_model("default_quality", f"{spec.default_quality!r} isn't in qualities ({allowed})")
    if "svg" in spec.values("output_format"):
        r.fail("output_formats", "svg output isn't supported by this version of the bot")


def _catalog_data(
    models: dict[str, ModelSpec], settings: Layer, builtin: str, problems: _Problems
) -> CatalogData:
    max_n_adapted, source = settings.get("max_n_adapted", (1, builtin))
    try:
        max_n_adapted = f.count(max_n_adapted)
    except f.Bad as bad:
        problems.add(source, "catalog.max_n_adapted", str(bad))
    preferences: dict[Operation, tuple[str, ...]] = {}
    for op in OPERATIONS:
        names, source = settings.get(f"preferences.{op}", ([], builtin))
        try:
            listed = f.words(names)
        except f.Bad as bad:
            problems.add(source, f"catalog.preferences.{op}", str(bad))
            listed = ()
        named_by = {n: (source, f"catalog.preferences.{op}") for n in listed}
        # ``default_models`` (older files) puts its model first.
        first, first_source = settings.get(f"default_models.{op}", (None, builtin))
        if isinstance(first, str):
            listed = (first, *(n for n in listed if n != first))
            named_by[first] = (first_source, f"catalog.default_models.{op}")
        for name in listed:
            spec = models.get(name)
            named_in, where = named_by[name]
            if named_in != builtin and (spec is None or not spec.can(op)):
                problems.add(named_in, where, f"no model {name!r} that can {op}")
        preferences[op] = tuple(n for n in listed if n in models and models[n].can(op))
    vary = _vary_prompts(settings, builtin, problems)
    for key in sorted(settings.keys() - {"max_n_adapted"}):
        table, _, sub = key.partition(".")
        what, known = _CATALOG_SUBKEYS[table]
        if sub not in known:
            where = f"catalog.{key}"
            problems.add(settings[key][1], where, f"unknown {what}; use {', '.join(known)}")
    return CatalogData(
        MappingProxyType(models),
        max_n_adapted,
        MappingProxyType(preferences),
        MappingProxyType(vary),
    )


def _vary_prompts(settings: Layer, builtin: str, problems: _Problems) -> dict[str, str]:
    vary = {}
    for strength in _VARY_STRENGTHS:
        text, source = settings.get(f"vary.{strength}", ("", builtin))
        if not isinstance(text, str) or not text.strip():
            problems.add(source, f"catalog.vary.{strength}", "must be the instruction text")
        vary[strength] = str(text)
    return vary
