"""anchoring: deploys the anchors, proof-tests them, watches them, and shares their force.

Publishes the rig's safe holding capacity and its state. It owns the force budget: the
tools of the rig file that load the anchors (loads_anchors) ask for a force on
<tool>/force_request and report their load on <tool>/load; this node grants each its
allowance on ~/allowance/<tool> (max-min fair shares of ~/budget, tool_share x the safe
capacity), so no tool reads another.
"""

import dataclasses
import sys

from nav_msgs.msg import Odometry
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64
from spacemine_interfaces.action import DeployAnchors, ReleaseAnchors
from spacemine_interfaces.msg import AnchoringStatus

from spacemine_ros.core.control.adapters import AnchorsAdapter, InputError, Joints
from spacemine_ros.core.control.anchoring import (
    AnchoringController, AnchoringParams, AnchoringState, ForceBudget)
from spacemine_ros.core.models.anchors import choose_anchor, load_anchor_types
from spacemine_ros.core.models.body import load_body
from spacemine_ros.core.control.ticks import TickAssembler
from spacemine_ros.nodes.actions import controller_state, ToolAction
from spacemine_ros.nodes.common import (
    changed_params, config_file, ControllerNode, declare, declare_tunables, rig_subsystem,
    SITE_DESCRIPTION, spin_node, stamp_to_seconds, STATE_QOS)
from spacemine_ros.nodes.rig_inputs import RigInputs

# name: (description, low, high) of each tunable AnchoringParams field
TUNABLES = {
    'safety_factor': ('Proven capacity is divided by this [-]', 1.0, 10.0),
    'proof_fraction': ('Proof load as a share of the nominal capacity [-]', 0.1, 1.0),
    'preload': ('Tension kept on each anchor [N]', 0.0, 10000.0),
    'proof_ramp_time': ('Time to ramp to the proof load [s]', 0.01, 600.0),
    'proof_hold_time': ('Time the proof load is held [s]', 0.0, 600.0),
    'embed_tolerance': ('Embed depth tolerance [m]', 1e-5, 0.1),
    'deploy_timeout': ('Time allowed for one anchor to engage [s]', 0.1, 3600.0),
    'max_reseats': ('Reseat attempts after a failed proof test', 0, 100),
    'creep_tolerance': ('Anchor creep allowed during the proof hold [m]', 1e-5, 0.1),
    'slip_tolerance': ('Rig displacement that counts as slip while anchored [m]', 1e-4, 1.0),
    'tool_share': ("Share of the safe capacity all tools together may load (the tools' "
                   'force budget) [-]', 0.0, 1.0),
}


