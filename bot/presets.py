"""Style presets and members' preferences: their checks, their words, and the one step of
``JobRunner.admit`` that applies them to a job (``admit``).

A preset is a moderator's template with ``{prompt}`` in it once, where the member's prompt goes,
and optionally the model and quality it was made for. The API gets the filled-in template
(``JobSpec.sent_prompt``); the job stores and shows the member's own prompt and the preset's name.

For each of model, quality, shape and preset a job takes the first there is of: what the member
chose in the command, the preset's (model and quality), the member's /preferences, then the
server's and the model's defaults. A preference that can't be used any more (a model no longer
allowed or offered, a preset removed) is left out, and the result says so once per member and
value; one that only doesn't fit this job (a quality the model hasn't, a model that can't edit)
is left out silently. A stored job asked for again (``JobSpec.rerun``) stays as it was: no
preferences fill it in, and its preset is applied again by name, or left out with a note when it
was removed since.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.i18n import N_, SOURCE, Command, Text, Words, lazy, lazy_n, t
from bot.images.params import CHOICE_BY_NAME, Params
from bot.limits import image_model, no_quality
from bot.models.aspect import RATIOS
from bot.models.shaping import makes
from bot.moderation import LEAVE_EMPTY, one_line, quoted, refusal
from bot.quotas.pricing import offered
from bot.store.models import GuildSettings, Preferences, Preset

if TYPE_CHECKING:
    from bot.images.types import Operation
    from bot.jobs import Requester
    from bot.models import ModelSpec
    from bot.provider import Provider
    from bot.service import JobSpec
    from bot.store import Store

PLACEHOLDER = "{prompt}"
NAME_LIMIT = 32
TEMPLATE_LIMIT = 1000
MAX_PRESETS = 25  # Discord's autocomplete shows at most 25 choices
NO_PRESET = "none"  # a command's preset meaning "none, not even my preferred one"
# The shapes a member can prefer: the ratios of /imagine's aspect option.
ASPECTS = tuple(RATIOS)
PRESET_OPERATIONS: tuple[Operation, ...] = ("generate", "edit")  # the commands with a preset
QUALITY = CHOICE_BY_NAME["quality"]
_NAME = re.compile(r"\w[\w '-]*")
_BRACES = re.compile(r"\{[^{}]*\}|[{}]")

NO_SUCH_PRESET = N_("This server has no preset called {name}. {command} shows the ones it has.")
PRESET_GONE = N_("The preset {name} was removed since, so I sent your prompt as it is.")
PREFERRED_PRESET_GONE = N_(
    "Your preferred preset {name} was removed, so I sent your prompt as it is. "
    "Choose another with {command}."
)
PRESET_MODEL_UNUSABLE = N_(
    "The preset {name} is made for {model}, which {why}, so I used another model."
)
PREFERRED_MODEL_UNUSABLE = N_(
    "Your preferred model, {model}, {why}, so I used another. Choose another with {command}."
)
# Why a model can't be used here, completing "{model} ..." (like ``ModelState.why_not``).
NOT_ALLOWED = N_("isn't allowed on this server")
NOT_OFFERED = N_("isn't offered here")


def no_such_preset(name: str) -> Text:
    """A preset named that this server hasn't."""
    return lazy(NO_SUCH_PRESET, name=shown(name), command=Command("preset list"))


def fill(template: str, prompt: str) -> str:
    """The template with the member's prompt in place of ``{prompt}`` (never ``str.format``:
    the member's text may hold braces of its own)."""
    return template.replace(PLACEHOLDER, prompt)


def shown(name: str) -> str:
    """A preset's name as messages quote it."""
    return quoted(name, NAME_LIMIT + 2)


# --- moderators' presets ----------------------------------------------------------------------


def check_name(name: str) -> str:
    """A preset's name as stored (spaces tidied), or a refusal saying what is wrong with it."""
    name = " ".join(name.split())
    if not name:
        raise refusal(lazy("Give the preset a name."))
    if len(name) > NAME_LIMIT:
        raise refusal(
            lazy(
                "A preset's name can be at most {most} characters; it has {count}.",
                most=NAME_LIMIT,
                count=len(name),
            )
        )
    if not _NAME.fullmatch(name):
        raise refusal(
            lazy(
                "A preset's name can only have letters, digits, spaces, hyphens, "
                "apostrophes and underscores, and starts with a letter or digit."
            )
        )
    if name.lower() == NO_PRESET:
        raise refusal(
            lazy("{name} means no preset in commands; pick another name.", name=shown(name))
        )
    return name


