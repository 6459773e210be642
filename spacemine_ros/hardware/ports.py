"""Serial port discovery with pyserial: find a bus's adapter by what it says it is.

USB serial adapters get a different /dev/ttyUSB<n> on every boot and replug; their
serial number, vid:pid, description or USB location do not. A bus whose port is `auto`
is found by matching those fields (pyserial's ListPortInfo) against its `match`.
"""

import os

from serial.tools import list_ports

from spacemine_ros.hardware.modbus_device import DeviceError

MATCH_FIELDS = ('serial_number', 'vid', 'pid', 'description', 'manufacturer', 'product',
                'location', 'hwid')


def _matches(info, match):
    for key, wanted in match.items():
        if key not in MATCH_FIELDS:
            raise DeviceError(f'unknown port match field {key!r}; use '
                              f'{", ".join(MATCH_FIELDS)}')
        value = getattr(info, key, None)
        if key in ('vid', 'pid'):
            try:
                if value is None or int(str(wanted), 0) != value:
                    return False
            except ValueError:
                raise DeviceError(f'port match {key}: {wanted!r} is not a number') from None
        elif value is None or str(wanted).lower() not in str(value).lower():
            return False
    return True


def describe(info):
    """One line about a port, for listings and error messages."""
    ids = f'{info.vid:04x}:{info.pid:04x}' if info.vid is not None else '-'
    return (f'{info.device}  {ids}  serial={info.serial_number or "-"}  '
            f'{info.description or ""}').rstrip()


def find_port(match, ports=None):
    """Return the device path of the one port that matches; DeviceError otherwise."""
    ports = list(list_ports.comports()) if ports is None else list(ports)
    found = [info for info in ports if _matches(info, match)]
    if len(found) == 1:
        return found[0].device
    listing = '; '.join(describe(info) for info in ports) or 'no serial ports at all'
    if not found:
        raise DeviceError(f'no serial port matches {match}: {listing}')
    raise DeviceError(f'{len(found)} serial ports match {match}, expected one: '
                      f'{"; ".join(describe(info) for info in found)}')


def parse_ports(entries):
    """Turn ['bus=/dev/ttyUSB0', ...] into {bus: path}; ValueError if malformed."""
    ports = {}
    for entry in entries:
        bus, sep, path = entry.partition('=')
        if not sep or not bus.strip() or not path.strip():
            raise ValueError(f'ports entry {entry!r}: expected bus=/dev/path')
        ports[bus.strip()] = path.strip()
    return ports


def resolve_ports(buses, overrides=None, port_dir='', finder=find_port):
    """Return {bus: device path} for bus specs {name: BusSpec}; ValueError if impossible.

    Precedence: an explicit override, then a link named after the bus in port_dir (HIL),
    then the bus's own port, where `auto` is found by its match. A DeviceError names
    every bus whose port could not be found, not only the first.
    """
    overrides = overrides or {}
    unknown = set(overrides) - set(buses)
    if unknown:
        raise ValueError(f'ports names unknown buses: {", ".join(sorted(unknown))}')
    ports, failures = {}, []
    for name, spec in buses.items():
        if name in overrides:
            port = overrides[name]
        elif port_dir:
            port = os.path.join(port_dir, name)
        else:
            port = spec.port
        try:
            ports[name] = finder(spec.match) if port == 'auto' else port
        except DeviceError as error:
            failures.append(f'{name}: {error}')
    if failures:
        raise DeviceError('; '.join(failures))
    return ports


def main():
    """List the serial ports with the fields a bus's `match` can use."""
    ports = list(list_ports.comports())
    for info in ports:
        print(describe(info))
    if not ports:
        print('no serial ports found')
