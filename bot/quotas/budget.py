"""Server budget alerts: at 80 % and at 100 % of a server's budget, each once per window.

After each settled job the server's bucket is compared with its budget: the bucket is what
reservations are refused by (committed spend and requests in progress), the same figure /usage
shows. The highest threshold reached is the alert, so a job that jumps from 70 % to 100 % posts
only the 100 % one. An alert's key names the threshold, the window and the budget: claimed once
through ``ImageBot.mod_log(once=key)``, it is posted once per window across processes and
restarts, and a budget a moderator changes mid-window is watched afresh.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.quotas.windows import window_end
from bot.store import QuotaPolicy, Reservation, Window

THRESHOLDS = (100, 80)  # percent of the budget, highest first


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    """A threshold of the server budget reached in one window."""

    percent: int  # the threshold: 80 or 100
    used: int
    budget: int
    window: Window
    window_start: int
    resets_at: int

    @property
    def key(self) -> str:
        """The notice key that makes this alert once per window and budget."""
        return f"budget-{self.percent}:{self.window}:{self.window_start}:{self.budget}"

    @property
    def used_percent(self) -> int:
        """How much of the budget is used, rounded down: 33 of 40 is 82 %."""
        return self.used * 100 // self.budget


def budget_alert(policy: QuotaPolicy, settled: Reservation, used: int) -> BudgetAlert | None:
    """The alert that ``used`` credits in the window ``settled`` was charged in call for, if any.

    None without a budget, or when the window was changed since the job reserved its credits
    (its bucket then belongs to a window the budget no longer counts).
    """
    budget = policy.server_budget
    if budget is None or budget <= 0 or settled.server_window != policy.server_window:
        return None
    reached = next((p for p in THRESHOLDS if used * 100 >= budget * p), None)
    if reached is None:
        return None
    start = settled.server_window_start
    window = settled.server_window
    return BudgetAlert(reached, used, budget, window, start, window_end(window, start))
