"""`python -m bot generate|edit|vary|check`: the whole core from a terminal, images written to files."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from pathlib import Path

from bot.core import Core, open_core
from bot.errors import BotError
from bot.fetch import ImageSource
from bot.service import JobSpec
from bot.settings import Settings


def add_subcommands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register generate / edit / vary / check on the main parser."""
    gen = sub.add_parser("generate", help="create images from a prompt")
    gen.add_argument("prompt")
    _common(gen)
    gen.add_argument("--quality")
    gen.add_argument("--style", help="dall-e-3: vivid or natural")
    gen.add_argument("--background", help="transparent, opaque or auto (GPT image models)")
    gen.add_argument("--output-format", help="png, jpeg or webp (GPT image models)")
    gen.add_argument("--output-compression", type=int, help="0-100, with jpeg or webp")
    gen.add_argument("--moderation", help="low or auto (GPT image models)")

    edit = sub.add_parser("edit", help="edit one or more images with a prompt")
    edit.add_argument("prompt")
    edit.add_argument("--image", action="append", required=True, type=Path, help="repeatable")
    edit.add_argument("--mask", type=Path, help="alpha PNG, or black-and-white (white = edit)")
    edit.add_argument("--fit", choices=("crop", "pad"), default="crop")
    _common(edit)
    edit.add_argument("--quality")
    edit.add_argument("--background")
    edit.add_argument("--output-format")
    edit.add_argument("--output-compression", type=int)
    edit.add_argument("--input-fidelity", help="high or low (GPT image models)")

    vary = sub.add_parser("vary", help="make variations of an image (dall-e-2)")
    vary.add_argument("--image", action="append", required=True, type=Path)
    vary.add_argument("--fit", choices=("crop", "pad"), default="crop")
    _common(vary, default_model="dall-e-2")

    sub.add_parser("check", help="validate the configuration and reach the Images API")


def _common(parser: argparse.ArgumentParser, default_model: str | None = None) -> None:
    parser.add_argument("--model", default=default_model, help="default: IMAGEBOT_DEFAULT_MODEL")
    parser.add_argument("--size")
    parser.add_argument("--n", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("out"), help="folder for the images")


def run_cli(args: argparse.Namespace, settings: Settings) -> int:
    """Run one CLI subcommand; print the member-facing message and return 1 on refusal."""
    try:
        return asyncio.run(_run(args, settings))
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    async with open_core(settings) as core:
        if args.command == "check":
            return await _check(core)
        job = _job_from_args(args, settings)
        outcome = await core.service.run(job)
    for note in outcome.notes:
        print(f"note: {note}")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for index, image in enumerate(outcome.result.images, start=1):
        # Exclusive create: a run in the same second (or an old file) is never overwritten.
        for attempt in itertools.count(1):
            suffix = "" if attempt == 1 else f"-{attempt}"
            path = args.out / f"{job.operation}-{stamp}-{index}{suffix}.{image.format}"
            try:
                with path.open("xb") as file:
                    file.write(image.data)
                break
            except FileExistsError:
                continue
        print(f"{path}  {image.width}x{image.height}")
        if image.revised_prompt:
            print(f"  revised prompt: {image.revised_prompt}")
    return 0


def _job_from_args(args: argparse.Namespace, settings: Settings) -> JobSpec:
    operation = {"generate": "generate", "edit": "edit", "vary": "variation"}[args.command]
    images: list[ImageSource] = []
    for path in getattr(args, "image", None) or []:
        images.append(_source(path))
    mask = _source(args.mask) if getattr(args, "mask", None) else None
    return JobSpec(
        operation=operation,  # type: ignore[arg-type]
        model=args.model or settings.default_model,
        prompt=getattr(args, "prompt", ""),
        n=args.n,
        size=args.size,
        quality=getattr(args, "quality", None),
        style=getattr(args, "style", None),
        background=getattr(args, "background", None),
        output_format=getattr(args, "output_format", None),
        output_compression=getattr(args, "output_compression", None),
        moderation=getattr(args, "moderation", None),
        input_fidelity=getattr(args, "input_fidelity", None),
        fit=getattr(args, "fit", "crop"),
        images=tuple(images),
        mask=mask,
    )


def _source(path: Path) -> ImageSource:
    try:
        return ImageSource.from_bytes(path.name, path.read_bytes())
    except OSError as exc:
        raise BotError(f"Can't read {path}: {exc.strerror}.") from exc


async def _check(core: Core) -> int:
    settings = core.settings
    print(f"configuration: ok ({len(core.catalog.names())} models in the catalog)")
    print(f"Images API: {settings.openai_base_url}")
    models = await core.client.list_models()
    if models is None:
        print("  the server has no GET /models; the key was not verified by listing")
    else:
        print(f"  reached: {len(models)} models offered")
        offered = set(models)
        for name in core.catalog.names():
            mark = "offered" if name in offered else "not offered by this server"
            print(f"  {name}: {mark}")
    if settings.default_model not in core.catalog.names():
        print(f"warning: default model {settings.default_model} is not in the catalog")
        return 1
    return 0
