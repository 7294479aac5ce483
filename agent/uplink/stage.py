"""The uplink stage: summaries, events and command results out; commands in.

Each cycle it turns the frame's events into event messages,
adds the frame to the open summary window, runs the commands that arrived,
and lets the outbox send what it may. Nothing here waits on the network:
the MQTT link runs in paho's own thread.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

from agent import __version__
from agent.pipeline import Frame
from agent.stages import StageContext
from agent.store.store import Event
from agent.twin.forecast import Forecaster
from agent.uplink.commands import ActuatorOverride, Commands, OverrideSink
from agent.uplink.config_switch import ConfigSwitch
from agent.uplink.envelope import (
    PRIORITY_EVENT,
    PRIORITY_RESULT,
    PRIORITY_SUMMARY,
    Identity,
    Sequence,
    dumps,
)
from agent.uplink.link import MqttLink
from agent.uplink.outbox import Outbox
from agent.uplink.summaries import Summarizer

log = logging.getLogger(__name__)


def _read_key(path: str) -> bytes | None:
    if not path:
        return None
    return Path(path).read_bytes().strip()


class UplinkStage:
    """Sync with the broker: store and forward upstream, commands downstream."""

    name = "uplink"

    def __init__(
        self,
        ctx: StageContext,
        *,
        overrides: OverrideSink | None = None,
        forecaster: Forecaster | None = None,
        config_switch: ConfigSwitch | None = None,
    ) -> None:
        cfg = ctx.config.uplink
        self.ctx = ctx
        self.config = cfg
        self.identity = Identity(
            ctx.config.site.site, ctx.config.site.device, ctx.boot_id, cfg.topic_prefix
        )
        self.seq = Sequence(ctx.store)
        self.summarizer = Summarizer(cfg.window_s)
        now = ctx.clock.now()

        # The will: retained, so a subscriber that comes later sees the device offline.
        will = dumps(
            self.identity.envelope(
                self.seq.take(), now, state="offline", reason="connection lost"
            )
        )
        self.link = MqttLink(
            cfg,
            client_id=cfg.client_id
            or f"edgetwin-{self.identity.site}-{self.identity.device}",
            will_topic=self.identity.topic("status"),
            will_payload=will,
            subscribe=self.identity.topic("cmd/+"),
        )
        self.outbox = Outbox(
            ctx.store, self.link, self.identity, cfg, ctx.clock, seq=self.seq
        )

        self._default_override: ActuatorOverride | None = None
        if overrides is None:
            self._default_override = ActuatorOverride(ctx.actuators, ctx.clock)
            overrides = self._default_override
        source = Path(ctx.config.source)
        if config_switch is None and source.is_file():
            config_switch = ConfigSwitch(source, trial_s=cfg.config_trial_s)
        self.config_switch = config_switch
        self.commands = Commands(
            store=ctx.store,
            clock=ctx.clock,
            key=_read_key(cfg.command_key_file),
            max_ttl_s=cfg.command_max_ttl_s,
            override_max_s=cfg.override_max_s,
            overrides=overrides,
            forecaster=forecaster,
            config_get=config_switch.get if config_switch else None,
            config_set=config_switch.stage if config_switch else None,
        )
        # A pushed configuration on trial is confirmed by the first birth
        # message; until then each cycle checks the trial's deadline.
        self._on_trial = config_switch is not None and config_switch.on_trial
        self._birth_generation = 0
        self.link.start()

    # -- the cycle ----------------------------------------------------------------

    def process(self, frame: Frame) -> None:
        now = frame.ts
        if self.link.connected and self.link.generation != self._birth_generation:
            self._birth_generation = self.link.generation
            self._birth()
        elif self._on_trial and self.config_switch is not None:
            self._on_trial = not self.config_switch.check()

        # Each actuator write comes with its explained ``actuation`` event
        # from whoever made it (the controller, the shutdown); the frame's
        # actuations feed the summary only.
        for e in frame.events:
            self._event(e)
        body = self.summarizer.add(frame)
        if body is not None:
            self._summary(now, body)

        for topic, payload in self.link.take_messages():
            self._command(topic, payload)
        if self._default_override is not None:
            self._default_override.tick(now)

        self._report_drops(now)
        self.outbox.pump(now)

    def _birth(self) -> None:
        self.outbox.publish_direct(
            "status",
            {
                "state": "online",
                "version": __version__,
                "config_hash": self.ctx.config.text_hash,
            },
            retain=True,
        )
        if self.config_switch is not None and self.config_switch.on_trial:
            self.config_switch.confirm()
        self._on_trial = False

    def _event(self, e: Event) -> None:
        body = {
            "kind": e.kind,
            "severity": e.severity,
            "source": e.source,
            "message": e.message,
            "event_ts": e.ts,
            "data": e.data,
        }
        self.outbox.add(e.ts, "event", PRIORITY_EVENT, body)

    def _summary(self, now: float, body: dict[str, Any]) -> None:
        rows, size = self.outbox.size()
        ls, os_ = self.link.stats, self.outbox.stats
        body["health"] = {
            "link": {
                "connected": self.link.connected,
                "connects": ls.connects,
                "disconnects": ls.disconnects,
            },
            "outbox": {
                "rows": rows,
                "bytes": size,
                "inflight": self.outbox.inflight,
                "dropped": sum(os_.dropped.values()),
            },
            "commands": dict(self.commands.counts),
        }
        self.outbox.add(now, "summary", PRIORITY_SUMMARY, body, split_key="points")

    def _command(self, topic: str, payload: bytes) -> None:
        prefix = self.identity.topic("cmd/")
        name = topic[len(prefix) :] if topic.startswith(prefix) else topic
        if "/" in name:
            return  # our own results come back on the wildcard only if subscribed wider
        outcome = self.commands.handle(name, payload)
        self.outbox.add(
            self.ctx.clock.now(), f"cmd/{name}/result", PRIORITY_RESULT, outcome.body()
        )

    def _report_drops(self, now: float) -> None:
        dropped: dict[str, Counter[str]] = dict(self.outbox.enforce_caps(now))
        too_large = self.outbox.take_dropped()
        if too_large:
            dropped["too_large"] = Counter({"message": too_large})
        for reason, counts in dropped.items():
            n = sum(counts.values())
            e = Event(
                now,
                "data_dropped",
                f"dropped {n} upstream messages ({reason})",
                severity="warning",
                source="uplink",
                data={"messages": n, "reason": reason, "by_topic": dict(counts)},
            )
            self.ctx.store.add_event(e)
            self._event(e)

    # -- stopping -----------------------------------------------------------------

    def close(self) -> None:
        """Queue the last window, send what is pending, say offline, disconnect.

        While connected it waits, up to ``stop_flush_s`` of real time, for
        the broker to acknowledge what is queued, so that a clean stop
        leaves nothing to send again as history at the next start.
        """
        now = self.ctx.clock.now()
        body = self.summarizer.close(end=now)
        if body is not None:
            self._summary(now, body)
        try:
            self.ctx.store.commit()
            self._drain(now)
        finally:
            offline = self.outbox.status_payload(
                {"state": "offline", "reason": "agent stopped"}
            )
            self.link.close(self.identity.topic("status"), offline)

    def _drain(self, now: float) -> None:
        """Publish and take acknowledgements until the outbox is empty or time is up."""
        start = time.monotonic()
        deadline = start + self.config.stop_flush_s
        link = self.link
        while True:
            # The drain runs in real time: the agent's clock has stopped.
            t = now + (time.monotonic() - start)
            self.outbox.pump(t)
            self.outbox.flush_acked(t)
            left_s = deadline - time.monotonic()
            if self.outbox.size()[0] == 0 or not link.connected or left_s <= 0:
                break
            acked = link.stats.acked
            link.wait_for(
                lambda acked=acked: link.stats.acked > acked or not link.connected,
                min(left_s, 0.1),
            )
        rows = self.outbox.size()[0]
        if rows:
            log.info("uplink: %d messages left in the outbox at stop", rows)
