"""The error hierarchy every layer raises and the CLI maps to exit codes.

A PonosError carries a message meant for an operator: it names what is wrong (a key, a
directory, an address) and what to do, and never contains secrets. The CLI prints it
without a traceback.
"""

from __future__ import annotations


class PonosError(Exception):
    """An error with an operator-facing message; exit code 1 unless overridden."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class ConfigError(PonosError):
    """Invalid configuration, file, flag or environment variable: exit code 2."""

    exit_code = 2

    def __init__(self, problems: list[str] | str, *, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        if len(self.problems) == 1:
            text = f"invalid configuration{where}: {self.problems[0]}"
        else:
            text = f"invalid configuration{where}:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(text)


class PrerequisiteError(PonosError):
    """Something outside Ponos is missing or unreachable (RPC node, Docker engine, tool)."""

    exit_code = 3
