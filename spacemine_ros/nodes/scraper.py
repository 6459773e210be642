"""scraper: runs the operator's scraping passes within the allowance the anchoring grants it.

The arm's joints are the rig file's scraper subsystem's, by role (slew, shoulder, elbow,
wrist); its blade force comes on <subsystem>/blade_wrench.
"""

import dataclasses
import math
import sys

from geometry_msgs.msg import WrenchStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64
from spacemine_interfaces.action import Scrape
from std_srvs.srv import Trigger

from spacemine_ros.core.control import states
from spacemine_ros.core.control.goals import job_outcome
from spacemine_ros.core.control.adapters import InputError, Joints, ScraperAdapter
from spacemine_ros.core.control.scraper import (
    GOAL_LIMITS, ScrapeRequest, ScraperController, ScraperParams)
from spacemine_ros.core.memory import RecordTimeline
from spacemine_ros.core.control.ticks import TickAssembler
from spacemine_ros.nodes.actions import controller_state, ToolAction
from spacemine_ros.nodes.common import (
    AnchoringView, changed_params, ControllerNode, declare_tunables, rig_subsystem,
    spin_node, stamp_to_seconds, STATE_QOS, Telemetry)
from spacemine_ros.nodes.rig_inputs import RigInputs

# name: (description, low, high) of the operator's job, checked against the arm's reach
REQUEST = {
    'reach': ('Start of each pass, from the slew axis [m]', 0.1, 3.0),
    'pass_length': ('Length of each pass, cut toward the rig [m]', *GOAL_LIMITS['pass_length']),
    'cut_depth': ('Cut depth below the original ground [m]', 0.001, 0.3),
    'passes': ('Number of passes, fanned around the slew axis', *GOAL_LIMITS['passes']),
    'pass_spacing': ('Distance between pass centre lines [m]', 0.01, 2.0),
}
# name: (description, low, high) of each ScraperParams field exposed as a parameter
TUNABLES = {
    'max_blade_force': ('Arm drive force limit at the blade [N]', 1.0, 10000.0),
    'cut_speed': ('Blade speed while cutting [m/s]', 0.001, 0.5),
    'transit_speed': ('Tip speed between cuts [m/s]', 0.001, 1.0),
    'clearance': ('Blade height above ground between cuts [m]', 0.01, 0.5),
    'depth_rate': ('Rate the cut depth may change under force control [m/s]', 1e-4, 0.5),
    'force_backoff_fraction': ('Cut shallower above this share of the force limit', 0.1, 1.0),
    'jam_force_fraction': ('Force share of the limit that, without progress, is a jam',
                           0.5, 1.0),
    'jam_rate': ('Blade speed below which it makes no progress [m/s]', 1e-5, 0.1),
    'jam_time': ('Duration of a jam before recovery [s]', 0.05, 60.0),
    'jam_skip': ('Distance the blade moves past a jam [m]', 0.01, 1.0),
    'max_jams': ('Jams per job before a fault', 0, 100),
    'dump_angle': ('Wrist angle that tips the bucket [rad]', 0.0, 2.0),
    'dump_time': ('Least time the bucket is held tipped [s]', 0.1, 60.0),
    'bucket_empty_mass': ('Bucket mass below which a dump is done [kg]', 1e-4, 10.0),
    'dump_timeout': ('Longest time the tipped bucket may go without getting lighter '
                     'before the scraper faults [s]', 0.1, 600.0),
    'wrist_speed': ('Wrist speed [rad/s]', 0.01, 1.0),
    'position_tolerance': ('Tip position tolerance [m]', 1e-4, 0.1),
    'power_budget': ('Power the supervisor allows the arm [W] (below arm_idle_power the '
                     'arm holds and waits)', 0.0, 1e6),
    'arm_idle_power': ("The arm drives' draw while they move [W]", 0.0, 1e4),
    'drive_efficiency': ('Efficiency of the arm drives (mechanical over electrical)', 0.01,
                         1.0),
}


TELEMETRY = ('blade_force', 'force_limit', 'collected_mass', 'cut_depth')


