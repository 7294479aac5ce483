"""Build the cycle's stages from the configuration, in the design's order."""

from __future__ import annotations

from dataclasses import dataclass

from agent.actuators import Actuators
from agent.clock import Clock
from agent.config.schema import Config
from agent.pipeline import PassThrough, Stage
from agent.store.store import Store


@dataclass
class StageContext:
    """What a stage may hold on to: the configuration, clock, store and outputs."""

    config: Config
    clock: Clock
    store: Store
    actuators: Actuators
    boot_id: str


STAGE_ORDER = ("twin", "detector", "controller", "uplink", "insights")


def build_stages(ctx: StageContext) -> list[Stage]:
    """Return the stages in order; a stage that is configured off passes through.

    Each stage's module is imported only when the stage is on, so a board
    without, say, the MQTT client installed still runs the rest.
    """
    # NOTE: the imports below are deliberately lazy (PLC0415): an optional
    # stage costs neither start-up time nor memory when it is off.
    cfg = ctx.config
    stages: list[Stage] = [PassThrough(name) for name in STAGE_ORDER]
    twin = controller = None
    if cfg.twin.kind != "none":
        from agent.twin.stage import TwinStage  # noqa: PLC0415

        twin = stages[0] = TwinStage(cfg, ctx.clock, ctx.store, ctx.actuators)
    if cfg.model.enabled:
        from agent.detector.stage import DetectorStage  # noqa: PLC0415

        stages[1] = DetectorStage(cfg.model)
    if cfg.control.enabled:
        from agent.control.controller import build_controller  # noqa: PLC0415

        controller = stages[2] = build_controller(ctx, stages[:2])
    if cfg.uplink.enabled:
        from agent.uplink.stage import UplinkStage  # noqa: PLC0415

        # Upstream overrides go through the controller when there is one, so
        # they expire and are explained like a technician's; what-if
        # questions go to the twin.
        stages[3] = UplinkStage(ctx, overrides=controller, forecaster=twin)
    return stages
