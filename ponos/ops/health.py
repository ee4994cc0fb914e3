"""Health and readiness, decided from checks (pure: checks in, verdict out).

EigenLayer's node API maps the verdict to HTTP: 200 healthy, 206 partially healthy or still
starting, 503 unhealthy. Readiness (`/readyz`) is stricter: every check must pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HEALTHY, PARTIAL, STARTING, UNHEALTHY, STOPPING = (
    "healthy",
    "partial",
    "starting",
    "unhealthy",
    "stopping",
)
EIGEN_STATUS = {HEALTHY: 200, PARTIAL: 206, STARTING: 206, UNHEALTHY: 503, STOPPING: 503}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""
    essential: bool = False  # failing it makes the node unhealthy, not just partial


@dataclass(frozen=True)
class Verdict:
    status: str
    ready: bool
    checks: tuple[Check, ...] = field(default=())

    @property
    def eigen_code(self) -> int:
        return EIGEN_STATUS[self.status]

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "ready": self.ready,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
        }


def decide(checks: list[Check], *, started: bool, stopping: bool) -> Verdict:
    if stopping:
        return Verdict(STOPPING, False, tuple(checks))
    if not started:
        return Verdict(STARTING, False, tuple(checks))
    if any(not c.ok and c.essential for c in checks):
        return Verdict(UNHEALTHY, False, tuple(checks))
    if any(not c.ok for c in checks):
        return Verdict(PARTIAL, False, tuple(checks))
    return Verdict(HEALTHY, True, tuple(checks))
