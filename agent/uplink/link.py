"""The MQTT connection: paho-mqtt in its own network thread, never blocking the cycle.

``MqttLink`` connects, keeps alive and reconnects with capped exponential
backoff and jitter; a will marks the device offline. ``publish`` hands a
QoS 1 message to paho and returns at once; paho keeps it, and resends it
after a reconnect, until the broker's PUBACK, which ``take_acks`` reports.
Commands that arrive are queued for ``take_messages``. Everything the
network thread learns is passed through thread-safe queues; the agent's
thread does the rest.
"""

from __future__ import annotations

import contextlib
import logging
import random
import ssl
import sys
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from agent.config.uplink import UplinkConfig
from agent.errors import EdgetwinError

log = logging.getLogger(__name__)


class LinkError(EdgetwinError, OSError):
    """The MQTT link cannot be set up (bad TLS files, unreadable secret)."""


@dataclass
class LinkStats:
    """What the link counted; read by the summaries' health section."""

    connects: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    published: int = 0
    acked: int = 0
    received: int = 0


def backoff_s(attempt: int, min_s: float, max_s: float, rng: random.Random) -> float:
    """Delay before reconnect ``attempt`` (0-based): doubling from ``min_s``, capped, jittered.

    The jitter draws the delay from the upper half of the capped value, so
    that many devices that lost the broker together do not return together.
    """
    capped = min(max_s, min_s * (2.0 ** min(attempt, 30)))
    return rng.uniform(capped / 2.0, capped) if capped > min_s else capped


