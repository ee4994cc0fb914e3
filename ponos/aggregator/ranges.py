"""How many blocks one eth_getLogs asks for, pure.

Providers cap the span (or the result count) of eth_getLogs and say so with an error, never
by truncating. The span starts at the configured maximum; a refusal halves it (or falls back
to the largest span known to work) and remembers the refused size as a ceiling; accepted full
spans grow back, doubling while nothing above is known to fail and bisecting towards the
ceiling otherwise, so the size settles just under the provider's limit after a few refusals
instead of oscillating (every other request refused). After `probe_after` accepted spans at
the ceiling it is forgotten and the size probes upwards again: limits change (plans, load).
"""

from __future__ import annotations


class BlockRange:
    def __init__(self, maximum: int, probe_after: int = 32) -> None:
        if maximum < 1:
            raise ValueError("the maximum block range must be at least 1")
        self.maximum = maximum
        self.probe_after = probe_after
        self.size = maximum
        self.ceiling = maximum  # largest span not known to be refused
        self.good = 0  # largest span accepted since the ceiling was last (re)set
        self._streak = 0

    def refused(self, span: int) -> int:
        """The node refused `span` blocks; returns the next size (0: nothing smaller left)."""
        if span <= 1:
            return 0
        self.ceiling = min(self.ceiling, span - 1)
        if self.good >= span:  # the limit went down: what worked before does not any more
            self.good = 0
        self.size = self.good if self.good else max(1, span // 2)
        self._streak = 0
        return self.size

    def accepted(self, span: int) -> int:
        """The node answered `span` blocks; returns the next size."""
        if span < self.size:
            return self.size  # a short range at the head says nothing about the limit
        self.good = max(self.good, span)
        if self.size < self.ceiling:
            if self.ceiling < self.maximum:
                self.size = (self.size + self.ceiling + 1) // 2
            else:
                self.size = min(self.maximum, self.size * 2)
            return self.size
        self._streak += 1
        if self.ceiling < self.maximum and self._streak >= self.probe_after:
            self.ceiling = self.maximum
            self.good = 0
            self._streak = 0
            self.size = min(self.maximum, self.size * 2)
        return self.size
