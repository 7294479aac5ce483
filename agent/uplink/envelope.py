"""Upstream payloads: the envelope every message carries and its sequence numbers.

Sequence numbers keep rising across restarts, a crash included: blocks of
them are reserved in the store's meta table before use, so a restart goes
on after the last reserved block and never reuses a number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent.store.store import Store

SCHEMA_VERSION = 1
SEQ_KEY = "uplink_seq_reserved"
SEQ_BLOCK = 10_000

# Lower sorts first: what is sent first and dropped last.
PRIORITY_RESULT = 0
PRIORITY_EVENT = 1
PRIORITY_SUMMARY = 2


def dumps(data: dict[str, Any]) -> bytes:
    """Compact JSON, UTF-8."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


class Sequence:
    """Hand out sequence numbers, reserving them in blocks in the store's meta table."""

    def __init__(self, store: Store, block: int = SEQ_BLOCK) -> None:
        self.store = store
        self.block = block
        reserved = int(store.meta(SEQ_KEY, "0") or 0)
        row = store.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()
        self._next = max(reserved, int(row[0])) + 1
        self._limit = self._next - 1

    def take(self) -> int:
        if self._next > self._limit:
            self._limit = self._next + self.block - 1
            self.store.set_meta(SEQ_KEY, str(self._limit))
        n = self._next
        self._next += 1
        return n

    @property
    def next(self) -> int:
        return self._next


@dataclass(frozen=True)
class Identity:
    """Who sends: names the topics and fills the envelope."""

    site: str
    device: str
    boot: str
    prefix: str = "edgetwin/v1"

    def topic(self, leaf: str) -> str:
        return f"{self.prefix}/{self.site}/{self.device}/{leaf}"

    def envelope(self, seq: int, ts: float, **fields: Any) -> dict[str, Any]:
        return {
            "v": SCHEMA_VERSION,
            "site": self.site,
            "device": self.device,
            "boot": self.boot,
            "seq": seq,
            "ts": round(ts, 3),
            "historical": False,
            **fields,
        }
