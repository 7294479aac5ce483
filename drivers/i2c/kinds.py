"""The I2C device kinds: ``bme280``, ``sht3x``, ``ads1115`` and ``ina219``.

Every kind takes ``bus`` (the N of ``/dev/i2c-N``, default 1) and
``address`` (default: the chip's usual one). With ``emulate = true`` the
device sits on an emulated bus instead, answering at the register level
with values from the simulated plant, so a site configuration can be tried
on a machine without I2C; ``signals`` may point a chip quantity at another
plant signal (see ``drivers.i2c.emu.plant``)::

    [[devices]]
    name = "cabinet_env"
    kind = "bme280"
    bus = 1
    address = 0x76
    mode = "forced"          # or "normal" (standby_ms between measurements)
    oversampling = 1         # 1, 2, 4, 8 or 16, for T, P and H
    retries = 2
    emulate = true

    [[points]]
    name = "cabinet_temp_c"
    device = "cabinet_env"
    quantity = "temperature"  # °C; "pressure" in Pa; "humidity" in %RH

The other kinds' own keys: ``sht3x``: ``repeatability`` (high, medium,
low), points ``quantity`` temperature (°C) or humidity (%RH). ``ads1115``:
``data_rate_sps``; points ``channel`` (a0..a3, or a0-a1, a0-a3, a1-a3,
a2-a3) and ``full_scale_v`` (6.144, 4.096, 2.048, 1.024, 0.512, 0.256),
in volts. ``ina219``: ``shunt_ohm``, ``max_current_a``, ``bus_range_v`` (16
or 32); points ``quantity`` bus_voltage (V), shunt_voltage (V), current (A)
or power (W).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.config.checker import Table
from agent.config.schema import DeviceConfig
from agent.errors import DeviceError
from agent.reading import Sample
from drivers.base import DriverContext
from drivers.i2c import ads1115, bme280, ina219, sht3x
from drivers.i2c.bus import I2CBus, open_bus
from drivers.i2c.device import I2CDevice
from drivers.i2c.emu.bus import EmulatedBus
from drivers.i2c.emu.plant import DEFAULT_SIGNALS, make_chip, plant_source
from drivers.sim.driver import shared_plant
from drivers.sim.plant import SIGNALS


@dataclass(frozen=True)
class I2COptions:
    """Settings every I2C device has, plus the chip's own in ``chip``."""

    bus: int = 1
    address: int = 0
    emulate: bool = False
    signals: tuple[tuple[str, str], ...] = ()
    chip: Any = None


@dataclass(frozen=True)
class Ina219Options:
    """The INA219's board: its shunt and the largest current expected."""

    shunt_ohm: float = 0.1
    max_current_a: float = 3.2
    bus_range_v: int = 32


@dataclass(frozen=True)
class Ads1115Options:
    """The ADS1115's data rate, in samples per second."""

    data_rate_sps: int = 128


def _hex_list(addresses: Sequence[int]) -> str:
    return ", ".join(f"0x{a:02x}" for a in addresses)


