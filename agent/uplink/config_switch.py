"""Replace the configuration from upstream, with automatic rollback.

The approach: the new text is validated with ``parse_config``; the running
file is copied to ``FILE.prev``, the new text written to ``FILE.new`` and
renamed over ``FILE`` (atomic), and a trial marker ``FILE.trial`` records a
deadline. Then the agent is asked to restart (by default it sends itself
SIGTERM and the service manager starts it again). The new run confirms the
trial once the uplink is connected and cycles run (``confirm``): the marker
and ``FILE.prev`` go. If the deadline passes first (in the new run, or
found by ``rollback_if_expired`` at the next start after a crash),
``FILE.prev`` is put back and the agent restarts with the old file. The
deadline spans two processes, so it is kept in wall-clock time (``wall``),
not on the agent's clock, which may be simulated.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.config import parse_config
from agent.errors import CommandError, ConfigError

log = logging.getLogger(__name__)


def _paths(path: Path) -> tuple[Path, Path, Path]:
    return (
        path.with_name(path.name + ".new"),
        path.with_name(path.name + ".prev"),
        path.with_name(path.name + ".trial"),
    )


def restart_self() -> None:
    """Ask this process to stop cleanly; the service manager starts it again."""
    os.kill(os.getpid(), signal.SIGTERM)


def rollback_if_expired(path: str | Path, now: float) -> bool:
    """Put ``FILE.prev`` back when a trial's deadline has passed; True if it did."""
    path = Path(path)
    _, prev, trial = _paths(path)
    if not trial.exists():
        return False
    try:
        deadline = float(json.loads(trial.read_text())["deadline"])
    except (OSError, ValueError, KeyError, TypeError):
        deadline = 0.0
    if now < deadline:
        return False
    if prev.exists():
        os.replace(prev, path)
        log.error(
            "%s: new configuration did not come up healthy in time; rolled back", path
        )
    trial.unlink(missing_ok=True)
    return True


class ConfigSwitch:
    """Get, stage, confirm and roll back the configuration file at ``path``."""

    def __init__(
        self,
        path: str | Path,
        *,
        trial_s: float = 300.0,
        restart: Callable[[], None] = restart_self,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.trial_s = trial_s
        self.restart = restart
        self.wall = wall

    @property
    def on_trial(self) -> bool:
        return _paths(self.path)[2].exists()

    def get(self) -> dict[str, Any]:
        text = self.path.read_text(encoding="utf-8")
        return {
            "path": str(self.path),
            "text": text,
            "config_hash": parse_config(text, str(self.path)).text_hash,
        }

    def stage(self, text: str, now: float | None = None) -> dict[str, Any]:
        """Validate ``text``, put it in place with a trial marker, and restart.

        Raises ``CommandError`` naming every problem when the text is not valid.
        """
        try:
            new = parse_config(text, "new configuration")
        except ConfigError as exc:
            raise CommandError(
                "invalid configuration: " + "; ".join(exc.problems)
            ) from None
        now = self.wall() if now is None else now
        tmp, prev, trial = _paths(self.path)
        shutil.copy2(self.path, prev)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)
        trial.write_text(
            json.dumps({"deadline": now + self.trial_s, "hash": new.text_hash})
        )
        log.warning(
            "%s: new configuration %s staged; restarting", self.path, new.text_hash
        )
        self.restart()
        return {"config_hash": new.text_hash, "trial_s": self.trial_s}

    def confirm(self) -> None:
        """The agent is healthy with the new file: forget the old one."""
        _, prev, trial = _paths(self.path)
        if trial.exists():
            trial.unlink()
            prev.unlink(missing_ok=True)
            log.info("%s: new configuration confirmed", self.path)

    def check(self, now: float | None = None) -> bool:
        """Roll back and restart if the trial's deadline passed; True if it did."""
        if rollback_if_expired(self.path, self.wall() if now is None else now):
            self.restart()
            return True
        return False
