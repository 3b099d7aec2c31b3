"""Entry point: `python -m bot` runs the bot; subcommands use the core from a terminal."""

from __future__ import annotations

import argparse
import gc
import sys

from bot.errors import ConfigError
from bot.logs import setup_logging
from bot.settings import Settings

GC_YOUNG = 10_000  # allocations between two collections of the youngest generation (default 700)


def build_parser() -> argparse.ArgumentParser:
    """The command line: no subcommand (or `run`) starts the bot."""
    from bot.cli import add_subcommands

    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="A Discord bot that creates, edits and varies images "
        "through any OpenAI-compatible Images API.",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="log in to Discord and serve members (the default)")
    sub.add_parser("sync", help="publish the slash commands to every server (global sync)")
    sub.add_parser(
        "new-secret-key",
        help="print a new key for IMAGEBOT_SECRET_KEYS (seals servers' own API keys)",
    )
    add_subcommands(sub)
    return parser


def tune_gc() -> None:
    """Keep the collector's pauses short under load; call once everything is imported.

    A full collection walks every tracked object: the ~65 000 that importing discord.py, aiohttp
    and Pillow leaves behind never die, yet each full pass re-read them (tens of ms, on the event
    loop). Frozen, they are skipped. A larger first generation lets the many short-lived objects of
    a thousand jobs in flight die young instead of being promoted and re-read by later passes.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, load settings and run the chosen command."""
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    if command == "new-secret-key":
        from bot.keys import new_secret_key

        print(new_secret_key())
        return 0
    try:
        settings = Settings.from_env(require_discord=command in ("run", "sync"))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        print("See .env.example for every variable.", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.secrets)
    if command in ("run", "sync"):
        from bot.app import run_bot

        tune_gc()
        return run_bot(settings, sync_only=command == "sync")
    from bot.cli import run_cli

    args.command = command
    return run_cli(args, settings)


if __name__ == "__main__":
    sys.exit(main())