def connect_error(exc: BaseException) -> str:
    """One line saying why a connection attempt failed."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: server certificate rejected: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    return str(exc) or type(exc).__name__


class MqttLink:
    """One MQTT client with a stable id, a will, TLS and credentials.

    Use as a context manager or call ``close()``. Raises ``LinkError`` when
    the TLS files or the password file cannot be read.
    """

    def __init__(
        self,
        config: UplinkConfig,
        *,
        client_id: str,
        will_topic: str,
        will_payload: bytes,
        subscribe: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.stats = LinkStats()
        self.subscribe_topic = subscribe
        self.last_error = ""
        self.max_packet_bytes: int | None = None
        self.changed = threading.Condition()
        self._rng = rng or random.Random()
        self._acks: deque[int] = deque()
        self._messages: deque[tuple[str, bytes]] = deque()
        self._connected = False
        self._generation = 0
        self._attempt = 0
        self._down_logged = False
        self._started = False
        self._v5 = config.protocol == "5"

        proto = MQTTProtocolVersion.MQTTv5 if self._v5 else MQTTProtocolVersion.MQTTv311
        kwargs: dict[str, Any] = {}
        if not self._v5:
            kwargs["clean_session"] = True
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=proto, **kwargs
        )
        client.max_inflight_messages_set(config.inflight_max)
        client.will_set(will_topic, will_payload, qos=1, retain=True)
        if config.username:
            client.username_pw_set(config.username, self._password())
        if config.tls:
            self._set_tls(client)
        self._set_delay(client, config.reconnect_min_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_log = self._on_log
        self.client = client

    # -- set-up -----------------------------------------------------------------

    def _password(self) -> str | None:
        path = self.config.password_file
        if not path:
            return None
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise LinkError(
                f"uplink.password_file: {path}: cannot read: {exc}"
            ) from None

    def _set_tls(self, client: mqtt.Client) -> None:
        cfg = self.config
        try:
            ctx = ssl.create_default_context(
                ssl.Purpose.SERVER_AUTH, cafile=cfg.ca_file
            )
            if cfg.cert_file:
                ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise LinkError(f"uplink TLS files: {exc}") from None
        # check_hostname and CERT_REQUIRED are the defaults of this context.
        client.tls_set_context(ctx)

    def _set_delay(self, client: mqtt.Client, delay_s: float) -> None:
        # paho doubles its delay up to the maximum; with both set to our own
        # jittered value it waits exactly that long.
        client.reconnect_delay_set(min_delay=delay_s, max_delay=delay_s)  # type: ignore[arg-type]  # paho accepts float delays

    # -- lifetime ---------------------------------------------------------------

    def start(self) -> None:
        """Start the network thread; it connects, and reconnects, on its own."""
        if self._started:
            return
        self._started = True
        keepalive = int(self.config.keepalive_s)
        self.client.connect_async(self.config.host, self.config.port, keepalive)
        self.client.loop_start()

    def close(
        self, last_topic: str | None = None, last_payload: bytes | None = None
    ) -> None:
        """Publish a last retained message if connected, disconnect, stop the thread."""
        if not self._started:
            return
        self._started = False
        if last_topic and last_payload is not None and self._connected:
            info = self.client.publish(last_topic, last_payload, qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2.0)
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> MqttLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state ------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def generation(self) -> int:
        """How many times the link has connected; changes on every reconnect."""
        return self._generation

    def wait_for(self, predicate: Any, timeout_s: float) -> bool:
        """Wait (bounded, in real time) until ``predicate()`` holds; for tools and tests."""
        with self.changed:
            return bool(self.changed.wait_for(predicate, timeout=timeout_s))

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    # -- traffic ----------------------------------------------------------------

    def publish(
        self, topic: str, payload: bytes, *, retain: bool = False
    ) -> int | None:
        """Hand a QoS 1 message to paho; return its message id, None if paho refused it."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            return None
        self.stats.published += 1
        return int(info.mid)

    def take_acks(self) -> list[int]:
        """Message ids the broker acknowledged since the last call."""
        out = []
        while self._acks:
            out.append(self._acks.popleft())
        return out

    def take_messages(self) -> list[tuple[str, bytes]]:
        """Messages received on the subscription since the last call."""
        out = []
        while self._messages:
            out.append(self._messages.popleft())
        return out

    # -- callbacks (paho's thread) ----------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            self.last_error = f"broker refused the connection: {reason}"
            self.stats.connect_failures += 1
            self._log_down(str(reason), refused=True)
            self._schedule_retry()
            self._notify()
            return
        if self._v5 and props is not None:
            self.max_packet_bytes = getattr(props, "MaximumPacketSize", None)
        if self.subscribe_topic:
            client.subscribe(self.subscribe_topic, qos=1)
        if self._down_logged:
            log.warning(
                "MQTT broker %s:%s is back after %d failed attempts",
                self.config.host,
                self.config.port,
                self._attempt,
            )
        else:
            log.info(
                "connected to MQTT broker %s:%s", self.config.host, self.config.port
            )
        self._down_logged = False
        self._attempt = 0
        self._set_delay(client, self.config.reconnect_min_s)
        self.stats.connects += 1
        self._generation += 1
        self._connected = True
        self._notify()

    def _on_disconnect(
        self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any
    ) -> None:
        was = self._connected
        self._connected = False
        if was and self._started:
            self.stats.disconnects += 1
            self._log_down(f"connection lost ({reason})")
        self._schedule_retry()
        self._notify()

    def _on_connect_fail(self, client: mqtt.Client, _u: Any) -> None:
        # paho calls this from inside its ``except OSError`` around the
        # connect: the exception in flight says why (refused, TLS, DNS).
        exc = sys.exc_info()[1]
        if exc is not None:
            self.last_error = connect_error(exc)
        self.stats.connect_failures += 1
        self._log_down(self.last_error or "cannot connect")
        self._schedule_retry()
        self._notify()

    def _on_log(self, _c: mqtt.Client, _u: Any, level: int, text: str) -> None:
        if level >= mqtt.MQTT_LOG_WARNING or "failed" in text.lower():
            self.last_error = text

    def _log_down(self, why: str, *, refused: bool = False) -> None:
        # Once per outage: a refusal (bad credentials) is retried like an outage.
        if not self._down_logged:
            self._down_logged = True
            log.warning(
                "MQTT broker %s:%s %s: %s; retrying with backoff",
                self.config.host,
                self.config.port,
                "refused the connection" if refused else "is unreachable",
                why,
            )

    def _schedule_retry(self) -> None:
        delay = backoff_s(
            self._attempt,
            self.config.reconnect_min_s,
            self.config.reconnect_max_s,
            self._rng,
        )
        self._attempt += 1
        self._set_delay(self.client, delay)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _r: Any, _p: Any) -> None:
        self.stats.acked += 1
        self._acks.append(mid)
        self._notify()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.stats.received += 1
        self._messages.append((msg.topic, bytes(msg.payload)))
        self._notify()
