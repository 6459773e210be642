"""A campaign sample's faults struck on the ROS graph, and its invariants watched there.

`spacemine-shift --replay RUN SAMPLE` runs one sample of a campaign on the node graph of
spacemine-shift (every node in its process, the recorder in its own). GraphShift gives
the campaign's FaultSchedule and Invariants (spacemine_ros.faults) what a headless shift
gives them, from the graph's own nodes: rig_sim's world and its readings of each
instant, the supervisor's mission, the anchoring controller. rig_sim calls it after
each advance (rig_sim.on_advanced) and stops its world at the instants the faults and
the e-stop checks need (rig_sim.stop_at), so both act at the same instants as headless.

Each fault goes in by the way it would on a rig, where the graph has one:

- estop, reset, resume: the supervisor's own ~/estop and ~/command service handlers run
  with the operator's request; the e-stop reaches the world and the controllers over
  the rig's estop topic, so its latency is the graph's.
- node_restart: the node is taken off the executor (it stops answering and its last
  commands lapse, as a killed process's), then destroyed without its last word and
  started again from its spec, with this start's session, so it takes up its record.
  The supervisor hears it silent after liveness_timeout on its steady clock, as on a rig
  (the headless engine counts sim seconds there): a replay's timing differs by design.
- sensor_silent: the controller drops its readings (ControllerNode.lose_inputs) and
  faults what it does at once; device_silent besides lets none of its commands reach
  its drives in the world (RigWorld.deafen), as headless.
- brownout and anchor_slip: the world's own (RigWorld.cut_power, slip_anchor).

Adding or removing nodes from inside a callback is not safe with every executor: those
operations wait in `pending` until the shift's loop runs them between two callbacks
(after_spin), before the world can step again.
"""

from rclpy.node import Node
from spacemine_interfaces.srv import OperatorCommand
from std_srvs.srv import Trigger

from spacemine_ros.command import command_request
from spacemine_ros.core.control.anchoring import AnchoringState
from spacemine_ros.headless import deafen_devices, ShiftError
from spacemine_ros.launcher import create_nodes
from spacemine_ros.sim.world import on_control_grid

OPERATOR_VALID_FOR = 60.0  # s an operator's command stays valid


class _AnchoringOf:
    """The anchoring controller of a node, as the invariants read it."""

    def __init__(self, node):
        self.controller = node.controller

    @property
    def anchored(self):
        return self.controller.state == AnchoringState.ANCHORED


class GraphShift:
    """The graph of a running shift, as FaultSchedule and Invariants use a headless Shift.

    nodes: the list of the shift's nodes in this process (a restarted node replaces its
    entry, so the shift's shutdown stops the new one); specs: their NodeSpecs; start:
    create_nodes' arguments after the specs (namespace, params file, overrides).
    """

    def __init__(self, nodes, executor, rig, specs, start):
        self.nodes = nodes
        self.executor = executor
        self.rig = rig
        self.specs = {spec.name: spec for spec in specs}
        self.start = start
        self.sim = self.node('rig_sim')
        self.world = self.sim.world
        self.control_period = self.sim.control_period
        self.pending = []  # node operations for between two callbacks
        self.dead = {}  # controller: its node, off the executor
        self.halted = None

    def node(self, name):
        """Return the running node of a name (KeyError if the graph has none)."""
        for node in self.nodes:
            if node.get_name() == name:
                return node
        raise KeyError(f'the graph has no node {name}')

    def watch(self, *observers):
        """Call each observer(self) after every advance of the world, in order."""
        def after_advance(_sim):
            for observer in observers:
                observer(self)
        self.sim.on_advanced = after_advance

    def after_spin(self):
        """Run what waited for the end of a callback; return why the shift halted, if so."""
        while self.pending:
            self.pending.pop(0)()
        return self.halted

    # What the watch reads ---------------------------------------------------------------------
    @property
    def mission(self):
        """Return the supervisor's Mission: its state, causes and reason."""
        return self.node('supervisor').mission

    @property
    def readings(self):
        """rig_sim's readings of the instant it last advanced to."""
        return self.sim.readings

    @property
    def anchoring(self):
        """The anchoring controller (anchored, its tool budget)."""
        return _AnchoringOf(self.node(self.rig.anchoring_controller))

    def on_grid(self, instant):
        """Return the first control instant at or after `instant` [s]."""
        return on_control_grid(instant, self.control_period)

    def stop_at(self, instant):
        """Make the world stop at a sim instant [s] (on the control grid)."""
        self.sim.stop_at(self.on_grid(instant))

    def halt(self, reason):
        """End the shift at the next callback, though the plan has not ended."""
        self.halted = reason

    # The faults -------------------------------------------------------------------------------
    def operator_command(self, name):
        """Apply an operator's command in-process, as trusted code: (accepted, why)."""
        supervisor = self.node('supervisor')
        if name == 'estop':
            response = supervisor.on_estop_request(Trigger.Request(), Trigger.Response())
        else:
            request = command_request(name, self.world.time, OPERATOR_VALID_FOR)
            response = supervisor.apply_command(request, OperatorCommand.Response())
        return response.success, response.message

    def silence(self, controller, seconds):
        """Stop a controller's readings for `seconds`; it faults what it does."""
        try:
            self.node(controller).lose_inputs(seconds, f'{controller}: its measurements stopped')
        except ValueError as error:
            raise ShiftError(str(error)) from None
        self.stop_at(self.world.time + seconds)

    def device_silent(self, controller, seconds):
        """Silence a controller's devices: no readings, no command gets through."""
        deafen_devices(self.world, self.rig, controller, self.on_grid(self.world.time + seconds))
        self.silence(controller, seconds)

    def kill(self, controller):
        """Take a controller's node off the executor (between two callbacks)."""
        node = self.node(controller)
        self.dead[controller] = node
        self.pending.append(lambda: self.executor.remove_node(node))

    def restart(self, controller):
        """Start a killed controller's node again from its spec (between two callbacks)."""
        if controller not in self.dead:
            raise ShiftError(f'{controller} was not killed')
        old = self.dead.pop(controller)

        def start_again():
            Node.destroy_node(old)  # no last word: a killed process says nothing more
            new = create_nodes([self.specs[controller]], *self.start)[0]
            self.nodes[self.nodes.index(old)] = new
            self.executor.add_node(new)
        self.pending.append(start_again)

    def cut_power(self, seconds):
        """Cut the power bus for `seconds`: a brownout."""
        until = self.on_grid(self.world.time + seconds)
        try:
            self.world.cut_power(until)
        except ValueError as error:
            raise ShiftError(str(error)) from None
        self.sim.stop_at(until)

    def slip_anchor(self, index, fraction):
        """Anchor `index` keeps only `fraction` of its capacity from now on."""
        try:
            self.world.slip_anchor(index, fraction)
        except ValueError as error:
            raise ShiftError(str(error)) from None


__all__ = ['GraphShift']
