"""The rig's material path from config/material.yaml, validated."""

from dataclasses import dataclass
import math

from spacemine_ros.core.config import ConfigError, load_yaml, require, require_mapping
from spacemine_ros.core.models.conveying import (
    BeltConveyor, HEMISPHERE, LaunchPattern, MagneticProperties, MagneticSeparator, ScrewConveyor)
from spacemine_ros.core.models.cutting import Blade
from spacemine_ros.core.ledger import GROUND

# Accounts whose material is on its way from the ground to a hopper.
IN_TRANSIT = ('drill', 'scraper', 'conveyor', 'separator')
REQUIRED_ACCOUNTS = ('drill', 'scraper', 'conveyor', 'separator', 'hopper_metal',
                     'hopper_silicate', 'furnace', 'products', 'slag', 'volatiles', 'lost')


@dataclass(frozen=True)
class TransferPoint:
    """Where material passes from one account to another (with a totalizer)."""

    name: str
    source: str
    destination: str
    open_fraction: float  # share of the escaping ejecta that finds a way out of the shroud
    exit_speed: float = math.nan  # m/s, fixed; nan: set by a drive's speed
    launch: LaunchPattern = HEMISPHERE  # the directions grains leave in (rig frame)


@dataclass(frozen=True)
class DriveLimits:
    """Torque model and limits of a conveyor motor."""

    max_speed: float  # rad/s
    no_load_torque: float = 0.0  # N m
    stall_torque: float = math.inf  # N m


@dataclass(frozen=True)
class MaterialConfig:
    """Everything the material models need."""

    blade: Blade
    speed_ratio: float
    accounts: tuple
    capacities: dict
    transfer_points: dict  # name -> TransferPoint
    conveyor: object  # ScrewConveyor or BeltConveyor
    conveyor_drive: DriveLimits
    separator: MagneticSeparator
    drum_radius: float
    separator_drive: DriveLimits
    feeder: ScrewConveyor
    feeder_drive: DriveLimits

    @property
    def hoppers(self):
        """Accounts that are hoppers fed by the separator."""
        return tuple(a for a in self.accounts if a.startswith('hopper_'))


def _number(entry, key, where, low=0.0, high=math.inf, default=None):
    value = entry.get(key, default) if default is not None else require(entry, key, where)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f'{where}.{key}: expected a number, got {value!r}') from None
    if not (math.isfinite(number) and low <= number <= high):
        raise ConfigError(f'{where}.{key}: {number!r} out of range [{low:g}, {high:g}]')
    return number


def _build(where, factory):
    try:
        return factory().validate()
    except (TypeError, ValueError) as error:
        raise ConfigError(f'{where}: {error}') from None


def _launch(entry, where):
    """Build a LaunchPattern from {pattern, axis, half_angle_deg} (none: hemisphere up)."""
    if entry is None:
        return HEMISPHERE
    if not isinstance(entry, dict):
        raise ConfigError(f'{where}: expected a mapping')
    axis = entry.get('axis', [0.0, 0.0, 1.0])
    if not isinstance(axis, list) or len(axis) != 3:
        raise ConfigError(f'{where}.axis: expected three numbers (rig frame)')
    return _build(where, lambda: LaunchPattern(
        kind=str(entry.get('pattern', 'hemisphere')),
        axis=tuple(_number({'v': v}, 'v', f'{where}.axis', low=-1e9) for v in axis),
        half_angle=math.radians(_number(entry, 'half_angle_deg', where, high=90.0,
                                        default=90.0))))


