"""material_handling: conveyor, separator and furnace feeders, and the mass ledger.

The line controller (core.control.material_handling.MaterialLine) sets the drive speeds each
period from the hopper levels, the conveyor's motor torque and its discharge. The node
also keeps the rig's mass ledger from the transfer points' totalizers
(core.control.material_handling.TotalizerBooks): each update the ledger is checked and each
weighed account compared with its mass sensor; a mismatch beyond ledger_tolerance is a
fault with the numbers, and the line stops.

The furnace is charged on request: ~/charge_furnace (spacemine_interfaces/ChargeFurnace)
takes the hopper and the mass in one call (the smelter's, or an operator's). The drives
are the rig file's material_line subsystem's, by role.
"""

import math
import os
import sqlite3
import sys

from sensor_msgs.msg import JointState
from spacemine_interfaces.action import DrainLine
from spacemine_interfaces.msg import Ledger
from spacemine_interfaces.srv import ChargeFurnace
from std_msgs.msg import Float64
from std_srvs.srv import Trigger

from spacemine_ros.core.models.body import load_body
from spacemine_ros.core.config import ConfigError
from spacemine_ros.core.control import states
from spacemine_ros.core.models.material_config import IN_TRANSIT, load_material_config
from spacemine_ros.core.control.adapters import InputError, Joints, LineAdapter
from spacemine_ros.core.control.material_handling import (
    build_line, LineParams, LineState, TotalizerBooks)
from spacemine_ros.core.mission.mission_store import TransferLog
from spacemine_ros.nodes.actions import controller_state, ToolAction
from spacemine_ros.core.control.ticks import Pacer
from spacemine_ros.nodes.common import (
    changed_params, config_file, ControllerNode, declare, rig_subsystem,
    seconds_to_stamp, SITE_DESCRIPTION, spin_node, stamp_to_seconds, STATE_QOS, Telemetry)
from spacemine_ros.nodes.rig_inputs import RigInputs

TUNABLES = {
    'conveyor_speed': ('Nominal conveyor screw speed [rad/s]', 0.01, 100.0),
    'separator_speed': ('Nominal separator drum speed [rad/s]', 0.01, 100.0),
    'feeder_speed': ('Furnace feeder screw speed [rad/s]', 0.01, 100.0),
    'loss_limit': ('Largest share of a flow allowed to escape the body at a transfer point',
                   1e-9, 0.5),
    'slow_level': ('Hopper fill share where backpressure starts slowing the line', 0.0, 1.0),
    'stop_level': ('Hopper fill share where the line stops', 0.0, 1.0),
    'clog_torque': ('Conveyor motor torque that suggests a clog [N m]', 0.01, 1000.0),
    'clog_flow_fraction': ('Discharge below this share of the expected flow, with high '
                           'torque, is a clog', 0.0, 1.0),
    'clog_min_load': ('Load on the conveyor before flow is expected [kg]', 0.0, 100.0),
    'clog_time': ('Duration of a clog before clearing it [s]', 0.05, 60.0),
    'reverse_speed': ('Conveyor speed backward while clearing [rad/s]', 0.01, 100.0),
    'reverse_time': ('Time the conveyor runs backward to clear a clog [s]', 0.05, 60.0),
    'max_clears': ('Clogs cleared in a row before the line faults', 0, 100),
    'conveyor_power_budget': ('Power the supervisor allows the conveyor and the furnace '
                              'feeders [W] (the line holds below what they draw)', 0.0, 1e6),
    'separator_power_budget': ('Power the supervisor allows the separator drum [W]', 0.0,
                               1e6),
    'drive_idle_power': ('What a turning line drive draws at the least [W]', 0.0, 1e4),
    'drive_efficiency': ('Efficiency of the line drives (shaft over electrical)', 0.01, 1.0),
}