def check_template(template: str) -> str:
    """A template as stored, or a refusal: ``{prompt}`` exactly once, no other braces, not too
    long."""
    template = template.strip()
    count = template.count(PLACEHOLDER)
    if count == 0:
        raise refusal(
            lazy(
                "The template must have {prompt} in it, where the member's prompt goes.",
                prompt=PLACEHOLDER,
            )
        )
    if count > 1:
        raise refusal(
            lazy_n(
                "The template must have {prompt} in it once; it has it {count} time.",
                "The template must have {prompt} in it once; it has it {count} times.",
                count,
                prompt=PLACEHOLDER,
            )
        )
    other = _BRACES.search(template.replace(PLACEHOLDER, ""))
    if other is not None:
        raise refusal(
            lazy(
                "The template can't have braces other than {prompt}; remove {other}.",
                prompt=PLACEHOLDER,
                other=quoted(other[0], 40),
            )
        )
    if len(template) > TEMPLATE_LIMIT:
        raise refusal(
            lazy(
                "A template can be at most {most} characters; this one has {count}.",
                most=TEMPLATE_LIMIT,
                count=len(template),
            )
        )
    return template


def check_model(provider: Provider, allowed: Sequence[str] | None, model: str | None) -> str | None:
    """A model a preset or preference may name: allowed here and usable on the provider."""
    return image_model(provider, allowed, model).name if model and model.strip() else None


def check_quality(
    quality: str | None, provider: Provider, allowed: Sequence[str] | None, model: str | None
) -> str | None:
    """A quality ``model`` has (no model, or one not usable here: that some model here has), or a
    refusal listing them."""
    if not quality or not quality.strip():
        return None
    quality = quality.strip()
    here = offered(provider.usable(), allowed)
    match = [m for m in here if m.name == model]  # none: a model that can't be used here now
    models = match or list(here)
    if any(quality in m.values(QUALITY.name) for m in models):
        return quality
    known = sorted({v for m in models for v in m.values(QUALITY.name)})
    if match and model:
        raise refusal(no_quality(model, quality, known))
    listed: Words = ", ".join(known) or lazy(LEAVE_EMPTY)
    raise refusal(
        lazy(
            "No model here has the quality {quality}. Qualities: {qualities}.",
            quality=quality,
            qualities=listed,
        )
    )


def describe(preset: Preset | None) -> str:
    """A preset in words, for the audit trail: its template, model and quality (stored, so in
    English, like every audit value)."""
    if preset is None:
        return "none"
    parts = [quoted(preset.template, 300)]
    if preset.model:
        parts.append(preset.model)
    if preset.quality:
        parts.append(f"{preset.quality} quality")
    return ", ".join(parts)


def listing_line(preset: Preset, locale: str = SOURCE) -> str:
    """One line of /preset list: the name, the template, and what it sets, in ``locale``."""
    extra = []
    if preset.model:
        extra.append(t(locale, "model {model}", model=preset.model))
    if preset.quality:
        extra.append(t(locale, "quality {quality}", quality=preset.quality))
    return " · ".join([f"**{preset.name}**: {quoted(preset.template, 400)}", *extra])


def choice_label(preset: Preset) -> str:
    """A preset as autocomplete offers it: its name and the start of its template."""
    return f"{preset.name} — {one_line(preset.template, 100 - len(preset.name) - 3)}"


# --- the step of JobRunner.admit ---------------------------------------------------------------


class Runner(Protocol):
    """What ``admit`` needs of the job runner."""

    store: Store

    def server_default(
        self, op: Operation, settings: GuildSettings, provider: Provider | None = None
    ) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Note:
    """Something the result says about the job; ``once``: said once per member and key."""

    text: Words
    once: str | None = None


async def admit(runner: Runner, who: Requester, spec: JobSpec, provider: Provider) -> JobSpec:
    """``spec`` with its preset and the member's preferences applied, before its model is
    resolved; a preset named in the command that the server hasn't is refused."""
    if spec.rerun and not spec.preset:
        return spec
    store, gid = runner.store, who.guild_id
    prefs = Preferences(gid, who.user_id)
    if not spec.rerun:
        prefs = await store.get_preferences(gid, who.user_id)
    name = wanted(spec, prefs)
    preset = await store.get_preset(gid, name) if name else None
    settings = await store.get_guild_settings(gid)
    spec, notes = apply(
        spec,
        prefs,
        preset,
        settings,
        provider,
        lambda op: runner.server_default(op, settings, provider),
    )
    said = [
        n.text
        for n in notes
        if n.once is None or await store.claim_notice(gid, f"member:{who.user_id}:{n.once}")
    ]
    return dataclasses.replace(spec, notes=(*spec.notes, *said)) if said else spec