@dataclass
class I2CKind:
    """A chip kind; subclasses say how to parse settings and read points."""

    name: str
    chip_name: str
    addresses: tuple[int, ...]
    quantities: tuple[str, ...] = ()
    min_period_s: float = 0.1

    def parse_device(self, t: Table) -> I2COptions:
        bus = t.int("bus", 1, min=0, max=255)
        address = t.int("address", self.addresses[0], min=0, max=0x7F)
        if address not in self.addresses:
            t.error(
                "address",
                f"0x{address:02x} is not a {self.chip_name} address "
                f"(allowed: {_hex_list(self.addresses)})",
            )
        emulate = t.bool("emulate")
        sig = t.table("signals")
        signals = []
        for key in DEFAULT_SIGNALS[self.name]:
            if sig.has(key):
                signals.append((key, sig.str(key, choices=SIGNALS)))
        sig.finish()
        chip = self.parse_chip(t)
        return I2COptions(bus, address, emulate, tuple(signals), chip)

    def parse_chip(self, t: Table) -> Any:
        """Read the chip's own device keys."""
        return None

    def parse_point(self, t: Table, device: DeviceConfig) -> Any:
        return t.str("quantity", required=True, choices=self.quantities)

    def parse_actuator(self, t: Table, device: DeviceConfig) -> None:
        t.error("device", f"{device.name!r} is a {self.name} sensor; it has no outputs")

    def make_driver(self, bus: I2CBus, options: I2COptions, ctx: DriverContext) -> Any:
        """Return the chip driver on ``bus``."""
        raise NotImplementedError

    def reader(self) -> Callable[[Any, Sequence[Any]], list[Sample]]:
        """Return the function that reads point addresses from the driver."""
        return _pick

    def open(self, device: DeviceConfig, ctx: DriverContext) -> I2CDevice:
        options: I2COptions = device.options
        bus: I2CBus
        if options.emulate:
            try:
                bus, on_close = self._emulated(options, ctx)
            except ValueError as exc:
                raise DeviceError(f"device {device.name!r}: {exc}") from None
        else:
            real = open_bus(options.bus)
            bus, on_close = real, real.close
        return I2CDevice(
            name=device.name,
            chip=self.make_driver(bus, options, ctx),
            reader=self.reader(),
            bus=bus,
            retries=device.retries,
            on_close=on_close,
        )

    def _emulated(
        self, options: I2COptions, ctx: DriverContext
    ) -> tuple[EmulatedBus, Callable[[], None]]:
        bus: EmulatedBus = ctx.get_shared(f"i2c-emulated-{options.bus}", EmulatedBus)
        plant = shared_plant(ctx)
        source = plant_source(plant, ctx.clock, self.name, dict(options.signals))
        shunt_ohm = getattr(options.chip, "shunt_ohm", 0.1)
        bus.attach(options.address, make_chip(self.name, source, ctx.clock, shunt_ohm))
        return bus, lambda: bus.detach(options.address)


def _pick(driver: Any, quantities: Sequence[Any]) -> list[Sample]:
    """Measure once and return the samples of the quantities asked for."""
    samples = driver.measure()
    return [samples[q] for q in quantities]


class Bme280Kind(I2CKind):
    """The ``bme280`` kind."""

    def parse_chip(self, t: Table) -> bme280.Bme280Settings:
        mode = t.str("mode", "forced", choices=("forced", "normal"))
        osr = t.int("oversampling", 1, min=1, max=16)
        if osr not in (1, 2, 4, 8, 16):
            t.error("oversampling", f"{osr} is not one of 1, 2, 4, 8, 16")
            osr = 1
        standby_ms = t.number("standby_ms", 1000.0, min=0.5, max=1000, unit="ms")
        if standby_ms not in bme280.STANDBY_CODES:
            allowed = ", ".join(f"{v:g}" for v in sorted(bme280.STANDBY_CODES))
            t.error("standby_ms", f"{standby_ms:g} is not one of {allowed}")
            standby_ms = 1000.0
        return bme280.Bme280Settings(
            mode="normal" if mode == "normal" else "forced",
            oversampling_t=osr,
            oversampling_p=osr,
            oversampling_h=osr,
            standby_ms=float(standby_ms),
        )

    def make_driver(
        self, bus: I2CBus, options: I2COptions, ctx: DriverContext
    ) -> bme280.Bme280:
        return bme280.Bme280(
            bus, options.address, clock=ctx.clock, settings=options.chip
        )


class Sht3xKind(I2CKind):
    """The ``sht3x`` kind."""

    def parse_chip(self, t: Table) -> sht3x.Repeatability:
        rep = t.str("repeatability", "high", choices=tuple(sht3x.SINGLE_SHOT))
        return "low" if rep == "low" else "medium" if rep == "medium" else "high"

    def make_driver(
        self, bus: I2CBus, options: I2COptions, ctx: DriverContext
    ) -> sht3x.Sht3x:
        return sht3x.Sht3x(
            bus, options.address, clock=ctx.clock, repeatability=options.chip
        )


