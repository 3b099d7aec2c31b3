"""``bench_bot.py --stream``: how soon a member sees each partial image the API streamed.

The bot asks for ``PARTIAL_IMAGES`` partial images per image; the fake Images API streams them as
server-sent events, ``PARTIAL_DELAY`` s apart, before the final image. Both fakes run in child
processes and share one clock (``time.monotonic``, system-wide on Linux):

- the fake API child time-stamps each partial-image event once its last byte is written, with the
  prompt of its request (``bench.common.PartialRecorder``);
- the fake Discord child time-stamps every request it receives (``BenchDiscord``); its report
  lists, per interaction token, the file-bearing webhook requests in order.

A partial counts as shown by the first file-bearing edit of that member's original message that
arrived after it was sent: when the bot skips a partial for a newer one, the member saw something
at least as new then, which is what they notice. The result (the token's last file-bearing
request: today an edit of the original, after the delivery rewrite a followup) is not a partial's
edit; a partial nothing showed before the result is counted apart.

TODO, once the other helpers' work lands:
- ``FakeImagesServer(stream_mode="sse", partial_delay=...)`` (tests/fakes/openai_server.py):
  check the option names in ``API_OPTIONS`` and that ``BenchImagesServer`` (which caches
  non-streamed answers only) still streams; ``PartialRecorder`` assumes each event ends with a
  blank line and names its type ``image_generation.partial_image`` / ``image_edit.partial_image``.
- The bot's setting ``IMAGEBOT_PARTIAL_IMAGES``: check the field name in ``SETTINGS``.
- Then run ``bench_bot.py --stream --n 200,1000`` and add a smoke test with ``--stream``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

PARTIAL_IMAGES = 2
PARTIAL_DELAY = 0.5  # seconds before each partial, and before the final image
# The fake waits PARTIAL_DELAY before each event: the API latency is cut by this much, so a job
# takes as long as without streaming (the partials arrive while the image is being made).
STREAM_SECONDS = (PARTIAL_IMAGES + 1) * PARTIAL_DELAY
API_OPTIONS: dict[str, Any] = {"stream_mode": "sse", "partial_delay": PARTIAL_DELAY}
SETTINGS: dict[str, Any] = {"partial_images": PARTIAL_IMAGES}
TARGET_P50_MS = 300.0
PARTIAL_EVENTS = (b"image_generation.partial_image", b"image_edit.partial_image")

Edit = tuple[str, float]  # (kind: "PATCH @original" or "POST followup", arrival time)


def partial_delays(
    partials: Sequence[tuple[str, float]],
    file_requests: Mapping[str, Sequence[Edit]],
    token_of: Mapping[str, str],
) -> tuple[list[float], int]:
    """Seconds from each partial sent to the edit that showed it; and how many none showed.

    ``partials``: (prompt, time sent) from the fake API; ``file_requests``: per token, its
    file-bearing webhook requests in arrival order; ``token_of``: prompt -> interaction token.
    """
    delays: list[float] = []
    unshown = 0
    for prompt, sent in partials:
        token = token_of.get(prompt)
        requests = list(file_requests.get(token, ())) if token else []
        edits = [at for kind, at in requests[:-1] if kind == "PATCH @original"]  # not the result
        shown = next((at for at in edits if at >= sent), None)
        if shown is None:
            unshown += 1
        else:
            delays.append(shown - sent)
    return delays, unshown


def row(delays: list[float], unshown: int, total: int) -> tuple[str, str, str, bool]:
    """The table row: p50 / p99 beside the target, and how many partials were shown."""
    ordered = sorted(delays)

    def pct(q: float) -> float:
        if not ordered:
            return math.nan
        return ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)] * 1000

    p50 = pct(50)
    value = f"{p50:.0f} / {pct(99):.0f} ms ({total - unshown}/{total} shown)"
    return ("partial image -> its Discord edit p50 / p99", value,
            f"p50 < {TARGET_P50_MS:.0f} ms", p50 < TARGET_P50_MS)  # fmt: skip
