"""Finds member-facing text written outside the catalogs: English literals in cogs/ and the code
that words messages, and the messages of the errors raised anywhere in bot/.

A string counts when it reads like words (letters and a space, or a capital first) and is not a
docstring, a log line, an id passed to ``t``/``tn``/``N_``, or a command string (those reach
Discord through the command translator, cogs/translator.py). It is a heuristic and errs towards
listing: ``tests/i18n_allow.txt`` names the literals not converted yet, so the test passes now,
fails on a new one, and the list only shrinks (an entry that no longer matches fails too).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.i18n_catalogs import ROOT

SCANNED = (
    "cogs/*.py",
    "bot/render.py",
    "bot/views.py",
    "bot/help_text.py",
    "bot/usage_text.py",
    "bot/audit_text.py",
    # what checks a member's request and words its refusals and notes
    "bot/models/validate.py",
    "bot/models/inputs.py",
    "bot/models/shaping.py",
    "bot/models/aspect.py",
    "bot/images/fit.py",
    "bot/images/errors_map.py",
    "bot/images/prepare.py",
    "bot/images/codec.py",
    "bot/images/masks.py",
    "bot/fetch.py",
    "bot/links.py",
    "bot/blend.py",
    "bot/jobs.py",
    "bot/quotas/engine.py",
    "bot/quotas/policy.py",
    "bot/quotas/money.py",
    "bot/moderation.py",
    "bot/limits.py",
    "bot/presets.py",
    "bot/preferences.py",
    "bot/library.py",
    "bot/safety.py",
    "bot/blocklist.py",
    "bot/provider.py",
    "bot/providers.py",
    "bot/reports.py",
)
# Everywhere else in bot/, what a member reads is the message of the errors it raises.
ERRORS_SCANNED = ("bot/**/*.py",)
ALLOW_LIST = ROOT / "tests" / "i18n_allow.txt"
_CATALOGUED = {"t", "tn", "N_", "lazy", "lazy_n", "Command", "Option"}
# Calls whose strings never reach a member: logs, errors meant for developers, patterns.
_SILENT = {"debug", "info", "warning", "error", "exception", "critical", "compile", "getLogger"}
# Calls that declare commands: their strings are command strings, translated on sync.
_COMMANDS = {"describe", "command", "Group", "Choice", "rename", "ContextMenu", "group"}
_COMMAND_KEYWORDS = {"name", "description"}
_WORDS = re.compile(r"[^\W\d_]{2,}")
_NOT_PROSE = re.compile(r"^[\w.:/{}<>#@&*=-]*$")  # ids, paths, urls, patterns, placeholders


@dataclass(frozen=True, slots=True, order=True)
class Literal:
    path: str
    text: str
    line: int = 0

    @property
    def entry(self) -> str:
        text = self.text.replace("\\", "\\\\").replace("\n", "\\n")
        return f"{self.path}: {text}"


def scan(
    root: Path = ROOT,
    patterns: Iterable[str] = SCANNED,
    error_patterns: Iterable[str] = ERRORS_SCANNED,
) -> list[Literal]:
    """Every member-facing literal left in the scanned files, in file order: all the prose of
    ``patterns``, and the messages given to the bot's errors in ``error_patterns``."""
    whole = {path for pattern in patterns for path in root.glob(pattern)}
    errors = {path for pattern in error_patterns for path in root.glob(pattern)} - whole
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in whole | errors}
    error_names = _error_names(trees.values())
    found: list[Literal] = []
    for path in sorted(trees):
        tree = trees[path]
        if path in errors:  # a Pass first, so that no message reads as a docstring
            tree = ast.Module([ast.Pass(), *_error_messages(tree, error_names)], [])
        relative = path.relative_to(root).as_posix()
        found += [Literal(relative, text, line) for text, line in _literals(tree)]
    return found


def _error_messages(tree: ast.AST, error_names: frozenset[str]) -> Iterator[ast.stmt]:
    """The arguments given to the bot's errors (``raise NotAllowed("...")``), as statements."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called(node.func) in error_names:
            for arg in (*node.args, *(k.value for k in node.keywords)):
                yield ast.Expr(value=arg, lineno=node.lineno, col_offset=0)


def _error_names(trees: Iterable[ast.AST]) -> frozenset[str]:
    """``BotError`` and every class that derives from it in ``trees``, but ``ConfigError``
    (the operator's, read in the console and the log)."""
    bases: dict[str, set[str]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {_called(base) for base in node.bases}
    names = {"BotError"}
    while grown := {name for name, of in bases.items() if of & names} - names:
        names |= grown
    return frozenset(names - {"ConfigError"})


def _literals(tree: ast.AST) -> Iterator[tuple[str, int]]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                skip.add(id(body[0].value))
        elif isinstance(node, ast.Call):
            name = _called(node.func)
            if name in _CATALOGUED or name in _SILENT or name in _COMMANDS:
                skip.update(id(n) for arg in (*node.args, *node.keywords) for n in ast.walk(arg))
            skip.update(
                id(n)
                for k in node.keywords
                if k.arg in _COMMAND_KEYWORDS and name in _COMMANDS | {"Group"}
                for n in ast.walk(k.value)
            )
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                str(v.value) if isinstance(v, ast.Constant) else "{}"
                for v in node.values
                if isinstance(v, ast.Constant | ast.FormattedValue)
            )
            skip.update(id(v) for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if _prose(text):
            yield text, node.lineno


def _called(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _prose(text: str) -> bool:
    text = text.strip()
    if not _WORDS.search(text) or _NOT_PROSE.match(text):
        return False
    return " " in text or text[0].isupper()


def allowed(path: Path = ALLOW_LIST) -> set[str]:
    """The allow-list's entries ("path: text", one a line; # starts a comment)."""
    if not path.exists():
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    return {line for line in lines if line.strip() and not line.startswith("#")}


def unlisted(found: Iterable[Literal], allow: set[str]) -> tuple[list[Literal], set[str]]:
    """(literals the allow-list doesn't name, allow-list entries that match nothing any more)."""
    found = list(found)
    entries = {literal.entry for literal in found}
    return [x for x in found if x.entry not in allow], allow - entries


KEPT = "# Kept"


def allow_list_text(found: Iterable[Literal], old: str = "") -> str:
    """The allow-list for ``found``: what ``scripts/i18n scan --write`` saves (the kept
    section of ``old``, the list as it was, stays as written)."""
    head = (
        "# Member-facing literals not in the catalogs yet (bot/i18n_scan.py); one per line as\n"
        "# 'path: text' (f-string parts read {}). Convert one, then drop its line; never add.\n"
        "# A literal that never reaches a member (an id, a log's words) can be kept: move it\n"
        f"# under the '{KEPT}' line at the end, the reason in a comment above it.\n"
    )
    _, marker, kept = old.partition(f"\n{KEPT}")
    kept_entries = {line for line in kept.splitlines() if line and not line.startswith("#")}
    entries = sorted({literal.entry for literal in found} - kept_entries)
    return (
        head
        + "".join(f"{entry}\n" for entry in entries)
        + (marker.lstrip() + kept if marker else "")
    )
