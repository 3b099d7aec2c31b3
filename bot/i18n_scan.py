"""Finds member-facing text written outside the catalogs: English literals in cogs/ and the code
that words messages.

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
)
ALLOW_LIST = ROOT / "tests" / "i18n_allow.txt"
_CATALOGUED = {"t", "tn", "N_"}
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


def scan(root: Path = ROOT, patterns: Iterable[str] = SCANNED) -> list[Literal]:
    """Every member-facing literal left in the scanned files, in file order."""
    found: list[Literal] = []
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            relative = path.relative_to(root).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found += [Literal(relative, text, line) for text, line in _literals(tree)]
    return found


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


def allow_list_text(found: Iterable[Literal]) -> str:
    """The allow-list for ``found``: what ``scripts/i18n scan --write`` saves."""
    head = (
        "# Member-facing literals not in the catalogs yet (bot/i18n_scan.py); one per line as\n"
        "# 'path: text' (f-string parts read {}). Convert one, then drop its line; never add.\n"
    )
    entries = sorted({literal.entry for literal in found})
    return head + "".join(f"{entry}\n" for entry in entries)