class AnchoringNode(ControllerNode):
    """Anchoring controller node, owner of the anchors' force budget."""

    def __init__(self, **kwargs):
        super().__init__('anchoring', **kwargs)
        self.rig, spec = rig_subsystem(self, 'anchors')
        self.adapter = AnchorsAdapter(spec)
        body_key = declare(self, 'body', 'bennu', 'Body preset (sets substrate and gravity)',
                           read_only=True)
        bodies_file = config_file(self, 'bodies_file', 'bodies.yaml', 'Body presets YAML')
        anchors_file = config_file(self, 'anchors_file', 'anchors.yaml', 'Anchor designs YAML')
        requested = declare(self, 'anchor_type', '', 'Anchor design on the feet (empty: the '
                            "body site's, bodies.yaml)", read_only=True)
        site = declare(self, 'site', '', SITE_DESCRIPTION, read_only=True)
        body = load_body(bodies_file, body_key, site)
        types = load_anchor_types(anchors_file)
        design = types.get(requested or body.site.anchor_type)
        defaults = AnchoringParams(embed_depth=design.embed_depth if design else 0.01,
                                   nominal_capacity=1.0)
        values = declare_tunables(self, TUNABLES, defaults)
        # Refuses (ConfigError, one line naming the designs that would) a design that
        # cannot be proof-tested at this site: the rig would never anchor.
        anchor_type, design, nominal = choose_anchor(
            types, body, requested, values['proof_fraction'], values['preload'])
        try:
            params = dataclasses.replace(defaults, embed_depth=design.embed_depth,
                                         nominal_capacity=nominal, **values).validate()
        except ValueError as error:
            raise ValueError(f'anchoring parameters: {error}') from None
        self.controller = AnchoringController(len(self.adapter.joints), params)
        self.nominal = nominal
        # The proofs of the controller before this one (a restart): anchors still where
        # it left them need no new proof test (core.control.anchoring, _adopt).
        self.controller.recall(self.memory.recall())
        if self.memory.problem:
            self.get_logger().warning(self.memory.problem)

        self.commands_on(spec)
        # The holding figures (latched, when they change): what the tools' budget is.
        self.status_pub = self.create_publisher(AnchoringStatus, '~/status', STATE_QOS)
        self.published_figures = None
        # The force budget: one request, load and allowance topic per tool.
        self.budget = ForceBudget(self.rig.budget_tools)
        self.allowance_pubs, self.granted, self.peak_tool_load = {}, {}, 0.0
        for tool in self.rig.budget_tools:
            topics = self.rig.budget_topics(tool)
            self.allowance_pubs[tool] = self.create_publisher(Float64, topics['allowance'],
                                                              STATE_QOS)
            self.create_subscription(Float64, topics['request'],
                                     lambda message, t=tool: self._on_request(t, message),
                                     STATE_QOS)
            self.create_subscription(Float64, topics['load'],
                                     lambda message, t=tool: self._on_load(t, message),
                                     STATE_QOS)
        # With synchronised odometry (the simulation) a tick needs joints and odometry of
        # the same stamp; from a field bus, odometry comes from another source at its own
        # pace and each joint_states tick uses the latest pose.
        self.odom_sync = declare(self, 'odom_sync', True, 'Join joint_states and odom by '
                                 'stamp (false: tick on joint_states with the latest odom)',
                                 read_only=True)
        self.latest_odom = None
        self.ticks = TickAssembler(['joints', 'odom'])
        self.readings = RigInputs(self)  # the rig_state or a topic per sensor
        self.readings.take('joint_states', JointState, self._on_joints)
        self.readings.take('odom', Odometry, self._on_odom)
        self.serve(ToolAction(self, DeployAnchors, '~/deploy', self._deploy,
                              self._deploy_outcome, self._feedback(DeployAnchors),
                              self._result(DeployAnchors), stop=self._release))
        self.serve(ToolAction(self, ReleaseAnchors, '~/release', self._release,
                              self._release_outcome, self._feedback(ReleaseAnchors),
                              self._result(ReleaseAnchors)))
        self.get_logger().info(f'{anchor_type} anchors, nominal capacity {nominal:.1f} N each; '
                               f'force budget shared by {", ".join(self.rig.budget_tools)}')
        self.ready(['joint_states', 'odom'])

    # Parameters and services --------------------------------------------------------------
    def settings_from(self, parameters):
        """Return the anchoring params the parameters would give; ValueError if bad."""
        return changed_params(self.controller.params, parameters, TUNABLES)

    def use_settings(self, settings):
        """Use the checked params (a new tool_share regrants at once)."""
        self.controller.params = settings
        self.publish_state()

    # The deploy and release actions (nodes.actions) ------------------------------------
    def _deploy(self, goal=None):
        missing = self.refused_before_inputs()
        return (False, missing) if missing else self.controller.deploy()

    def _release(self, goal=None):
        return self.controller.release()

    def _deploy_outcome(self):
        controller = self.controller
        state = controller.state
        if state == AnchoringState.ANCHORED and controller.safe_capacity > 0.0:
            return True, f'anchored: safe capacity {controller.safe_capacity:.1f} N'
        if state == AnchoringState.FAULT:
            return False, controller.fault_reason
        if state == AnchoringState.STOWED and not controller.deploy_pending:
            return False, 'stowed'
        return None  # deploying, proving, releasing (a cancel) or waiting for a reading

    def _release_outcome(self):
        state = self.controller.state
        if state == AnchoringState.STOWED:
            return True, 'stowed'
        if state == AnchoringState.RELEASING:
            return None
        return False, self.controller.fault_reason or f'stopped ({state.value})'

    def _feedback(self, action):
        def feedback():
            controller = self.controller
            values = dict(state=controller_state(controller.state.value),
                          anchors_set=sum(proof > 0.0 for proof in controller.proven),
                          anchors_total=controller.count)
            if action is DeployAnchors:
                values['safe_capacity'] = float(controller.safe_capacity)
            return action.Feedback(**values)
        return feedback

    def _result(self, action):
        def result(succeeded, message):
            values = dict(success=succeeded, message=message)
            if action is DeployAnchors:
                values['safe_capacity'] = float(self.controller.safe_capacity)
            return action.Result(**values)
        return result

    # The force budget ----------------------------------------------------------------------
    def _on_request(self, tool, message):
        pace = self.pace()
        self.budget.request(tool, message.data)
        self._grant()
        if self.pace() != pace:
            self.wake()  # a tool at work: the anchors are watched every control period

    def _on_load(self, tool, message):
        pace = self.pace()
        self.budget.report_load(tool, message.data)
        if self.pace() != pace:
            self.wake()
        total = self.budget.total_load
        self.peak_tool_load = max(self.peak_tool_load, total)
        capacity = self.controller.safe_capacity
        if self.controller.state == AnchoringState.ANCHORED and total > capacity:
            self.get_logger().error(
                f'the tools load the anchors with {total:.1f} N, above their safe capacity '
                f'{capacity:.1f} N ({self._loads_text()})', throttle_duration_sec=5.0)

    def _loads_text(self):
        return ', '.join(f'{tool} {load:.1f} N' for tool, load in self.budget.loads.items())

    def _grant(self):
        budget = self.controller.tool_budget
        for tool, allowance in self.budget.allowances(budget).items():
            if self.granted.get(tool) != allowance:
                self.granted[tool] = allowance
                self.allowance_pubs[tool].publish(Float64(data=float(allowance)))

    # Control -------------------------------------------------------------------------------
    def _on_joints(self, message):
        self.inputs.saw('joint_states')
        if not self.odom_sync:
            odom = self.latest_odom
            if odom is None:
                self.get_logger().warning('no odometry yet: waiting for odom before acting',
                                          throttle_duration_sec=5.0)
                return
            self._tick((stamp_to_seconds(message.header.stamp),
                        {'joints': message, 'odom': odom}))
            return
        self._tick(self.ticks.add('joints', stamp_to_seconds(message.header.stamp), message))

    def _on_odom(self, message):
        self.inputs.saw('odom')
        if not self.odom_sync:
            self.latest_odom = message
            return
        self._tick(self.ticks.add('odom', stamp_to_seconds(message.header.stamp), message))

    def pace(self):
        """Return the pace: moving while deploying, proving, releasing or loaded by a tool."""
        loaded = any(force > 0.0 for force in self.budget.requests.values()) or \
            self.budget.total_load > 0.0
        return self.adapter.pace(self.controller, loaded)

    def _tick(self, tick):
        if tick is None:
            return
        stamp, inputs = tick
        joints, odom = inputs['joints'], inputs['odom']
        if not self.due(joints.header.stamp):
            return
        try:
            embeds, loads = self.adapter.readings(
                Joints(joints.name, joints.position, joints.velocity, joints.effort))
        except InputError as error:
            # A drive that cannot be read: send nothing, so the last command runs out and
            # the backend makes the anchors safe; the controller resumes on good readings.
            self.get_logger().error(f'anchor readings: {error}: anchors left to their '
                                    "drives' safe state", throttle_duration_sec=5.0)
            return
        position = odom.pose.pose.position
        commands = self.controller.update(stamp, embeds, loads,
                                          (position.x, position.y, position.z))
        problem = self.memory.remember(**self.controller.record())  # when it changes
        if problem:
            self.get_logger().error(problem, throttle_duration_sec=30.0)
        self.send(joints.header.stamp, self.adapter.command(commands))
        self.publish_state()

    # Status --------------------------------------------------------------------------------
    def publish_state(self):
        """Publish the safe capacity, budget and grants when they change, then the state.

        In that order: a tool (or an operator) that sees ANCHORED finds its budget already
        sent, so a start right after ANCHORED is not refused for a budget still on its way.
        """
        controller = self.controller
        figures = (round(controller.safe_capacity, 6), round(controller.tool_budget, 6),
                   tuple(round(proof, 6) for proof in controller.proven))
        if figures != self.published_figures:
            capacity_changed = self.published_figures is None or \
                figures[0] != self.published_figures[0]
            self.published_figures = figures
            status = AnchoringStatus(proven=[float(p) for p in controller.proven],
                                     safe_capacity=float(controller.safe_capacity),
                                     tool_budget=float(controller.tool_budget))
            if self.seen is not None:
                status.stamp = self.seen
            self.status_pub.publish(status)
            if capacity_changed and controller.state == AnchoringState.ANCHORED:
                self.get_logger().info(
                    f'anchored: safe capacity {self.controller.safe_capacity:.1f} N, tool '
                    f'budget {self.controller.tool_budget:.1f} N')
        self._grant()
        super().publish_state()

    def condition(self):
        """Return (state, reason, diagnostic level) of the anchoring sequence."""
        controller = self.controller
        level = 'ERROR' if controller.state == AnchoringState.FAULT else 'OK'
        if level == 'OK' and self.budget.overload(controller.tool_budget) > 0.0 and \
                controller.state == AnchoringState.ANCHORED:
            return controller.state.value, (
                f'tools above their budget: {self._loads_text()}'), 'WARN'
        return controller.state.value, controller.fault_reason, level

    def status_values(self):
        """Return the figures for the diagnostics."""
        controller = self.controller
        return {'safe_capacity_N': f'{controller.safe_capacity:.1f}',
                'tool_budget_N': f'{controller.tool_budget:.1f}',
                'tool_load_N': f'{self.budget.total_load:.1f}',
                'peak_tool_load_N': f'{self.peak_tool_load:.1f}',
                'allowances_N': ', '.join(f'{t} {a:.1f}' for t, a in self.granted.items()),
                'nominal_capacity_N': f'{self.nominal:.1f}',
                'proven_N': ', '.join(f'{p:.1f}' for p in controller.proven)}

    def stop_actuators(self):
        """Nothing to send: anchors hold where they are (the drives' safe state)."""


def main(args=None):
    """Run the anchoring node."""
    return spin_node(AnchoringNode, args)


if __name__ == '__main__':
    sys.exit(main())
