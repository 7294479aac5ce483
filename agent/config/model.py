"""Configuration of the anomaly model: its frozen dataclass and its parser."""

from __future__ import annotations

from dataclasses import dataclass

from agent.config.checker import Table


@dataclass(frozen=True)
class ModelConfig:
    """The anomaly model; ``enabled = false`` scores nothing.

    ``bundle`` is a bundle directory ("" is the demo plant's bundle shipped
    with edgetwin). For ``learn_s`` seconds after start the detector learns
    normalisation and threshold; the threshold is ``margin`` times the
    highest learning score. ``ewma_alpha`` smooths the score; ``onset_n``
    rows above the threshold start an anomaly, ``clear_n`` rows below end it.
    ``robust_norm`` learns the normalisation as median and median absolute
    deviation instead of mean and standard deviation.
    """

    enabled: bool = False
    bundle: str = ""
    learn_s: float = 3600.0
    margin: float = 3.0
    ewma_alpha: float = 0.2
    onset_n: int = 3
    clear_n: int = 10
    robust_norm: bool = False


def parse_model(t: Table) -> ModelConfig:
    d = ModelConfig()
    cfg = ModelConfig(
        enabled=t.bool("enabled", d.enabled),
        bundle=t.str("bundle", d.bundle),
        learn_s=t.number("learn_s", d.learn_s, min=0, max=30 * 86400, unit="s"),
        margin=t.number("margin", d.margin, min=1, max=100),
        ewma_alpha=t.number("ewma_alpha", d.ewma_alpha, min=0.001, max=1),
        onset_n=t.int("onset_n", d.onset_n, min=1, max=10_000),
        clear_n=t.int("clear_n", d.clear_n, min=1, max=10_000),
        robust_norm=t.bool("robust_norm", d.robust_norm),
    )
    t.finish()
    return cfg
