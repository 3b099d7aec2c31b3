"""Quota policy, prices and enforcement: who may spend how many credits, exactly."""

from __future__ import annotations

from bot.quotas.costs import DEFAULT_PRICES, FALLBACK_CREDITS, PriceTable, cost_per_image
from bot.quotas.engine import DEFAULT_RESERVATION_TTL, QuotaEngine
from bot.quotas.policy import MemberLimit, describe_policy, member_limit
from bot.quotas.usage import MemberUsage, UsageSummary, WindowUsage
from bot.quotas.windows import relative_time, window_end, window_start

__all__ = [
    "DEFAULT_PRICES",
    "DEFAULT_RESERVATION_TTL",
    "FALLBACK_CREDITS",
    "MemberLimit",
    "MemberUsage",
    "PriceTable",
    "QuotaEngine",
    "UsageSummary",
    "WindowUsage",
    "cost_per_image",
    "describe_policy",
    "member_limit",
    "relative_time",
    "window_end",
    "window_start",
]
