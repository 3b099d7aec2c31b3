"""`python -m bot generate|edit|vary|check`: the whole core from a terminal, images written to files."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bot.core import Core, open_core
from bot.errors import APIError, BotError
from bot.fetch import ImageSource
from bot.images.params import CHOICES, Params
from bot.images.types import Operation, PartialImage
from bot.models.aspect import RATIOS, TIERS
from bot.provider import Provider, utc_today
from bot.service import JobSpec
from bot.settings import Settings

_COMMAND = {"generate": "generate", "edit": "edit", "variation": "vary"}


def add_subcommands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register generate / edit / vary / check on the main parser."""
    gen = sub.add_parser("generate", help="create images from a prompt")
    gen.add_argument("prompt")
    _common(gen, "generate")

    edit = sub.add_parser("edit", help="edit one or more images with a prompt")
    edit.add_argument("prompt")
    edit.add_argument("--image", action="append", required=True, type=Path, help="repeatable")
    edit.add_argument("--mask", type=Path, help="alpha PNG, or black-and-white (white = edit)")
    edit.add_argument("--fit", choices=("crop", "pad"), default="crop")
    _common(edit, "edit")

    vary = sub.add_parser("vary", help="make variations of an image")
    vary.add_argument("--image", action="append", required=True, type=Path)
    vary.add_argument("--fit", choices=("crop", "pad"), default="crop")
    vary.add_argument("--strength", choices=("subtle", "strong"), default="subtle",
                      help="how far from the image (models that vary through edits)")  # fmt: skip
    _common(vary, "variation")

    sub.add_parser("check", help="validate the configuration and what the Images API offers")


def _common(parser: argparse.ArgumentParser, op: Operation) -> None:
    parser.add_argument("--model", help="default: the first usable model (see `check`)")
    parser.add_argument("--size")
    parser.add_argument("--n", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("out"), help="folder for the images")
    if op == "variation":
        return
    for choice in CHOICES:
        if op in choice.operations:
            parser.add_argument(f"--{choice.name.replace('_', '-')}", help=choice.help)
    parser.add_argument("--output-compression", type=int, help="0-100, with jpeg or webp")
    parser.add_argument("--aspect", choices=tuple(RATIOS), help="a shape instead of --size")
    parser.add_argument(
        "--detail", choices=[t.name for t in TIERS], help="how large, for the shape"
    )
    parser.add_argument(
        "--partials",
        action="store_true",
        help="stream previews (IMAGEBOT_PARTIAL_IMAGES of them, models that stream) and write "
        "each next to the result",
    )


def run_cli(
    args: argparse.Namespace, settings: Settings, *, today: Callable[[], date] = utc_today
) -> int:
    """Run one CLI subcommand; print the member-facing message and return 1 on refusal."""
    try:
        return asyncio.run(_run(args, settings, today))
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, settings: Settings, today: Callable[[], date]) -> int:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    async with open_core(settings, today=today) as core:
        if args.command == "check":
            return await _check(core)
        job = _job_from_args(args, core)

        async def on_partial(partial: PartialImage) -> None:
            # Streaming makes one image: its previews are named after result 1.
            name = f"{job.operation}-{stamp}-1-partial-{partial.index}"
            path = await asyncio.to_thread(_write_new, args.out, name, partial.format, partial.data)
            print(f"partial {partial.index}: {path}", flush=True)

        wanted = getattr(args, "partials", False)  # previews cost tokens: only when asked
        outcome = await core.service.run(job, on_partial=on_partial if wanted else None)
    print(f"model: {job.model}")
    for note in outcome.notes:
        print(f"note: {note}")
    for index, image in enumerate(outcome.result.images, start=1):
        path = _write_new(args.out, f"{job.operation}-{stamp}-{index}", image.format, image.data)
        print(f"{path}  {image.width}x{image.height}")
        if image.revised_prompt:
            print(f"  revised prompt: {image.revised_prompt}")
    return 0


def _write_new(folder: Path, name: str, ext: str, data: bytes) -> Path:
    """Write ``data`` to a new file ``folder/name.ext``: a run in the same second (or an old
    file) is never overwritten, the name gets ``-2``, ``-3``... instead."""
    folder.mkdir(parents=True, exist_ok=True)
    for attempt in itertools.count(1):
        suffix = "" if attempt == 1 else f"-{attempt}"
        path = folder / f"{name}{suffix}.{ext}"
        try:
            with path.open("xb") as file:
                file.write(data)
            return path
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


_OPERATION: dict[str, Operation] = {"generate": "generate", "edit": "edit", "vary": "variation"}


