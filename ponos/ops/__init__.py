"""Operations: Prometheus metrics, health and readiness, admin snapshots over HTTP."""
