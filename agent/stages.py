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
    """Return the stages in order; a stage that is configured off passes through."""
    stages: list[Stage] = [PassThrough(name) for name in STAGE_ORDER]
    if ctx.config.twin.kind != "none":
        from agent.twin.stage import TwinStage

        stages[STAGE_ORDER.index("twin")] = TwinStage(
            ctx.config, ctx.clock, ctx.store, ctx.actuators
        )
    if ctx.config.model.enabled:
        from agent.detector.stage import DetectorStage

        stages[STAGE_ORDER.index("detector")] = DetectorStage(ctx.config.model)
    if ctx.config.control.enabled:
        from agent.control.controller import build_controller

        i = STAGE_ORDER.index("controller")
        stages[i] = build_controller(ctx, stages[: i])
    return stages