def wanted(spec: JobSpec, prefs: Preferences) -> str | None:
    """The preset a job asks for: the command's, else the member's preferred one; None: none."""
    name = spec.preset if spec.preset is not None else prefs.preset
    if not name or name.strip().lower() == NO_PRESET or spec.operation not in PRESET_OPERATIONS:
        return None
    return name.strip()


def apply(
    spec: JobSpec,
    prefs: Preferences,
    preset: Preset | None,
    settings: GuildSettings,
    provider: Provider,
    default: Callable[[Operation], str | None],
) -> tuple[JobSpec, list[Note]]:
    """``spec`` with ``preset`` (the one ``wanted`` named, None if the server hasn't it) and
    ``prefs`` filling in what the member didn't choose; ``default``: the server's model for an
    operation. Pure."""
    notes: list[Note] = []
    name = wanted(spec, prefs)
    preset = preset if name is not None else None
    if name is not None and preset is None:
        notes.append(_preset_missing(spec, name))
    spec = dataclasses.replace(
        spec, preset=preset.name if preset else None, template=preset.template if preset else None
    )
    model = spec.model or _model(spec.operation, preset, prefs, settings, provider, notes)
    chosen = provider.spec(model or default(spec.operation) or "")
    params = _with_quality(spec, chosen, (preset.quality if preset else None, prefs.quality))
    if prefs.aspect and spec.operation == "generate":  # an edit keeps its photo's shape
        params = with_aspect(params, prefs.aspect, chosen)
    return dataclasses.replace(spec, model=model, params=params), notes


def _preset_missing(spec: JobSpec, name: str) -> Note:
    if spec.preset is None:  # the member's preferred one
        gone = lazy(PREFERRED_PRESET_GONE, name=shown(name), command=Command("preferences"))
        return Note(gone, once=f"preset:{name.lower()}")
    if not spec.rerun:
        raise refusal(no_such_preset(name))
    return Note(lazy(PRESET_GONE, name=shown(name)))


def _model(
    op: Operation,
    preset: Preset | None,
    prefs: Preferences,
    settings: GuildSettings,
    provider: Provider,
    notes: list[Note],
) -> str:
    """The preset's model, else the preferred one, where usable for ``op``; "" for neither."""
    if preset is not None and preset.model:
        why = unusable(preset.model, settings, provider)
        if why is None and provider.is_usable(preset.model, op):
            return preset.model
        if why:
            text = lazy(PRESET_MODEL_UNUSABLE, name=shown(preset.name), model=preset.model, why=why)
            notes.append(Note(text))
    if prefs.model:
        why = unusable(prefs.model, settings, provider)
        if why is None and provider.is_usable(prefs.model, op):
            return prefs.model
        if why:
            text = lazy(
                PREFERRED_MODEL_UNUSABLE, model=prefs.model, why=why, command=Command("preferences")
            )
            notes.append(Note(text, once=f"model:{prefs.model}"))
    return ""


def unusable(model: str, settings: GuildSettings, provider: Provider) -> Words | None:
    """Why ``model`` can't be used on this server at all (completing "{model} ..."); None: it can."""
    if settings.allowed_models is not None and model not in settings.allowed_models:
        return lazy(NOT_ALLOWED)
    spec = provider.spec(model)
    if spec is None:
        return lazy(NOT_OFFERED)
    state = provider.state(spec)
    return None if state.usable else state.why_not


def _with_quality(
    spec: JobSpec, model: ModelSpec | None, candidates: tuple[str | None, ...]
) -> Params:
    """The params with the first candidate quality the model has, unless the member chose one."""
    params = spec.params
    if params.quality is not None or model is None or spec.operation not in QUALITY.operations:
        return params
    qualities = model.values(QUALITY.name)
    quality = next((q for q in candidates if q and q in qualities), None)
    return params.replace(quality=quality) if quality else params


def with_aspect(params: Params, aspect: str, model: ModelSpec | None = None) -> Params:
    """The params with a preferred shape, unless a size or shape was chosen or ``model`` can't
    make that shape (a preference never gets a job refused)."""
    if params.size is not None or params.aspect is not None:
        return params
    if model is not None and not makes(model, "generate", aspect, params.detail):
        return params
    return params.replace(aspect=aspect)
