"""drill: drills to the operator's goal depth within the anchors', motor and power limits.

One node per drill subsystem of the rig file (its name is the subsystem's controller);
the feed and spindle joints are the subsystem's by role.
"""

import sys

from sensor_msgs.msg import JointState
from spacemine_interfaces.action import DrillToDepth

from spacemine_ros.core.control.adapters import DrillAdapter, InputError, Joints
from spacemine_ros.core.control import states
from spacemine_ros.core.control.goals import job_outcome
from spacemine_ros.core.control.drill import DrillController, DrillParams
from spacemine_ros.core.memory import checked_float
from spacemine_ros.nodes.actions import controller_state, ToolAction
from spacemine_ros.nodes.common import (
    AnchoringView, changed_params, ControllerNode, rig_subsystem, spin_node,
    stamp_to_seconds, Telemetry)
from spacemine_ros.nodes.rig_inputs import RigInputs

# name: (description, low, high) of each DrillParams field exposed as a parameter
TUNABLES = {
    'goal_depth': ('Depth a goal of depth 0 drills to, below the surface [m]', 0.001, 10.0),
    'feed_stroke': ('Travel of the feed [m]', 0.01, 10.0),
    'max_thrust': ('Feed drive thrust limit [N]', 1.0, 10000.0),
    'max_torque': ('Spindle motor torque limit [N m]', 0.1, 1000.0),
    'torque_margin': ('Thrust is limited so torque stays below this share of the limit [-]',
                      0.1, 1.0),
    'power_budget': ('Spindle power budget [W] (the supervisor sets it)', 0.0, 100000.0),
    'max_spindle_speed': ('Spindle speed limit [rad/s]', 0.1, 500.0),
    'max_feed_speed': ('Cap on the rate of penetration [m/s]', 1e-5, 0.1),
    'approach_speed': ('Feed speed toward the surface [m/s]', 1e-4, 0.1),
    'approach_thrust': ('Thrust limit while approaching [N]', 0.1, 1000.0),
    'contact_thrust': ('Thrust that signals contact with the ground [N]', 0.01, 100.0),
    'retract_speed': ('Feed speed when retracting [m/s]', 1e-4, 0.1),
    'thrust_ramp': ('Thrust ramp rate [N/s]', 0.1, 10000.0),
    'speed_ramp': ('Spindle acceleration [rad/s^2]', 0.01, 1000.0),
    'stall_torque_fraction': ('Torque share of the limit that counts as stalled [-]', 0.5, 1.0),
    'stall_rate': ('Penetration rate below which the bit makes no progress [m/s]', 1e-8, 1e-2),
    'stall_time': ('Stall duration before backing off [s]', 0.01, 60.0),
    'backoff_distance': ('Back-off travel to clear a jam [m]', 1e-4, 0.5),
    'max_retries': ('Back-offs before the drill faults', 0, 100),
    'position_tolerance': ('Feed position tolerance [m]', 1e-6, 0.01),
    'bit_radius': ('Bit radius, for the specific energy [m]', 0.001, 0.5),
    'max_depth_of_cut': ("Depth the bit's cutters take per revolution when fully in "
                         '(blades x cutter exposure); thrust is not raised past it [m]',
                         1e-5, 0.05),
}
TELEMETRY = ('depth', 'rate_of_penetration', 'thrust', 'torque', 'specific_energy', 'energy')


