"""What the bot counts for Prometheus: jobs, queues, the Images API, spending, the event loop.

Each bot has its own ``CollectorRegistry``, never prometheus_client's process-wide one: tests run
many bots in one process, and two bots must not count into each other. No label ever carries a
URL, a key or a member: a provider is "operator" (the operator's) or "server" (a server's own).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.errors import RateLimited
from bot.provider import Provider
from bot.store.models import Job

LAG_EVERY = 0.5  # seconds the loop watcher sleeps; what it oversleeps is the loop's lag
API_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _Queues(Collector):
    """Each provider's queue as it is at the moment of the scrape, summed by kind."""

    def __init__(self, providers: Callable[[], Iterable[Provider]]) -> None:
        self._providers = providers

    def collect(self) -> Iterator[Metric]:
        waiting = {"operator": 0, "server": 0}
        running = dict(waiting)
        for provider in self._providers():
            kind = "server" if provider.own else "operator"
            waiting[kind] += provider.queue.queued
            running[kind] += provider.queue.running
        depth = GaugeMetricFamily(
            "imagebot_queue_depth", "Jobs waiting in the providers' queues.", labels=["provider"]
        )
        busy = GaugeMetricFamily(
            "imagebot_jobs_running", "Jobs holding a slot at a provider.", labels=["provider"]
        )
        for kind in waiting:
            depth.add_metric([kind], waiting[kind])
            busy.add_metric([kind], running[kind])
        yield depth
        yield busy


class Metrics:
    """The bot's counters; ``job_finished`` and ``api_call`` are the job runner's listeners."""

    def __init__(self, providers: Callable[[], Iterable[Provider]]) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.jobs = Counter(
            "imagebot_jobs",
            "Jobs by operation, model and how they ended (delivered, cancelled, refused, "
            "failed_<kind>).",
            ["operation", "model", "outcome"],
            registry=reg,
        )
        self.api_seconds = Histogram(
            "imagebot_api_seconds",
            "Seconds the Images API took per job, its client's retries included.",
            ["operation", "model"],
            buckets=API_BUCKETS,
            registry=reg,
        )
        self.rate_limited = Counter(
            "imagebot_rate_limited", "Jobs the Images API answered 429 for.", registry=reg
        )
        self.credits = Counter(
            "imagebot_credits_spent", "Credits charged for delivered jobs.", registry=reg
        )
        self.money = Counter(
            "imagebot_money_spent_usd", "US dollars delivered jobs cost.", registry=reg
        )
        self.loop_lag = Gauge(
            "imagebot_event_loop_lag_seconds",
            "How late the event loop last woke a sleeping task.",
            registry=reg,
        )
        self.loop_lags = Histogram(
            "imagebot_event_loop_lag_histogram_seconds",
            "How late the event loop woke a sleeping task, every half second.",
            buckets=LAG_BUCKETS,
            registry=reg,
        )
        reg.register(_Queues(providers))

    def job_finished(self, job: Job, outcome: str) -> None:
        """Count a job that ended; a delivered one adds what it was charged."""
        self.jobs.labels(job.operation, job.model, outcome).inc()
        if outcome == "delivered":
            self.spent(job.credits)

    def spent(self, credits: float, usd: float = 0.0) -> None:
        """Add what a delivered job cost: its credits and, when known, its money."""
        if credits > 0:
            self.credits.inc(credits)
        if usd > 0:
            self.money.inc(usd)

    def api_call(self, job: Job, seconds: float, error: BaseException | None) -> None:
        """Time one job's call to the Images API; count it when the API said "slow down"."""
        self.api_seconds.labels(job.operation, job.model).observe(seconds)
        if isinstance(error, RateLimited):
            self.rate_limited.inc()

    async def watch_loop(self, every: float = LAG_EVERY) -> None:
        """Sleep ``every`` seconds, again and again; record how much longer each sleep took."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(every)
            lag = max(0.0, loop.time() - started - every)
            self.loop_lag.set(lag)
            self.loop_lags.observe(lag)
