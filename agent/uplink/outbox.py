"""Store and forward: every upstream message goes through the SQLite outbox.

A message is written to the outbox with the batch of data it describes and,
while the broker is reachable, handed to the link at once (live). What the
link did not take (the broker was away, or the agent restarted) is the
backlog: read back from the database in id order, marked historical, and
sent at a bounded rate, only with what live traffic leaves of the in-flight
window. The outbox is pumped once per agent cycle, so the backlog moves at
most half the in-flight window per cycle: ``min(backlog_rate_msgs_s,
inflight_max // 2 / cycle period)``, 10 messages/s with the defaults at
1 Hz. Command results and events go before summaries. A message leaves
the outbox only after the broker's PUBACK; acknowledged rows are deleted in
batches, at most once every ``ack_delete_interval_s``.

Per topic, live messages arrive in sequence order, and so do historical
ones; a receiver puts the two streams together by sequence number.

A stored message above the limit the broker gave on connecting (it was
sized before the limit was known) is not sent: it is replaced in the
table by its parts, with new sequence numbers, in the transaction that
deletes it; the parts are sent after the rest of the backlog, so the
historical stream stays in sequence order. One that cannot be split is
dropped like any message too large.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.clock import Clock
from agent.config.uplink import UplinkConfig
from agent.store import outbox as table
from agent.store.outbox import OutboxRow
from agent.store.store import Store
from agent.uplink.envelope import Identity, Sequence, dumps

log = logging.getLogger(__name__)

# Room for the fixed header, the topic length and a few MQTT 5 properties.
PACKET_OVERHEAD_BYTES = 64
BACKLOG_BATCH = 200
# The mapping a message on a topic leaf is split along when it is too large.
SPLIT_KEYS = {"summary": "points"}
# Stored messages re-split per pump at most: each is a transaction.
SPLITS_PER_PUMP = 20


class Link(Protocol):
    """What the outbox needs of the MQTT link."""

    @property
    def connected(self) -> bool: ...

    @property
    def generation(self) -> int: ...

    max_packet_bytes: int | None

    def publish(
        self, topic: str, payload: bytes, *, retain: bool = False
    ) -> int | None: ...

    def take_acks(self) -> list[int]: ...


@dataclass
class Message:
    """One upstream message on its way; ``mark`` is the store's commit count when queued."""

    seq: int
    topic: str
    priority: int
    payload: bytes
    mark: int
    historical: bool = False


@dataclass
class OutboxStats:
    """What the outbox counted since the agent started."""

    queued: int = 0
    sent_live: int = 0
    sent_backlog: int = 0
    acked: int = 0
    deleted: int = 0
    delete_commits: int = 0
    dropped: Counter[str] = field(default_factory=Counter)