def _job_from_args(args: argparse.Namespace, core: Core) -> JobSpec:
    operation = _OPERATION[args.command]
    images = tuple(_source(path) for path in getattr(args, "image", None) or [])
    mask = _source(args.mask) if getattr(args, "mask", None) else None
    model = args.model or core.provider.default(operation, (core.settings.default_model,))
    if model is None:
        raise BotError(f"The image service offers no model that can {args.command} right now.")
    return JobSpec(
        operation=operation,
        model=model,
        prompt=getattr(args, "prompt", ""),
        params=Params.from_mapping(vars(args)),
        fit=getattr(args, "fit", "crop"),
        strength=getattr(args, "strength", "subtle"),
        images=images,
        mask=mask,
    )


def _source(path: Path) -> ImageSource:
    try:
        return ImageSource.from_bytes(path.name, path.read_bytes())
    except OSError as exc:
        raise BotError(f"Can't read {path}: {exc.strerror}.") from exc


async def _check(core: Core) -> int:
    settings, provider = core.settings, core.provider
    token = "" if settings.discord_token else "; DISCORD_TOKEN is not set, so the bot can't log in"
    print(f"configuration: ok ({len(core.catalog)} models in the catalog{token})")
    print(f"Images API: {public_url(settings.openai_base_url)}")
    if provider.refresh_error is not None:
        print(f"error: {_operator_words(provider.refresh_error, settings.openai_base_url)}")
        return 1
    if provider.has_model_route is False:
        print("  no model list (GET /models not found): the catalog's shutdown dates decide")
        if not urlsplit(settings.openai_base_url).path.rstrip("/").endswith("/v1"):
            print("  hint: the base URL doesn't end in /v1; most providers need https://HOST/v1")
    elif provider.listing is None:
        print("  the model list names no image models: the catalog's shutdown dates decide")
    else:
        print(f"  reached: {len(provider.listing)} models listed")
    _print_models(provider)
    return _print_defaults(core)


def _print_models(provider: Provider) -> None:
    states = [provider.state(spec) for spec in provider.models()]
    soon = {s.name for s in provider.soon_shut()}
    usable = [s for s in states if s.usable and s.name not in soon]
    gone = [s for s in states if not s.usable]
    print(f"usable ({len(usable)}):")
    for state in usable:
        assumed = state.spec.assumed_from
        extra = f"  (new: limits assumed from {assumed})" if assumed else ""
        print(f"  {state.name}{extra}")
    if soon:
        print("soon shut down:")
        for state in provider.soon_shut():
            instead = provider.replacement(state.spec, "generate")
            hint = f"; use {instead}" if instead and instead != state.name else ""
            print(f"  {state.name}: shuts down on {state.shutdown}{hint}")
    if gone:
        print("not usable:")
        for state in gone:
            instead = provider.replacement(state.spec, "generate")
            hint = f" (use {instead})" if instead else ""
            print(f"  {state.name} {state.why_not}{hint}")


def _print_defaults(core: Core) -> int:
    provider, wanted = core.provider, core.settings.default_model
    chosen = {op: provider.default(op, (wanted,)) for op in ("generate", "edit", "variation")}
    words = ", ".join(f"{_COMMAND[op]}: {name or 'none'}" for op, name in chosen.items())
    print(f"default models: {words}")
    spec = provider.spec(wanted) if wanted else None
    if wanted and (spec is None or not provider.state(spec).usable):
        why = provider.state(spec).why_not if spec else "isn't in the catalog"
        print(f"warning: IMAGEBOT_DEFAULT_MODEL is {wanted}, which {why}; "
              f"the bot uses {chosen['generate'] or 'no model'} instead")  # fmt: skip
    if chosen["generate"] is None:
        print("error: the image service offers no model the bot can create images with")
        return 1
    return 0


def public_url(url: str) -> str:
    """``url`` without credentials or query (both can hold a key): safe to print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _operator_words(err: APIError, base_url: str) -> str:
    """An API failure in the operator's terms (the member messages say "tell the owner")."""
    host = urlsplit(base_url).hostname or base_url
    status = f" (HTTP {err.status})" if err.status else ""
    words = {
        "auth": "the API key was rejected: check OPENAI_API_KEY",
        "billing": "the account behind the API key has no credit left",
        "rate_limited": "the provider is rate-limiting this key; try again shortly",
        "timeout": f"{host} did not answer in time",
        "upstream_down": f"couldn't reach {host} or it failed",
    }.get(err.kind, f"{host} answered something unexpected")
    return f"{words}{status}"
