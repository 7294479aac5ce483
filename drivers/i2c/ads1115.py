"""The ADS1115 driver: a 16-bit, 4-channel ADC from Texas Instruments.

The chip answers at 0x48..0x4B (ADDR to GND, VDD, SDA, SCL) and has no
identity register; after power-up its config register reads 0x8583, which
is how a bus scan recognises it. Each input is converted in single-shot
mode: one write of the config register (start bit, input multiplexer, gain,
data rate), a wait of one conversion period (1 / data rate, plus the 10 %
the oscillator may be slow), a read of the config register until its OS bit
says the conversion is done, then one read of the conversion register. So
a value never belongs to the channel converted before.

Results are signed 16-bit: full scale ``FS`` (6.144 V down to 0.256 V)
maps to 0x7FFF, and ``-FS`` to 0x8000; one LSB is ``FS / 32768``.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.clock import Clock
from agent.errors import DeviceError
from drivers.i2c.bus import I2CBus

ADDRESSES = (0x48, 0x49, 0x4A, 0x4B)
REG_CONVERSION = 0x00
REG_CONFIG = 0x01
RESET_CONFIG = 0x8583

OS_BIT = 0x8000
MODE_SINGLE = 0x0100
COMP_DISABLED = 0x0003

# Full-scale range in volts -> PGA code.
GAINS_V = {6.144: 0, 4.096: 1, 2.048: 2, 1.024: 3, 0.512: 4, 0.256: 5}
DATA_RATES_SPS = (8, 16, 32, 64, 128, 250, 475, 860)

# Input names -> MUX code: single-ended against GND, or differential.
INPUTS = {
    "a0-a1": 0b000,
    "a0-a3": 0b001,
    "a1-a3": 0b010,
    "a2-a3": 0b011,
    "a0": 0b100,
    "a1": 0b101,
    "a2": 0b110,
    "a3": 0b111,
}
MAX_POLLS = 5


@dataclass(frozen=True)
class AdsInput:
    """One conversion: an input (``a0`` or ``a0-a1``) and a full-scale range in V."""

    input: str = "a0"
    full_scale_v: float = 2.048


def to_volts(raw: int, full_scale_v: float) -> float:
    """Convert a conversion register word (unsigned 16-bit) to volts."""
    signed = raw - 0x10000 if raw & 0x8000 else raw
    return signed * full_scale_v / 32768.0


def config_word(ain: AdsInput, data_rate_sps: int) -> int:
    """Return the config word that starts a single-shot conversion of ``ain``."""
    return (
        OS_BIT
        | INPUTS[ain.input] << 12
        | GAINS_V[ain.full_scale_v] << 9
        | MODE_SINGLE
        | DATA_RATES_SPS.index(data_rate_sps) << 5
        | COMP_DISABLED
    )


class Ads1115:
    """An ADS1115 on ``bus`` at ``address``; waits go through ``clock``."""

    chip = "ADS1115"

    def __init__(
        self,
        bus: I2CBus,
        address: int = 0x48,
        *,
        clock: Clock,
        data_rate_sps: int = 128,
    ) -> None:
        if data_rate_sps not in DATA_RATES_SPS:
            raise ValueError(
                f"ADS1115 data rate {data_rate_sps} SPS is not one of "
                f"{', '.join(map(str, DATA_RATES_SPS))}"
            )
        self.bus = bus
        self.address = address
        self.clock = clock
        self.data_rate_sps = data_rate_sps

    def setup(self) -> None:
        """Nothing to configure: every conversion writes its own config word."""

    def convert(self, ain: AdsInput) -> float:
        """Convert one input and return volts.

        Raises ``OSError`` on a bus error and ``DeviceError`` when the
        conversion does not finish within a few conversion periods.
        """
        word = config_word(ain, self.data_rate_sps)
        self.bus.write_i2c_block_data(
            self.address, REG_CONFIG, [word >> 8, word & 0xFF]
        )
        period_s = 1.0 / self.data_rate_sps
        self.clock.sleep_until(self.clock.now() + period_s * 1.1)

        # The OS bit reads 1 again once the conversion is done.
        for _ in range(MAX_POLLS):
            hi, _lo = self.bus.read_i2c_block_data(self.address, REG_CONFIG, 2)
            if hi & 0x80:
                break
            self.clock.sleep_until(self.clock.now() + period_s * 0.1)
        else:
            raise DeviceError(
                f"ADS1115 at 0x{self.address:02x}: conversion of {ain.input} not "
                f"done after {MAX_POLLS} polls"
            )
        hi, lo = self.bus.read_i2c_block_data(self.address, REG_CONVERSION, 2)
        return to_volts((hi << 8) | lo, ain.full_scale_v)