class Outbox:
    """Queue, send, acknowledge and bound the upstream messages of one device."""

    def __init__(
        self,
        store: Store,
        link: Link,
        identity: Identity,
        config: UplinkConfig,
        clock: Clock,
        *,
        seq: Sequence | None = None,
    ) -> None:
        self.store = store
        self.link = link
        self.identity = identity
        self.config = config
        self.clock = clock
        self.seq = seq or Sequence(store)
        self.stats = OutboxStats()
        self._live: list[deque[Message]] = [deque(), deque(), deque()]
        self._inflight: dict[int, Message] = {}
        self._acked: dict[int, int] = {}
        self._backlog: deque[OutboxRow] = deque()
        self._resplit: deque[OutboxRow] = deque()
        self._cursor_id = 0
        self._floor = self.seq.next
        self._generation = -1
        self._tokens = 0.0
        self._last_pump: float | None = None
        self._last_delete = clock.now()
        self._last_caps: float | None = None
        self._backlog_done = False

    # -- queueing ---------------------------------------------------------------

    def add(
        self,
        ts: float,
        leaf: str,
        priority: int,
        body: dict[str, Any],
        *,
        split_key: str | None = None,
    ) -> list[int]:
        """Queue a message on topic ``leaf``; return the sequence numbers it took.

        A message above the size limit is split in parts along the mapping
        ``body[split_key]``; one that cannot be split is dropped, counted and
        reported by ``take_dropped`` (never cut).
        """
        topic = self.identity.topic(leaf)
        seqs = []
        for part in self._parts(ts, topic, body, split_key):
            seq = self.seq.take()
            data = self.identity.envelope(seq, ts, **part)
            payload = dumps(data)
            self.store.add_message(ts, topic, payload, priority, seq)
            self.stats.queued += 1
            seqs.append(seq)
            if self.link.connected and self.link.generation == self._generation:
                msg = Message(seq, topic, priority, payload, self.store.stats.commits)
                self._live[min(priority, 2)].append(msg)
        return seqs

    def limit_bytes(self) -> int:
        """The largest payload the broker takes, from the config and the broker's CONNACK."""
        limit = self.config.max_message_bytes
        if self.link.max_packet_bytes:
            limit = min(limit, int(self.link.max_packet_bytes))
        return limit - PACKET_OVERHEAD_BYTES

    def _parts(
        self, ts: float, topic: str, body: dict[str, Any], split_key: str | None
    ) -> list[dict[str, Any]]:
        limit = self.limit_bytes() - len(topic)
        # The envelope adds about 150 bytes; measure with a stand-in.
        probe = dumps(self.identity.envelope(10**12, ts, **body))
        if len(probe) <= limit:
            return [body]
        items = body.get(split_key) if split_key else None
        if split_key is None or not isinstance(items, dict) or len(items) < 2:
            self.stats.dropped["too_large"] += 1
            log.warning(
                "%s: message of %d bytes is above the %d byte limit and cannot be split; dropped",
                topic,
                len(probe),
                limit,
            )
            return []

        # Split the mapping into chunks that fit; the rest of the body goes with part 0.
        rest = {k: v for k, v in body.items() if k != split_key}
        head = len(
            dumps(
                self.identity.envelope(
                    10**12, ts, **rest, part={"index": 0, "count": 0}
                )
            )
        )
        chunks: list[dict[str, Any]] = []
        chunk: dict[str, Any] = {}
        used = head + 16
        for key, value in items.items():
            size = len(dumps({key: value})) + 1
            if chunk and used + size > limit:
                chunks.append(chunk)
                chunk, used = {}, head + 16
            chunk[key] = value
            used += size
        chunks.append(chunk)
        keep = {k: v for k, v in rest.items() if k in ("window",)}
        parts: list[dict[str, Any]] = []
        for i, c in enumerate(chunks):
            base: dict[str, Any] = rest if i == 0 else keep
            parts.append(
                {**base, split_key: c, "part": {"index": i, "count": len(chunks)}}
            )
        return parts

    def publish_direct(self, leaf: str, body: dict[str, Any], *, retain: bool) -> None:
        """Publish a message that is only meaningful now (the birth status): not stored."""
        seq = self.seq.take()
        data = self.identity.envelope(seq, self.clock.now(), **body)
        self.link.publish(self.identity.topic(leaf), dumps(data), retain=retain)

    def status_payload(self, body: dict[str, Any]) -> bytes:
        return dumps(self.identity.envelope(self.seq.take(), self.clock.now(), **body))

    # -- sending ----------------------------------------------------------------

    @property
    def backlog_done(self) -> bool:
        """True once no backlog row was found on the last read."""
        return self._backlog_done and not self._backlog and not self._resplit

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def pump(self, now: float) -> None:
        """Take acknowledgements, then send what the window and the drain rate allow."""
        self._take_acks()
        link = self.link
        if not link.connected:
            self._drop_live()
            self._last_pump = now
            self._maybe_delete(now)
            return
        if link.generation != self._generation:
            # A new connection: what was not handed to paho is backlog from now on.
            self._drop_live()
            self._generation = link.generation
            self._floor = self.seq.next
            self._backlog.clear()
            self._resplit.clear()  # now below the floor: read back from the table
            self._cursor_id = 0
            self._backlog_done = False
        dt = 0.0 if self._last_pump is None else max(0.0, now - self._last_pump)
        self._last_pump = now
        rate = self.config.backlog_rate_msgs_s
        # The bucket holds a second's worth plus one: a pump that comes a
        # little early keeps its fraction instead of losing a send slot.
        self._tokens = min(rate + 1.0, self._tokens + rate * dt)
        window = self.config.inflight_max

        # Live first, most important first.
        for queue in self._live:
            while queue and len(self._inflight) < window:
                msg = queue[0]
                mid = link.publish(msg.topic, msg.payload)
                if mid is None:
                    return
                queue.popleft()
                self._inflight[mid] = msg
                self.stats.sent_live += 1

        # Then the backlog, within its share of the window and its rate.
        backlog_window = max(1, window // 2)
        splits = 0
        while self._tokens >= 1.0 and len(self._inflight) < backlog_window:
            row = self._next_backlog_row()
            if row is None:
                break
            msg = _historical(row)
            if len(msg.topic) + len(msg.payload) > self.limit_bytes():
                if splits == SPLITS_PER_PUMP:
                    self._backlog.appendleft(row)
                    break
                self._split_stored(row)
                splits += 1
                continue
            mid = link.publish(msg.topic, msg.payload)
            if mid is None:
                self._backlog.appendleft(row)
                break
            self._inflight[mid] = msg
            self._tokens -= 1.0
            self.stats.sent_backlog += 1
        self._maybe_delete(now)

    def _next_backlog_row(self) -> OutboxRow | None:
        busy = {m.seq for m in self._inflight.values()}
        while True:
            if not self._backlog:
                rows = table.rows_after(
                    self.store, self._cursor_id, self._floor, BACKLOG_BATCH
                )
                self._backlog_done = not rows
                if not rows:
                    return self._resplit.popleft() if self._resplit else None
                self._cursor_id = rows[-1].id
                self._backlog.extend(rows)
            row = self._backlog.popleft()
            if row.seq not in self._acked and row.seq not in busy:
                return row

    def _split_stored(self, row: OutboxRow) -> None:
        """Replace a stored message above the limit by its parts (none if it cannot be split)."""
        data = json.loads(row.payload)
        envelope = self.identity.envelope(0, 0.0)
        body = {k: v for k, v in data.items() if k not in envelope}
        leaf = row.topic.rpartition("/")[2]
        parts = self._parts(row.ts, row.topic, body, SPLIT_KEYS.get(leaf))
        new = []
        for part in parts:
            seq = self.seq.take()
            payload = dumps(self.identity.envelope(seq, row.ts, **part))
            new.append((row.ts, row.topic, row.priority, seq, payload))
        self._resplit.extend(table.replace_row(self.store, row.id, new))
        self.stats.queued += len(new)
        if not new:
            return  # dropped: _parts counted and logged it
        log.info(
            "%s: stored message seq %d of %d bytes is above the broker's limit;"
            " replaced by %d parts",
            row.topic,
            row.seq,
            len(row.payload),
            len(new),
        )

    def _drop_live(self) -> None:
        for queue in self._live:
            queue.clear()

    def _take_acks(self) -> None:
        for mid in self.link.take_acks():
            msg = self._inflight.pop(mid, None)
            if msg is None:
                continue
            self.stats.acked += 1
            self._acked[msg.seq] = -1 if msg.historical else msg.mark

    # -- deleting and bounding -------------------------------------------------

    def _maybe_delete(self, now: float) -> None:
        if now - self._last_delete < self.config.ack_delete_interval_s:
            return
        self.flush_acked(now)

    def flush_acked(self, now: float) -> int:
        """Delete the committed rows the broker acknowledged, in one transaction."""
        self._last_delete = now
        commits = self.store.stats.commits
        done = [s for s, mark in self._acked.items() if mark < commits]
        if not done:
            return 0
        n = table.delete_seqs(self.store, done)
        for s in done:
            del self._acked[s]
        self.stats.deleted += n
        self.stats.delete_commits += 1
        return n

    def enforce_caps(self, now: float) -> dict[str, Counter[str]]:
        """Apply the size and age bounds if their check is due; return what was dropped."""
        last = self._last_caps
        if last is not None and now - last < self.config.outbox_check_interval_s:
            return {}
        self._last_caps = now
        dropped = table.enforce_caps(
            self.store,
            now,
            int(self.config.outbox_max_mb * 1e6),
            self.config.outbox_max_age_days * 86400.0,
        )
        for reason, counts in dropped.items():
            n = sum(counts.values())
            self.stats.dropped[reason] += n
            log.warning(
                "outbox: dropped %d messages (%s bound): %s", n, reason, dict(counts)
            )
        return dropped

    def take_dropped(self) -> int:
        """Messages dropped as too large since the last call."""
        n = self.stats.dropped.pop("too_large", 0)
        if n:
            self.stats.dropped["too_large_reported"] += n
        return n

    def size(self) -> tuple[int, int]:
        """Rows and estimated bytes in the outbox table (committed rows only)."""
        return table.size(self.store)


HISTORICAL_FALSE = b'"historical":false'


def _historical(row: OutboxRow) -> Message:
    # The envelope's keys come before the body's and a quote inside a JSON
    # string is escaped, so the first match is the envelope's own flag: the
    # payload is marked without parsing it again (a summary is ~5 kB).
    payload = bytes(row.payload)
    head, found, tail = payload.partition(HISTORICAL_FALSE)
    if found:
        payload = head + b'"historical":true' + tail
    else:
        data = json.loads(payload)
        data["historical"] = True
        payload = dumps(data)
    return Message(row.seq, row.topic, row.priority, payload, -1, historical=True)
