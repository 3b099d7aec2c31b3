"""What the catalogs cost: reading all eight once (at start, off the event loop), their memory,
and a message put in a language (a plain id, a plural, and a lazy error with a nested list).

Run: ``python bench/bench_i18n.py``. Targets: all catalogs read in under 1 s, under 10 MB, and
a message worded in under 20 µs (a result embed words about 15).
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import i18n
from bot.errors import ValidationError

RUNS = 20_000
LOAD_TARGET_S = 1.0
MEMORY_TARGET_MB = 10.0
WORD_TARGET_US = 20.0


def per_call_us(fn: Callable[[], object], runs: int = RUNS) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - start) / runs * 1e6


def main() -> int:
    start = time.perf_counter()
    tables = i18n.every()
    load = time.perf_counter() - start
    i18n.messages.cache_clear()  # read again, traced (tracing slows it: not timed)
    tracemalloc.start()
    tables = i18n.every()
    memory = tracemalloc.get_traced_memory()[0] / 1024 / 1024
    tracemalloc.stop()
    ids = len(tables["ru"].singular) + len(tables["ru"].plural)
    refusal = ValidationError(
        [
            i18n.lazy("You can't use this command here."),
            i18n.lazy_n("{count} credit", "{count} credits", 5),
        ]
    )
    rows = [
        (f"read {len(tables)} catalogs ({ids} ids each)", f"{load:.3f} s", f"< {LOAD_TARGET_S} s",
         load < LOAD_TARGET_S),
        ("their memory", f"{memory:.1f} MB", f"< {MEMORY_TARGET_MB:.0f} MB",
         memory < MEMORY_TARGET_MB),
    ]  # fmt: skip
    for name, fn in (
        ("t(): a plain message in Russian", lambda: i18n.t("ru", "Nothing was charged for this.")),
        (
            "tn(): a plural in Russian",
            lambda: i18n.tn("ru", "{count} credit", "{count} credits", 5),
        ),
        ("a lazy error of two violations", lambda: refusal.render("ru")),
        ("a list, the language's way", lambda: i18n.Listed(("a", "b", "c")).render("zh_CN")),
    ):
        us = per_call_us(fn)
        rows.append((name, f"{us:.1f} µs", f"< {WORD_TARGET_US:.0f} µs", us < WORD_TARGET_US))
    width = max(len(row[0]) for row in rows)
    print(f"{'figure':<{width}}  {'measured':>10}  target")
    for name, got, target, ok in rows:
        print(f"{name:<{width}}  {got:>10}  {target}{'' if ok else '  FAILED'}")
    return 0 if all(row[3] for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