class Ads1115Kind(I2CKind):
    """The ``ads1115`` kind: points name a channel and a full-scale range."""

    def parse_chip(self, t: Table) -> Ads1115Options:
        rate = t.int("data_rate_sps", 128, min=8, max=860)
        if rate not in ads1115.DATA_RATES_SPS:
            allowed = ", ".join(map(str, ads1115.DATA_RATES_SPS))
            t.error("data_rate_sps", f"{rate} is not one of {allowed}")
            rate = 128
        return Ads1115Options(rate)

    def parse_point(self, t: Table, device: DeviceConfig) -> ads1115.AdsInput:
        channel = t.str("channel", "a0", required=True, choices=ads1115.INPUTS)
        fs = t.number("full_scale_v", 4.096, min=0.256, max=6.144, unit="V")
        if fs not in ads1115.GAINS_V:
            allowed = ", ".join(f"{v:g}" for v in ads1115.GAINS_V)
            t.error("full_scale_v", f"{fs:g} is not one of {allowed} (V)")
            fs = 4.096
        return ads1115.AdsInput(channel or "a0", float(fs))

    def make_driver(
        self, bus: I2CBus, options: I2COptions, ctx: DriverContext
    ) -> ads1115.Ads1115:
        return ads1115.Ads1115(
            bus,
            options.address,
            clock=ctx.clock,
            data_rate_sps=options.chip.data_rate_sps,
        )

    def reader(self) -> Callable[[Any, Sequence[Any]], list[Sample]]:
        return _convert


def _convert(
    driver: ads1115.Ads1115, inputs: Sequence[ads1115.AdsInput]
) -> list[Sample]:
    return [Sample(driver.convert(ain)) for ain in inputs]


class Ina219Kind(I2CKind):
    """The ``ina219`` kind: the calibration follows from the shunt and the current."""

    def parse_chip(self, t: Table) -> Ina219Options:
        shunt = t.number("shunt_ohm", 0.1, min=0.0001, max=100, unit="Ω")
        max_a = t.number("max_current_a", 3.2, min=0.0001, max=100, unit="A")
        bus_range_v = t.int("bus_range_v", 32, min=16, max=32)
        if bus_range_v not in (16, 32):
            t.error("bus_range_v", f"{bus_range_v} is not one of 16, 32")
        try:
            ina219.calibration(shunt, max_a)
            ina219.shunt_range_v(shunt, max_a)
        except ValueError as exc:
            t.error("max_current_a", str(exc))
            shunt, max_a = 0.1, 3.2
        return Ina219Options(float(shunt), float(max_a), bus_range_v)

    def make_driver(
        self, bus: I2CBus, options: I2COptions, ctx: DriverContext
    ) -> ina219.Ina219:
        o: Ina219Options = options.chip
        return ina219.Ina219(
            bus,
            options.address,
            clock=ctx.clock,
            shunt_ohm=o.shunt_ohm,
            max_current_a=o.max_current_a,
            bus_range_v=o.bus_range_v,
        )

    def reader(self) -> Callable[[Any, Sequence[Any]], list[Sample]]:
        return _ina_read


def _ina_read(driver: ina219.Ina219, quantities: Sequence[str]) -> list[Sample]:
    samples = driver.measure(tuple(quantities))
    return [samples[q] for q in quantities]


BME280_KIND = Bme280Kind("bme280", "BME280", bme280.ADDRESSES, bme280.QUANTITIES)
SHT3X_KIND = Sht3xKind("sht3x", "SHT3x", sht3x.ADDRESSES, sht3x.QUANTITIES)
ADS1115_KIND = Ads1115Kind("ads1115", "ADS1115", ads1115.ADDRESSES, min_period_s=0.05)
INA219_KIND = Ina219Kind("ina219", "INA219", ina219.ADDRESSES, ina219.QUANTITIES)
I2C_KINDS = (BME280_KIND, SHT3X_KIND, ADS1115_KIND, INA219_KIND)
