"""`scripts/i18n extract|update|check|scan`: the translators' and developers' workflow.

extract  writes bot/locales/imagebot.pot: every id of bot/ and cogs/ and every command string.
update   extract, then bring each catalog in line (new ids added empty, unused ones dropped).
check    what is missing, untranslated, or has the wrong placeholders or plural forms.
scan     member-facing literals still written outside the catalogs (--write: the allow-list).
"""

from __future__ import annotations

import argparse
import asyncio

from babel.messages.catalog import Catalog

from bot import i18n_catalogs, i18n_scan


async def fresh_template() -> Catalog:
    """The template as the code stands now: the source's ids and the loaded cogs' commands."""
    from bot.app import EXTENSIONS
    from cogs.translator import load_commands

    return i18n_catalogs.template(await load_commands(EXTENSIONS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/i18n", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("extract", "update", "check", "scan"))
    parser.add_argument("--write", action="store_true", help="scan: rewrite the allow-list")
    args = parser.parse_args(argv)
    if args.action == "scan":
        return _scan(write=args.write)
    source = asyncio.run(fresh_template())
    if args.action == "extract":
        i18n_catalogs.write_catalog(source, i18n_catalogs.TEMPLATE, locations=True)
        print(f"{len(source)} ids written to {i18n_catalogs.TEMPLATE}")
        return 0
    if args.action == "update":
        i18n_catalogs.update(source)
    problems = i18n_catalogs.problems(source, i18n_catalogs.read_all())
    for problem in problems:
        print(problem)
    print(f"{len(source)} ids, {len(problems)} problems")
    return 1 if problems and args.action == "check" else 0


def _scan(*, write: bool) -> int:
    found = i18n_scan.scan()
    if write:
        old = i18n_scan.ALLOW_LIST.read_text(encoding="utf-8")
        i18n_scan.ALLOW_LIST.write_text(i18n_scan.allow_list_text(found, old), encoding="utf-8")
    new, stale = i18n_scan.unlisted(found, i18n_scan.allowed())
    for literal in new:
        print(f"{literal.path}:{literal.line}: {literal.text!r}")
    for entry in sorted(stale):
        print(f"allow-list entry no longer found: {entry}")
    print(f"{len(found)} literals left outside the catalogs; {len(new)} not allowed")
    return 1 if new or stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