class MaterialHandlingNode(ControllerNode):
    """Material line controller and ledger node."""

    def __init__(self, **kwargs):
        super().__init__('material_handling', **kwargs)
        self.rig, spec = rig_subsystem(self, 'material_line')
        self.adapter = LineAdapter(spec)
        self.feeders = self.adapter.feeders
        body_key = declare(self, 'body', 'bennu', 'Body preset from the bodies file',
                           read_only=True)
        bodies_file = config_file(self, 'bodies_file', 'bodies.yaml', 'Body presets YAML')
        material_file = config_file(self, 'material_file', 'material.yaml',
                                    'Material path YAML')
        params = self.declare_params(LineParams(), TUNABLES)
        self.tolerance = declare(self, 'ledger_tolerance', 0.05, 'Largest difference between '
                                 "a mass sensor and the ledger's account [kg]", 1e-6, 100.0)
        try:
            site = declare(self, 'site', '', SITE_DESCRIPTION, read_only=True)
            body = load_body(bodies_file, body_key, site)
            self.config = load_material_config(material_file)
        except ConfigError as error:  # not started: spin_node says why, once
            raise ValueError(f'material_handling: {error}') from None
        unknown = sorted(set(self.feeders) - set(self.config.hoppers))
        if unknown:
            raise ValueError(f'material_handling: feeders of unknown hoppers {unknown}; '
                             f'hoppers: {", ".join(self.config.hoppers)}')
        self.body = body
        self.line = build_line(self.config, params, body.launch_site(), body.regolith.density,
                               body.effective_gravity())
        # Every transfer, as it is booked, in the rig's data directory.
        path = os.path.join(self.record.data_dir, 'ledger.sqlite')
        try:
            self.transfer_log = TransferLog(path)
            self.transfer_log.open_books('start')
        except (sqlite3.Error, OSError) as error:  # not started: spin_node says why
            raise ConfigError(f'material_handling: the ledger record {path}: {error}') from None
        self.books = TotalizerBooks(self.config, on_transfer=self.transfer_log.add)
        self.ledger = self.books.ledger
        self.masses = {}  # account -> latest mass sensor reading [kg]
        self.fault = ''

        self.readings = RigInputs(self)  # the rig_state or a topic per sensor
        for point in self.config.transfer_points:
            for kind in ('delivered', 'lost'):
                self.readings.take(f'material/{point}/{kind}', Float64,
                                   lambda message, key=(point, kind): self._on_total(key, message))
        for account in self.config.accounts:
            self.readings.take(f'material/{account}/mass', Float64,
                               lambda message, name=account: self._on_mass(name, message))
        self.readings.take('joint_states', JointState, self._on_joints)
        # A simulated world restored from its checkpoint (rig_sim): book again from its
        # totalizers, which read less than was booked from the world before.
        self.restored_at = None
        self.create_subscription(Float64, 'world/restored', self._on_world_restored,
                                 STATE_QOS)
        self.commands_on(spec)
        self.ledger_pub = self.create_publisher(Ledger, 'material/ledger', STATE_QOS)
        self.ledger_pacer = Pacer(self.telemetry_period)
        self.published_totals = None
        self.telemetry = Telemetry(
            self, [f'fill/{h}' for h in self.config.hoppers] + ['conveyor_flow'],
            self.telemetry_period)
        self.drained_below = math.inf  # the drain goal's [kg]
        self.serve(ToolAction(self, DrainLine, '~/drain', self._start, self._outcome,
                              self._feedback, self._result, stop=self._stop,
                              finite_except=('drained_below',)))
        self.create_service(Trigger, '~/reset', self._on_reset)
        self.create_service(ChargeFurnace, '~/charge_furnace', self._on_charge)
        self.ready(['joint_states'])
        # The ledger is published once every totalizer has been heard (its first figures
        # would otherwise say an empty, drained line after a restart).

    # Parameters and services --------------------------------------------------------------
    def settings_from(self, parameters):
        """Return (line params, ledger tolerance); ValueError if bad."""
        params = changed_params(self.line.params, parameters, TUNABLES)
        tolerance = next((p.value for p in parameters if p.name == 'ledger_tolerance'),
                         self.tolerance)
        return params, tolerance

    def use_settings(self, settings):
        """Use the checked settings."""
        self.line.params, self.tolerance = settings

    # The drain action (nodes.actions) ---------------------------------------------------
    def _start(self, goal):
        missing = self.refused_before_inputs()
        if missing:
            return False, missing
        result = self.line.start_drain(goal.drained_below, self.fault)
        if result[0]:
            self.drained_below = goal.drained_below
        return result

    def _stop(self):
        return self.line.stop()

    def in_transit(self):
        """Return the mass on the tools, conveyor and separator [kg] (None: not booked yet)."""
        if not self.books.heard_all():
            return None
        totals = self.ledger.totals()
        return sum(totals.get(name, 0.0) for name in IN_TRANSIT)

    def _outcome(self):
        state, reason, _ = self.condition()
        if state not in states.LINE_RUNNING:
            return False, reason or f'stopped ({state})'
        in_transit = self.in_transit()
        if in_transit is not None and (math.isinf(self.drained_below) or
                                       in_transit < self.drained_below):
            return True, (f'drained: {in_transit:.3f} kg in transit'
                          if math.isfinite(self.drained_below) else 'the line runs')
        return None

    def _feedback(self):
        in_transit = self.in_transit()
        return DrainLine.Feedback(state=controller_state(self.condition()[0]),
                                  in_transit=math.nan if in_transit is None else in_transit)

    def _result(self, succeeded, message):
        in_transit = self.in_transit()
        return DrainLine.Result(success=succeeded, message=message,
                                in_transit=math.nan if in_transit is None else in_transit)

    def _on_reset(self, request, response):
        result = self.line.reset(self.fault)
        self.fault = ''
        return self.respond(response, result, 'reset')

    def _on_charge(self, request, response):
        return self.respond(response, self.line.charge_furnace(
            request.source, request.mass, self.masses, self.ledger), 'charge_furnace')

    # Sensors -------------------------------------------------------------------------------
    def _on_total(self, key, message):
        if math.isfinite(message.data) and message.data >= 0.0:
            self.books.totals[key] = message.data
        else:
            self.get_logger().error(f'material/{key[0]}/{key[1]}: bad reading {message.data}',
                                    throttle_duration_sec=5.0)

    def _on_world_restored(self, message):
        if message.data == self.restored_at:
            return
        self.restored_at = message.data
        self._log_transfers(f'the world restored from its checkpoint at {message.data:.2f} s')
        self.books.rebuild()
        self.ledger = self.books.ledger
        self.published_totals = {}
        if self.fault:
            self.get_logger().warning(f'ledger fault cleared: {self.fault}')
            self.line.reset(self.fault)
            self.fault = ''
        self.get_logger().warning(f'the world was restored from its checkpoint at '
                                  f'{message.data:.2f} s: the ledger is booked again from '
                                  'its totalizers')

    def _log_transfers(self, new_books=''):
        """Write the transfers booked so far (and open new books, if new_books says why)."""
        try:
            if new_books:
                self.transfer_log.open_books(new_books)
            else:
                self.transfer_log.flush()
        except sqlite3.Error as error:  # the record must never stop the line
            self.get_logger().error(f'{self.transfer_log.path}: {error}',
                                    throttle_duration_sec=30.0)

    def destroy_node(self):
        """Write the last transfers and close the log with the node."""
        log = getattr(self, 'transfer_log', None)
        if log is not None:
            try:
                log.close()
            except sqlite3.Error:  # shutting down: what was committed stays
                pass
        return super().destroy_node()

    def _on_mass(self, account, message):
        if math.isfinite(message.data):
            self.masses[account] = message.data

    def pace(self):
        """Return the pace: working while the line runs or feeds the furnace."""
        return self.adapter.pace(self.line)

    def _on_joints(self, message):
        self.inputs.saw('joint_states')
        stamp = stamp_to_seconds(message.header.stamp)
        if not self.new_period(stamp) or not self.due(message.header.stamp):
            return
        if not self.fault and self.books.heard_all():
            self.fault = self.books.update(stamp, self.masses, self.tolerance)
            if self.fault:
                self.get_logger().error(f'ledger fault: {self.fault}; line stopped')
                self.line.stop()
            self._log_transfers()
        try:
            torque = self.adapter.conveyor_torque(
                Joints(message.name, message.position, message.velocity, message.effort))
        except InputError as error:
            self.get_logger().error(f'{error}; line stopped', throttle_duration_sec=5.0)
            self.line.stop()
            torque = 0.0
        measurement = self.adapter.measurement(stamp, torque, self.books, self.masses,
                                               self.config.hoppers)
        command = self.line.update(measurement)
        self.send(message.header.stamp, self.adapter.command(command))
        values = {f'fill/{h}': measurement.hopper_masses[h] / self.config.capacities[h]
                  for h in self.config.hoppers}
        values['conveyor_flow'] = self.line.flow
        self.telemetry.publish(stamp, values)
        self._publish_ledger(stamp)
        self.publish_state()

    def _publish_ledger(self, stamp):
        # Latched, sent when changed, at most once per telemetry period, once booked.
        if not self.books.heard_all():
            return
        if not self.ledger_pacer.take(stamp):
            return
        totals = self.ledger.totals()
        if totals == self.published_totals:
            return
        self.published_totals = totals
        self.ledger_pub.publish(ledger_message(totals, stamp))

    # Status --------------------------------------------------------------------------------
    def condition(self):
        """Return (state, reason, diagnostic level) of the line and the ledger."""
        if self.fault:
            return LineState.FAULT.value, f'ledger: {self.fault}', 'ERROR'
        line = self.line
        if line.state == LineState.FAULT:
            return line.state.value, line.reason, 'ERROR'
        if line.state == LineState.HELD:
            return line.state.value, line.power_wait or 'held by a full hopper', 'WARN'
        return line.state.value, line.reason, 'OK'

    def status_values(self):
        """Return the figures for the diagnostics."""
        totals = self.ledger.totals()
        values = {'clogs': self.line.clogs,
                  'backpressure': f'{self.line.backpressure:.2f}',
                  'conveyor_flow_kg_s': f'{self.line.flow:.4f}',
                  'excavated_kg': f'{totals["excavated"]:.3f}',
                  'lost_kg': f'{totals["lost"]:.4f}',
                  'transfers': self.ledger.transfer_count}
        values.update({f'{h}_kg': f'{totals[h]:.3f}' for h in self.config.hoppers})
        return values

    def input_lost(self, reason):
        """Stop a running line whose input stopped; return whether it faulted."""
        return self.line.input_lost(reason)

    def stop_actuators(self):
        """Stop every drive (used on shutdown)."""
        self.send(self.seen or self.get_clock().now().to_msg(), self.adapter.stop())


def ledger_message(totals, stamp):
    """Return the Ledger message of the ledger's totals ({account: kg}, 'excavated')."""
    accounts = {k: v for k, v in totals.items() if k != 'excavated'}
    excavated = totals['excavated']
    message = Ledger(accounts=list(accounts), masses=[float(v) for v in accounts.values()],
                     excavated=float(excavated),
                     balance=float(excavated - math.fsum(accounts.values())))
    seconds_to_stamp(stamp, message.stamp)
    return message


def main(args=None):
    """Run the material_handling node."""
    return spin_node(MaterialHandlingNode, args)


if __name__ == '__main__':
    sys.exit(main())