class ScraperNode(ControllerNode):
    """Scraper controller node."""

    def __init__(self, **kwargs):
        super().__init__('scraper', **kwargs)
        self.rig, spec = rig_subsystem(self, 'scraper')
        self.adapter = ScraperAdapter(spec)
        self.controller = ScraperController(self.declare_params(ScraperParams(), TUNABLES))
        # The job of the controller before this one (a restart): started again, it goes
        # on from the pass and radius it had reached instead of cutting them again.
        recalled = self.memory.recall()
        self.controller.recall(recalled)
        # The job's record over the last minute: a simulated world restored from its
        # checkpoint is behind what this controller saw, and the job goes back with it.
        self.timeline = RecordTimeline()
        self.timeline.take_up(recalled.get('timeline'))
        self.request = ScrapeRequest(**declare_tunables(self, REQUEST, ScrapeRequest()))
        self.collected = 0.0
        self.bucket_mass = 0.0
        self.ticked_at = 0.0  # s, the rig's time of the last control period

        self.anchoring = AnchoringView(self, self.rig, spec.name)
        self.readings = RigInputs(self)  # the rig_state or a topic per sensor
        self.readings.take('material/scraper_cut/delivered', Float64, self._on_collected)
        self.readings.take('material/scraper/mass', Float64, self._on_bucket)
        # One control period needs the joints and the blade force of the same instant.
        self.ticks = TickAssembler(('joints', 'blade'))
        self.readings.take('joint_states', JointState, self._on_joints)
        self.readings.take(self.adapter.blade_topic, WrenchStamped, self._on_blade)
        self.commands_on(spec)
        self.telemetry = Telemetry(self, TELEMETRY, self.telemetry_period)
        self.collected_at_start = 0.0
        self.serve(ToolAction(self, Scrape, '~/scrape', self._start, self._outcome,
                              self._feedback, self._result, stop=self._stop))
        self.create_service(Trigger, '~/reset', self._on_reset)
        self.create_subscription(Float64, 'world/restored', self._on_world_restored,
                                 STATE_QOS)
        self.ready(['joint_states'])
        self.anchoring.request(0.0)

    # Parameters and services --------------------------------------------------------------
    def settings_from(self, parameters):
        """Return the tunables (and job) the parameters would give; ValueError if bad."""
        params = changed_params(self.controller.params, parameters, TUNABLES)
        job = {p.name: p.value for p in parameters if p.name in REQUEST}
        request = dataclasses.replace(self.request, **job)
        if job:  # refuse a job the arm cannot do
            request.plan(self.controller.geometry)
        return params, request

    def use_settings(self, settings):
        """Use the settings settings_from() checked."""
        self.controller.params, self.request = settings

    def _on_collected(self, message):
        if math.isfinite(message.data):
            self.collected = message.data

    def _on_bucket(self, message):
        if math.isfinite(message.data):
            self.bucket_mass = message.data

    # The scrape action (nodes.actions) ------------------------------------------------
    def _start(self, goal):
        missing = self.refused_before_inputs()
        if missing:
            return False, missing
        try:
            job = self.request.for_goal(self.controller.geometry, goal.area, goal.passes,
                                        goal.pass_length)
        except ValueError as error:
            return False, str(error)
        result = self.controller.start(job, self.anchoring.anchored, self.anchoring.budget)
        if result[0]:
            self.collected_at_start = self.collected
        self.anchoring.request(self.controller.request_force)
        return result

    def _stop(self):
        _, message = self.controller.abort('canceled')
        self.anchoring.request(self.controller.request_force)
        return True, message  # one already stowing stops all the same

    def _outcome(self):
        return job_outcome(self.controller.state.value, states.SCRAPER_WORKING,
                           self.controller.reason,
                           lambda: f'{len(self.controller.plan)} passes scraped')

    def _feedback(self):
        controller = self.controller
        return Scrape.Feedback(
            state=controller_state(controller.state.value),
            pass_number=min(controller.pass_index + 1, len(controller.plan)),
            passes=len(controller.plan),
            collected_mass=float(self.collected - self.collected_at_start))

    def _result(self, succeeded, message):
        controller = self.controller
        done = len(controller.plan) if controller.state.value == states.DONE else \
            controller.pass_index
        return Scrape.Result(success=succeeded, message=message, passes_done=done,
                             collected_mass=float(self.collected - self.collected_at_start))

    def _on_reset(self, request, response):
        return self.respond(response, self.controller.reset(), 'reset')

    def _on_world_restored(self, message):
        # message.data: the checkpoint's time. Each restore is taken once, even when a
        # restart of this node finds the same latched message again.
        if message.data == self.timeline.restored_at:
            return
        self.timeline.restored_at = message.data
        record = self.timeline.rewind(message.data)
        if record is None:
            self.get_logger().error(
                f'the world was restored to {message.data:.2f} s, before the '
                f'{self.timeline.horizon:g} s of job record kept: the job goes on as it stood')
        else:
            self.get_logger().warning(
                f'the world was restored to {message.data:.2f} s: the job goes back to where '
                f'it stood then: {self.controller.rewind(record)}')
        self._remember()

    def _remember(self):
        record = self.controller.record()
        self.timeline.note(self.ticked_at, record)
        problem = self.memory.remember(**record, timeline=self.timeline.to_json())
        if problem:
            self.get_logger().error(problem, throttle_duration_sec=30.0)

    # Control -------------------------------------------------------------------------------
    def _on_joints(self, message):
        self.inputs.saw('joint_states')
        self._tick(self.ticks.add('joints', stamp_to_seconds(message.header.stamp), message))

    def _on_blade(self, message):
        self._tick(self.ticks.add('blade', stamp_to_seconds(message.header.stamp), message))

    def pace(self):
        """Return the pace: moving while a job is under way."""
        return self.adapter.pace(self.controller)

    def _tick(self, tick):
        if tick is None:
            return
        stamp, inputs = tick
        joints, blade = inputs['joints'], inputs['blade'].wrench.force
        if not self.due(joints.header.stamp):
            return
        try:
            measurement = self.adapter.measurement(
                stamp, Joints(joints.name, joints.position, joints.velocity, joints.effort),
                (blade.x, blade.y, blade.z), self.bucket_mass)
        except InputError as error:
            self.get_logger().error(f'scraper readings: {error}; stopping',
                                    throttle_duration_sec=5.0)
            self.controller.abort(f'unreadable arm: {error}')
            self.publish_state()
            return
        command = self.controller.update(measurement, self.anchoring.anchored,
                                         self.anchoring.allowance)
        self.send(joints.header.stamp, self.adapter.command(command))
        self.anchoring.request(self.controller.request_force)
        self.anchoring.report_load(measurement.blade_force)
        self.ticked_at = stamp
        self._remember()  # written when it changes: a few times a pass
        self.telemetry.publish(stamp, {
            'blade_force': measurement.blade_force, 'force_limit': command.force_limit,
            'collected_mass': self.collected, 'cut_depth': self.controller.depth},
            force=self.state_changes())
        self.publish_state()

    # Status --------------------------------------------------------------------------------
    def status_values(self):
        """Return the figures for the diagnostics."""
        controller = self.controller
        return {'pass': f'{controller.pass_index}/{len(controller.plan)}',
                'collected_kg': f'{self.collected:.3f}',
                'peak_blade_force_N': f'{controller.peak_force:.1f}',
                'allowance_N': f'{self.anchoring.allowance:.1f}',
                'anchoring': self.anchoring.state, 'jams': controller.jams,
                'power_budget_W': f'{controller.params.power_budget:.0f}',
                'waiting_for_power': controller.power_wait}

    def stop_actuators(self):
        """Hold the arm with no blade force and give the force back (used on shutdown)."""
        self.anchoring.request(0.0)
        self.anchoring.report_load(0.0)
        last = self.controller.last
        if last is None:
            return
        self.send(self.seen or self.get_clock().now().to_msg(), self.adapter.hold(last.joints))


def main(args=None):
    """Run the scraper node."""
    return spin_node(ScraperNode, args)


if __name__ == '__main__':
    sys.exit(main())