class DrillNode(ControllerNode):
    """Drill controller node."""

    def __init__(self, **kwargs):
        super().__init__('drill', **kwargs)
        self.rig, spec = rig_subsystem(self, 'drill')
        self.adapter = DrillAdapter(spec)
        self.controller = DrillController(self.declare_params(DrillParams(), TUNABLES))
        # Where the bit met the surface: once it is in the hole the feed encoder cannot
        # tell, so a restarted drill takes it from its record (depth stays below the
        # same surface, a hole is never drilled twice as deep).
        stroke = self.controller.params.feed_stroke
        surface = checked_float(self.memory.recall(), 'surface_position', -stroke, stroke)
        if self.memory.problem:
            self.get_logger().warning(self.memory.problem)
        if surface is not None:
            self.controller.surface_position = surface
            self.get_logger().info(f'surface at feed position {surface:.4f} m (from the '
                                   'record of this shift)')
        # Anchor status first: when it and a tick are both waiting, it is handled first.
        self.anchoring = AnchoringView(self, self.rig, spec.name)
        self.readings = RigInputs(self)  # the rig_state or a topic per sensor
        self.readings.take('joint_states', JointState, self._on_joints)
        self.commands_on(spec)
        self.telemetry = Telemetry(self, TELEMETRY, self.telemetry_period)
        self.measurement = None  # the latest control period's
        self.energy_at_start = 0.0
        self.serve(ToolAction(self, DrillToDepth, '~/drill_to_depth', self._start,
                              self._outcome, self._feedback, self._result, stop=self._stop))
        self.ready(['joint_states'])
        self.anchoring.request(0.0)

    # Parameters and services --------------------------------------------------------------
    def settings_from(self, parameters):
        """Return the tunables (and job) the parameters would give; ValueError if bad."""
        return changed_params(self.controller.params, parameters, TUNABLES)

    def use_settings(self, settings):
        """Use the settings settings_from() checked."""
        self.controller.params = settings

    # The drill_to_depth action (nodes.actions) ------------------------------------------
    def _start(self, goal):
        missing = self.refused_before_inputs()
        if missing:
            return False, missing
        if goal.depth < 0.0:
            return False, f'depth must be above 0 m, got {goal.depth:g}'
        try:
            result = self.controller.start(self.anchoring.anchored, self.anchoring.budget,
                                           goal.depth or None)
        except ValueError as error:
            return False, str(error)
        self.energy_at_start = self.controller.energy
        self.anchoring.request(self.controller.request)
        return result

    def _stop(self):
        _, message = self.controller.abort('canceled')
        self.anchoring.request(self.controller.request)
        return True, message  # one already retracting stops all the same

    def _outcome(self):
        return job_outcome(self.controller.state.value, states.DRILL_WORKING,
                           self.controller.reason,
                           lambda: f'drilled to {self.controller.max_depth:.4f} m')

    def _feedback(self):
        measurement = self.measurement
        return DrillToDepth.Feedback(
            state=controller_state(self.controller.state.value),
            depth=float(self.controller.depth),
            rate_of_penetration=float(self.controller.rate),
            thrust=float(measurement.thrust) if measurement else 0.0,
            torque=float(measurement.torque) if measurement else 0.0)

    def _result(self, succeeded, message):
        controller = self.controller
        return DrillToDepth.Result(
            success=succeeded, message=message, depth=float(controller.max_depth),
            energy=float(controller.energy - self.energy_at_start),
            peak_thrust=float(controller.peak_thrust))

    # Control -------------------------------------------------------------------------------
    def pace(self):
        """Return the pace: moving while it approaches, drills, backs off or retracts."""
        return self.adapter.pace(self.controller)

    def _on_joints(self, message):
        self.inputs.saw('joint_states')
        stamp = stamp_to_seconds(message.header.stamp)
        if not self.new_period(stamp) or not self.due(message.header.stamp):
            return
        try:
            measurement = self.adapter.measurement(
                stamp, Joints(message.name, message.position, message.velocity, message.effort))
        except InputError as error:
            # Unreadable drives: the job stops, and with no command the last runs out.
            self.get_logger().error(f'{self.adapter.spec.name}: {error}; drill stopped',
                                    throttle_duration_sec=5.0)
            self.controller.abort(f'unreadable drill: {error}')
            self.publish_state()
            return
        self.measurement = measurement
        command = self.controller.update(measurement, self.anchoring.anchored,
                                         self.anchoring.allowance, self.anchoring.budget)
        self.send(message.header.stamp, self.adapter.command(command))
        self.anchoring.request(self.controller.request)
        self.anchoring.report_load(measurement.thrust)
        controller = self.controller
        if controller.surface_position is not None:
            problem = self.memory.remember(surface_position=controller.surface_position)
            if problem:
                self.get_logger().error(problem, throttle_duration_sec=30.0)
        self.telemetry.publish(stamp, {
            'depth': controller.depth, 'rate_of_penetration': controller.rate,
            'thrust': measurement.thrust, 'torque': measurement.torque,
            'specific_energy': controller.specific_energy or 0.0, 'energy': controller.energy},
            force=self.state_changes())
        self.publish_state()

    # Status --------------------------------------------------------------------------------
    def status_values(self):
        """Return the figures for the diagnostics."""
        controller = self.controller
        return {'depth_m': f'{controller.depth:.4f}',
                'goal_depth_m': f'{controller.params.goal_depth:.4f}',
                'peak_thrust_N': f'{controller.peak_thrust:.1f}',
                'allowance_N': f'{self.anchoring.allowance:.1f}',
                'budget_N': f'{self.anchoring.budget:.1f}',
                'anchoring': self.anchoring.state, 'retries': controller.retries}

    def stop_actuators(self):
        """Publish a zero command and give the force back (used on shutdown)."""
        # No force and no torque allowed at all.
        self.send(self.seen or self.get_clock().now().to_msg(), self.adapter.stop())
        self.anchoring.request(0.0)
        self.anchoring.report_load(0.0)


def main(args=None):
    """Run the drill node."""
    return spin_node(DrillNode, args)


if __name__ == '__main__':
    sys.exit(main())
