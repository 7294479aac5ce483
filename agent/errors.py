"""Errors: one root, and leaves that also inherit the builtin a caller expects."""


class EdgetwinError(Exception):
    """Root of every error edgetwin raises on purpose."""


class ConfigError(EdgetwinError, ValueError):
    """The configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class DeviceError(EdgetwinError, OSError):
    """A device did not answer as it should (bus error, exception reply, bad frame)."""


class DeviceTimeoutError(DeviceError, TimeoutError):
    """A device did not answer within its timeout."""


class StoreError(EdgetwinError, RuntimeError):
    """The local store cannot be opened, written or read."""


class CommandError(EdgetwinError, ValueError):
    """A command (from the CLI or upstream) is malformed, unknown or not allowed."""
