"""Prometheus metrics of the serving path, on a registry per app (nothing global at import)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "recsys_requests_total",
            "HTTP requests by route, model version and status",
            ["route", "model", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "recsys_request_seconds",
            "Request latency by route and model version",
            ["route", "model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "recsys_fallbacks_total",
            "Answers that were not the model's personalised ranking, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.feature_fetch = Histogram(
            "recsys_feature_fetch_seconds",
            "Online feature fetch time per request",
            ["feature_service"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.serve_log_dropped = Counter(
            "recsys_serve_log_dropped_total",
            "Serve-log rows dropped because the queue was full",
            registry=self.registry,
        )
        self.events = Counter(
            "recsys_events_total",
            "Events received, by outcome (stored, duplicate)",
            ["outcome"],
            registry=self.registry,
        )
