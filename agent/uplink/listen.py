"""The receiving end: subscribe to a site, check every message, drop duplicates.

``Receiver`` is what ``edgetwin listen`` runs and what the tests use as the
cloud side. Each message is validated against its schema; a message whose
(device, boot, seq) was seen before is counted as a duplicate and dropped.
What remains is kept in memory, optionally written to SQLite, and passed to
a callback.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.uplink import schemas

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    """One accepted message."""

    topic: str
    kind: str
    data: dict[str, Any]


class Receiver:
    """Subscribe to ``{prefix}/{site}/#`` on a broker and collect what arrives.

    ``on_message`` is called, in paho's thread, with each accepted message.
    Use as a context manager or call ``close()``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        site: str,
        *,
        store: str | Path | None = None,
        prefix: str = "edgetwin/v1",
        client_id: str | None = None,
        on_message: Callable[[Received], None] | None = None,
        keep: bool = True,
    ) -> None:
        self.topic = f"{prefix}/{site}/#"
        self.messages: list[Received] = []
        self.duplicates = 0
        self.invalid: list[str] = []
        self.changed = threading.Condition()
        self._seen: set[tuple[str, str, int]] = set()
        self._keep = keep
        self._callback = on_message
        self._db: sqlite3.Connection | None = None
        if store is not None:
            self._db = sqlite3.connect(store, check_same_thread=False)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS messages (topic TEXT, kind TEXT, device TEXT,"
                " boot TEXT, seq INTEGER, ts REAL, historical INTEGER, payload TEXT,"
                " UNIQUE (device, boot, seq))"
            )
        self.subscribed = False
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or ""
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        # Come back quickly after a broker restart: nothing is queued for us meanwhile.
        self.client.reconnect_delay_set(min_delay=0.02, max_delay=0.1)  # type: ignore[arg-type]  # paho accepts float delays
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()

    def close(self) -> None:
        """Disconnect and close the database; safe to call twice."""
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait, at most ``timeout_s`` of real time, until ``predicate()`` holds."""
        with self.changed:
            return bool(self.changed.wait_for(predicate, timeout=timeout_s))

    def of_kind(self, kind: str) -> list[Received]:
        with self.changed:
            return [m for m in self.messages if m.kind == kind]

    # -- paho's thread ------------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any
    ) -> None:
        if not reason.is_failure:
            client.subscribe(self.topic, qos=1)

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, _m: int, _r: Any, _p: Any
    ) -> None:
        with self.changed:
            self.subscribed = True
            self.changed.notify_all()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        kind = schemas.kind_of_topic(msg.topic)
        if kind is None:
            return  # commands going down, not ours to check
        accepted = self.accept(msg.topic, kind, bytes(msg.payload))
        if accepted is not None and self._callback is not None:
            self._callback(accepted)

    def accept(self, topic: str, kind: str, payload: bytes) -> Received | None:
        """Check and record one message; None when invalid or a duplicate."""
        try:
            data = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._invalid(f"{topic}: not JSON: {exc}")
            return None
        problem = schemas.problem(kind, data)
        if problem:
            self._invalid(f"{topic}: {problem}")
            return None
        key = (str(data["device"]), str(data["boot"]), int(data["seq"]))
        with self.changed:
            if key in self._seen:
                self.duplicates += 1
                self.changed.notify_all()
                return None
            self._seen.add(key)
            got = Received(topic, kind, data)
            if self._keep:
                self.messages.append(got)
            if self._db is not None:
                self._db.execute(
                    "INSERT OR IGNORE INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        topic,
                        kind,
                        *key,
                        data["ts"],
                        int(data["historical"]),
                        payload.decode(),
                    ),
                )
                self._db.commit()
            self.changed.notify_all()
        return got

    def _invalid(self, line: str) -> None:
        log.warning("%s", line)
        with self.changed:
            self.invalid.append(line)
            self.changed.notify_all()