def material_config_from(data, where='material'):
    """Build a MaterialConfig from the parsed YAML mapping."""
    blade_entry = require(data, 'blade', where)
    blade = _build(f'{where}.blade', lambda: Blade(
        width=_number(blade_entry, 'width', f'{where}.blade'),
        rake_angle=math.radians(_number(blade_entry, 'rake_angle_deg', f'{where}.blade')),
        interface_friction_angle=math.radians(
            _number(blade_entry, 'interface_friction_angle_deg', f'{where}.blade')),
        adhesion=_number(blade_entry, 'adhesion', f'{where}.blade')))
    speed_ratio = _number(require(data, 'ejecta', where), 'speed_ratio', f'{where}.ejecta',
                          low=1e-3)

    accounts_entry = require_mapping(data, 'accounts', where, REQUIRED_ACCOUNTS)
    capacities = {}
    for name, entry in accounts_entry.items():
        if entry and 'capacity' in entry:
            capacities[name] = _number(entry, 'capacity', f'{where}.accounts.{name}', low=1e-9)
    accounts = tuple(accounts_entry)

    points = {}
    for name, entry in require(data, 'transfer_points', where).items():
        pwhere = f'{where}.transfer_points.{name}'
        source, destination = require(entry, 'from', pwhere), require(entry, 'to', pwhere)
        for label, account in (('from', source), ('to', destination)):
            if account not in accounts and not (label == 'from' and account == GROUND):
                raise ConfigError(f'{pwhere}.{label}: unknown account {account!r}')
        points[name] = TransferPoint(
            name, source, destination,
            open_fraction=_number(entry, 'open_fraction', pwhere, high=1.0),
            exit_speed=_number(entry, 'exit_speed', pwhere) if 'exit_speed' in entry
            else math.nan, launch=_launch(entry.get('launch'), f'{pwhere}.launch'))

    conveyor_entry = require(data, 'conveyor', where)
    cwhere = f'{where}.conveyor'
    kind = require(conveyor_entry, 'type', cwhere)
    if kind == 'screw':
        conveyor = _build(cwhere, lambda: ScrewConveyor(
            diameter=_number(conveyor_entry, 'diameter', cwhere),
            shaft_diameter=_number(conveyor_entry, 'shaft_diameter', cwhere),
            pitch=_number(conveyor_entry, 'pitch', cwhere),
            fill_factor=_number(conveyor_entry, 'fill_factor', cwhere),
            length=_number(conveyor_entry, 'length', cwhere),
            flight_friction=_number(conveyor_entry, 'flight_friction', cwhere, default=0.5),
            wall_friction=_number(conveyor_entry, 'wall_friction', cwhere, default=0.5)))
    elif kind == 'belt':
        conveyor = _build(cwhere, lambda: BeltConveyor(
            belt_width=_number(conveyor_entry, 'belt_width', cwhere),
            edge_distance=_number(conveyor_entry, 'edge_distance', cwhere),
            surcharge_angle=math.radians(_number(conveyor_entry, 'surcharge_angle_deg',
                                                 cwhere)),
            length=_number(conveyor_entry, 'length', cwhere)))
    else:
        raise ConfigError(f'{cwhere}.type: expected screw or belt, got {kind!r}')
    conveyor_drive = DriveLimits(
        max_speed=_number(conveyor_entry, 'max_speed', cwhere, low=1e-6),
        no_load_torque=_number(conveyor_entry, 'no_load_torque', cwhere),
        stall_torque=_number(conveyor_entry, 'stall_torque', cwhere, low=1e-6))

    separator_entry = require(data, 'separator', where)
    swhere = f'{where}.separator'
    table = require(separator_entry, 'species', swhere)
    if not isinstance(table, dict) or not table:
        raise ConfigError(f'{swhere}.species: expected a mapping of species to magnetic '
                          'properties')
    species = {}
    for name, entry in table.items():
        pwhere = f'{swhere}.species.{name}'
        if not isinstance(entry, dict):
            raise ConfigError(f'{pwhere}: expected a mapping')
        unknown = set(entry) - {'susceptibility', 'saturation_magnetization', 'saturation_field'}
        if unknown:
            raise ConfigError(f'{pwhere}: unknown keys {", ".join(sorted(unknown))}')
        species[str(name)] = MagneticProperties(
            susceptibility=_number(entry, 'susceptibility', pwhere, low=-1e-3, high=1.0,
                                   default=0.0),
            saturation_magnetization=_number(entry, 'saturation_magnetization', pwhere,
                                             high=1e4, default=0.0),
            saturation_field=_number(entry, 'saturation_field', pwhere, low=1e-6, high=10.0,
                                     default=0.3))
    separator = _build(swhere, lambda: MagneticSeparator(
        species=species, drum_radius=_number(separator_entry, 'drum_radius', swhere, low=1e-6),
        drum_width=_number(separator_entry, 'drum_width', swhere, low=1e-6),
        surface_field=_number(separator_entry, 'surface_field', swhere, low=1e-6, high=5.0),
        decay_length=_number(separator_entry, 'decay_length', swhere, low=1e-6),
        grain_size=_number(separator_entry, 'grain_size', swhere, low=1e-9),
        entrainment=_number(separator_entry, 'entrainment', swhere, high=1.0),
        idle_power=_number(separator_entry, 'idle_power', swhere)))

    feeder_entry = require(data, 'feeders', where)
    fwhere = f'{where}.feeders'
    feeder = _build(fwhere, lambda: ScrewConveyor(
        diameter=_number(feeder_entry, 'diameter', fwhere),
        shaft_diameter=_number(feeder_entry, 'shaft_diameter', fwhere),
        pitch=_number(feeder_entry, 'pitch', fwhere),
        fill_factor=_number(feeder_entry, 'fill_factor', fwhere),
        length=_number(feeder_entry, 'length', fwhere)))
    return MaterialConfig(
        blade=blade, speed_ratio=speed_ratio, accounts=accounts, capacities=capacities,
        transfer_points=points, conveyor=conveyor, conveyor_drive=conveyor_drive,
        separator=separator,
        drum_radius=_number(separator_entry, 'drum_radius', swhere, low=1e-6),
        separator_drive=DriveLimits(max_speed=_number(separator_entry, 'max_speed', swhere,
                                                      low=1e-6)),
        feeder=feeder,
        feeder_drive=DriveLimits(max_speed=_number(feeder_entry, 'max_speed', fwhere,
                                                   low=1e-6)))


def load_material_config(path):
    """Load and validate config/material.yaml."""
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: expected a mapping')
    return material_config_from(data, str(path))
