"""A whole shift without ROS: the rig's controllers, supervisor and world in one process.

The same controllers (core.control), the same supervisor's mission and power sharing
(core.mission) and the same multi-rate world (sim.world) as the ROS graph, glued by the
same per-subsystem adapters (core.control.adapters) instead of topics, and stepped in the
same event-driven lockstep: at each instant the world stops at, every controller due
there acts (each on the period of its pace, on the same grid as the graph's), then the
supervisor if it is due, and the world goes straight on to the next instant one of them
is due. It is the engine of campaigns: thousands of shifts, each one a function of its
configuration and seed.

    from spacemine_ros.headless import Shift
    figures = Shift(body='bennu', plan='bennu_shift').run()   # the summary's figures

`spacemine-shift --headless` runs it from the command line. With a data directory it
keeps what the graph's nodes keep (each controller's record, the mission's, the world's
checkpoint), so a shift stopped at any instant goes on from there with resume=True, as a
rig killed and restarted does. No rclpy.
"""

import dataclasses
import heapq
import math
import os
import time

from spacemine_ros.bringup import CONTROLLERS, default_params_file, rig_file_path
from spacemine_ros.core.config import ConfigError, load_yaml
from spacemine_ros.core.control.adapters import adapter_for, Joints, Pace, Periods
from spacemine_ros.core.control.anchoring import (
    AnchoringController, AnchoringParams, AnchoringState, ForceBudget)
from spacemine_ros.core.control.drill import DrillController, DrillParams
from spacemine_ros.core.control.material_handling import (
    build_line, LineParams, LineState, TotalizerBooks)
from spacemine_ros.core.control.scraper import ScrapeRequest, ScraperController, ScraperParams
from spacemine_ros.core.control.smelter import (
    batch_recipe, BatchController, MAX_CHARGE, recipes_from, SmelterParams)
from spacemine_ros.core.memory import checked_float, NodeMemory, RecordTimeline
from spacemine_ros.core.mission.mission_store import MissionStore
from spacemine_ros.core.mission.plan import check_against_rig, load_plan, plan_from, PlanError
from spacemine_ros.core.mission.power import active_consumers, PowerShares
from spacemine_ros.core.mission.supervisor import Call, Cancel, Goal, Mission, Observation
from spacemine_ros.core.models.anchors import choose_anchor, load_anchor_types
from spacemine_ros.core.models.body import load_body
from spacemine_ros.core.models.material_config import IN_TRANSIT, load_material_config
from spacemine_ros.core.models.power import power_config_from, PowerSystem
from spacemine_ros.core.models.thermal import furnace_design_from
from spacemine_ros.core.rig_interface import load_rig_interface
from spacemine_ros.params_files import load_params_file, value_type_problems
from spacemine_ros.paths import share_path
from spacemine_ros.sim.checkpoint import take_up_checkpoint, WorldCheckpoints
from spacemine_ros.sim.world import on_control_grid, RigWorld
from spacemine_ros.summary import ShiftRecord, site_figures, step_timeline, summary

# Accounts a rig weighs (its mass sensors: bucket load cell, belt scale, hopper and
# furnace load cells); the rest only its totalizers tell (rig_sim publishes these).
MEASURED_ACCOUNTS = ('drill', 'scraper', 'conveyor', 'separator', 'hopper_metal',
                     'hopper_silicate', 'furnace', 'products', 'slag', 'volatiles')
TELEMETRY_PERIOD = 0.5  # s: how often a controller reports its figures (the nodes' default)
ENDED = ('completed', 'aborted')
DEFAULT_RECIPES = {'C': 'volatile_extraction', 'S': 'metal_smelting', 'M': 'metal_smelting'}


class ShiftError(RuntimeError):
    """A shift that cannot be set up or go on; the message says why."""


def _fields(cls, values):
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if k in names}


def _changed(params, values):
    """Return params with the values changed, validated (ValueError: refused)."""
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(params)})
    if unknown:
        raise ValueError(f'no parameter {", ".join(unknown)}')
    return dataclasses.replace(params, **values).validate() if values else params


class _KeptMemory:
    """A record kept in this process (a run without a data directory).

    What a controller restarted within the run takes up, as a node takes up its file.
    """

    problem = ''

    def __init__(self):
        self.values = {}

    def recall(self):
        return dict(self.values)

    def remember(self, **values):
        self.values = values
        return ''


class Unit:
    """One subsystem of the rig: its controller, its adapter, when it is next due."""

    def __init__(self, engine, spec, settings):
        self.engine = engine
        self.spec = spec
        self.name = spec.controller
        self.adapter = adapter_for(spec)
        self.settings = settings  # its parameters, as the node would have them
        self.memory = engine.memory(self.name)
        self.next_tick = -math.inf
        self.sent = None  # its last command ({joint: {field: value}})
        self.telemetry_at = None  # when it last reported its figures
        self.reported_state = None

    def pace(self):
        """Return the Pace its controller needs now."""
        raise NotImplementedError

    def state(self):
        """Return the state it publishes."""
        return self.controller.state.value

    def due(self, time):
        """Return whether it acts at time [s]."""
        return time >= self.next_tick - 1e-9

    def send(self, time, command):
        """Give the world its command for the period at time, holding to its next tick."""
        window = self.engine.periods.until_next(self.pace(), time)
        self.engine.world.command(self.spec.name, command, valid_for=window)
        self.sent = command
        self.next_tick = time + window

    def wake(self, time):
        """Renew its command with its pace's window (a request changed what it does)."""
        if self.sent is not None:
            self.send(time, self.sent)

    def telemetry_due(self, time, force=False):
        """Return whether it reports its figures now (at most every TELEMETRY_PERIOD)."""
        if force or self.telemetry_at is None or \
                not self.telemetry_at <= time < self.telemetry_at + TELEMETRY_PERIOD:
            self.telemetry_at = time
            return True
        return False

    def set(self, values):
        """Set parameters (atomically); return (accepted, reason)."""
        return False, f'{self.name} takes no parameters here'

    def start_goal(self, action, fields, time):
        """Start the job a goal of its node's action asks; return (started, reason).

        fields: {field: value}; a field left out or 0 takes the node's own parameter.
        """
        return False, f'{self.name} has no action {action}'

    def cancel_goal(self, time):
        """Stop its job safely, as a cancel of its node's goal; return (stopped, message)."""
        return self.controller.abort('canceled')

    def call(self, name, time):
        """Call one of its services; return (success, message)."""
        method = getattr(self, f'on_{name}', None)
        if method is None:
            return False, f'{self.name} has no service {name}'
        return method(time)

    def stop(self, time):
        """Leave its actuators safe."""
        self.send(time, self.adapter.stop())


class AnchoringUnit(Unit):
    """The anchors: the anchoring sequence and the tools' force budget."""

    def __init__(self, engine, spec, settings):
        super().__init__(engine, spec, settings)
        body, types = engine.body, engine.anchor_types
        requested = engine.anchor_type
        design = types.get(requested or body.site.anchor_type)
        defaults = AnchoringParams(embed_depth=design.embed_depth if design else 0.01,
                                   nominal_capacity=1.0)
        values = {**dataclasses.asdict(defaults), **_fields(AnchoringParams, settings)}
        _, design, nominal = choose_anchor(types, body, requested, values['proof_fraction'],
                                           values['preload'])
        values.update(embed_depth=design.embed_depth, nominal_capacity=nominal)
        params = AnchoringParams(**values).validate()
        self.controller = AnchoringController(len(self.adapter.joints), params)
        self.controller.recall(self.memory.recall())
        self.budget = ForceBudget(engine.rig.budget_tools)

    def pace(self):
        """Return its pace: moving while deploying, proving, releasing or loaded."""
        loaded = any(force > 0.0 for force in self.budget.requests.values()) or \
            self.budget.total_load > 0.0
        return self.adapter.pace(self.controller, loaded)

    @property
    def anchored(self):
        """Tell whether the rig is anchored."""
        return self.controller.state == AnchoringState.ANCHORED

    def allowance(self, tool):
        """Return the force a tool may put on the anchors now [N]."""
        return self.budget.allowances(self.controller.tool_budget)[tool]

    def tool(self, tool, request=None, load=None, time=None):
        """Take a tool's request and load [N]; a change of pace renews its command."""
        pace = self.pace()
        if request is not None:
            self.budget.request(tool, request)
        if load is not None:
            self.budget.report_load(tool, load)
        if time is not None and self.pace() != pace:
            self.wake(time)

    def tick(self, time, readings, joints):
        embeds, loads = self.adapter.readings(joints)
        commands = self.controller.update(time, embeds, loads, readings.base_position)
        self.memory.remember(**self.controller.record())
        self.send(time, self.adapter.command(commands))

    def stop(self, time):
        """Nothing to send: anchors hold where they are (the drives' safe state)."""

    def set(self, values):
        try:
            self.controller.params = _changed(self.controller.params, values)
        except ValueError as error:
            return False, str(error)
        return True, ''

    def start_goal(self, action, fields, time):
        if action == 'deploy':
            return self.controller.deploy()
        if action == 'release':
            return self.controller.release()
        return super().start_goal(action, fields, time)

    def cancel_goal(self, time):
        """Release the anchors: a deploy's cancel (a release is not cancellable)."""
        return self.controller.release()


class DrillUnit(Unit):
    """A drill head: drills to its goal depth within its allowance."""

    def __init__(self, engine, spec, settings):
        super().__init__(engine, spec, settings)
        self.controller = DrillController(DrillParams(**_fields(DrillParams, settings)))
        stroke = self.controller.params.feed_stroke
        surface = checked_float(self.memory.recall(), 'surface_position', -stroke, stroke)
        if surface is not None:
            self.controller.surface_position = surface

    def pace(self):
        """Return its pace: moving while it approaches, drills, backs off or retracts."""
        return self.adapter.pace(self.controller)

    def tick(self, time, readings, joints):
        anchoring = self.engine.anchoring
        measurement = self.adapter.measurement(time, joints)
        command = self.controller.update(measurement, anchoring.anchored,
                                         anchoring.allowance(self.spec.name),
                                         anchoring.controller.tool_budget)
        self.send(time, self.adapter.command(command))
        anchoring.tool(self.spec.name, self.controller.request, measurement.thrust, time)
        if self.controller.surface_position is not None:
            self.memory.remember(surface_position=self.controller.surface_position)
        self.engine.record.depth(self.name, self.controller.depth)
        self.engine.record.drill_energy[self.name] = self.controller.energy

    def set(self, values):
        try:
            self.controller.params = _changed(self.controller.params, values)
        except ValueError as error:
            return False, str(error)
        return True, ''

    def start_goal(self, action, fields, time):
        if action != 'drill_to_depth':
            return super().start_goal(action, fields, time)
        depth = float(fields.get('depth', 0.0))
        if depth < 0.0:
            return False, f'depth must be above 0 m, got {depth:g}'
        anchoring = self.engine.anchoring
        try:
            result = self.controller.start(anchoring.anchored, anchoring.controller.tool_budget,
                                           depth or None)
        except ValueError as error:
            return False, str(error)
        anchoring.tool(self.spec.name, request=self.controller.request, time=time)
        return result

    def cancel_goal(self, time):
        result = self.controller.abort('canceled')
        self.engine.anchoring.tool(self.spec.name, request=self.controller.request, time=time)
        return result


class ScraperUnit(Unit):
    """A scraper arm: runs its passes within its allowance."""

    def __init__(self, engine, spec, settings):
        super().__init__(engine, spec, settings)
        self.controller = ScraperController(ScraperParams(**_fields(ScraperParams, settings)))
        recalled = self.memory.recall()
        self.controller.recall(recalled)
        self.timeline = RecordTimeline()
        self.timeline.take_up(recalled.get('timeline'))
        self.request = ScrapeRequest(**_fields(ScrapeRequest, settings))
        self.ticked_at = 0.0

    def pace(self):
        """Return its pace: moving while a job is under way."""
        return self.adapter.pace(self.controller)

    def tick(self, time, readings, joints):
        anchoring = self.engine.anchoring
        blade = readings.sensors[self.adapter.blade_topic][:3]
        measurement = self.adapter.measurement(time, joints, blade,
                                               self.engine.masses.get('scraper', 0.0))
        command = self.controller.update(measurement, anchoring.anchored,
                                         anchoring.allowance(self.spec.name))
        self.send(time, self.adapter.command(command))
        anchoring.tool(self.spec.name, self.controller.request_force, measurement.blade_force,
                       time)
        self.ticked_at = time
        self._remember()

    def _remember(self):
        record = self.controller.record()
        self.timeline.note(self.ticked_at, record)
        self.memory.remember(**record, timeline=self.timeline.to_json())

    def restored(self, checkpoint_time):
        """Take the job back to where it stood at a world checkpoint's time."""
        if checkpoint_time == self.timeline.restored_at:
            return
        self.timeline.restored_at = checkpoint_time
        record = self.timeline.rewind(checkpoint_time)
        if record is not None:
            self.controller.rewind(record)
        self._remember()

    def set(self, values):
        job = _fields(ScrapeRequest, values)
        rest = {k: v for k, v in values.items() if k not in job}
        try:
            params = _changed(self.controller.params, rest)
            request = dataclasses.replace(self.request, **job)
            if job:  # refuse a job the arm cannot do
                request.plan(self.controller.geometry)
        except ValueError as error:
            return False, str(error)
        self.controller.params, self.request = params, request
        return True, ''

    def start_goal(self, action, fields, time):
        if action != 'scrape':
            return super().start_goal(action, fields, time)
        anchoring = self.engine.anchoring
        try:
            job = self.request.for_goal(self.controller.geometry, fields.get('area', 0.0),
                                        fields.get('passes', 0), fields.get('pass_length', 0.0))
        except ValueError as error:
            return False, str(error)
        result = self.controller.start(job, anchoring.anchored, anchoring.controller.tool_budget)
        anchoring.tool(self.spec.name, request=self.controller.request_force, time=time)
        return result

    def cancel_goal(self, time):
        result = self.controller.abort('canceled')
        self.engine.anchoring.tool(self.spec.name, request=self.controller.request_force,
                                   time=time)
        return result

    def on_reset(self, time):
        return self.controller.reset()

    def stop(self, time):
        last = self.controller.last
        if last is not None:
            self.send(time, self.adapter.hold(last.joints))


class LineUnit(Unit):
    """The material line and the rig's ledger, kept from its totalizers."""

    def __init__(self, engine, spec, settings):
        super().__init__(engine, spec, settings)
        config = engine.material_config
        params = LineParams(**_fields(LineParams, settings))
        body = engine.body
        self.controller = build_line(config, params, body.launch_site(), body.regolith.density,
                                     body.effective_gravity())
        self.config = config
        self.books = TotalizerBooks(config)
        self.tolerance = float(settings.get('ledger_tolerance', 0.05))
        self.fault = ''
        self.ledger_at = None

    def state(self):
        return LineState.FAULT.value if self.fault else self.controller.state.value

    def pace(self):
        """Return its pace: working while the line runs or feeds the furnace."""
        return self.adapter.pace(self.controller)

    def tick(self, time, readings, joints):
        books = self.books
        books.totals.update({(p, 'delivered'): v for p, v in readings.delivered.items()})
        books.totals.update({(p, 'lost'): v for p, v in readings.lost.items()})
        masses = self.engine.masses
        if not self.fault and books.heard_all():
            self.fault = books.update(time, masses, self.tolerance)
            if self.fault:
                self.controller.stop()
        torque = self.adapter.conveyor_torque(joints)
        measurement = self.adapter.measurement(time, torque, books, masses, self.config.hoppers)
        command = self.controller.update(measurement)
        self.send(time, self.adapter.command(command))
        if books.heard_all() and (self.ledger_at is None or
                                  not self.ledger_at <= time < self.ledger_at + TELEMETRY_PERIOD):
            self.ledger_at = time
            totals = books.ledger.totals()
            totals['balance'] = totals['excavated'] - sum(
                v for k, v in totals.items() if k != 'excavated')
            self.engine.ledger.update(totals)

    def restored(self):
        """Book again from the totalizers of a world gone back to its checkpoint."""
        self.books.rebuild()
        if self.fault:
            self.controller.reset(self.fault)
            self.fault = ''

    def set(self, values):
        try:
            params = _changed(self.controller.params, _fields(LineParams, values))
            rest = {k: v for k, v in values.items() if k not in _fields(LineParams, values)}
            if set(rest) - {'ledger_tolerance'}:
                raise ValueError(f'no parameter {", ".join(sorted(rest))}')
        except ValueError as error:
            return False, str(error)
        self.controller.params = params
        self.tolerance = float(rest.get('ledger_tolerance', self.tolerance))
        return True, ''

    def start_goal(self, action, fields, time):
        """Run the line for a drain (the mission watches what is left in transit)."""
        if action != 'drain':
            return super().start_goal(action, fields, time)
        return self.controller.start_drain(fields.get('drained_below', math.inf), self.fault)

    def cancel_goal(self, time):
        return self.controller.stop()

    def on_reset(self, time):
        result = self.controller.reset(self.fault)
        self.fault = ''
        return result

    def charge(self, hopper, mass):
        """Feed mass [kg] from a hopper to the furnace (the smelter's charge_furnace)."""
        return self.controller.charge_furnace(hopper, mass, self.engine.masses,
                                              self.books.ledger)


class SmelterUnit(Unit):
    """The furnace's batch controller."""

    def __init__(self, engine, spec, settings):
        super().__init__(engine, spec, settings)
        data = load_yaml(engine.files['smelter_file'])
        design = furnace_design_from(data)
        self.recipes = recipes_from(data)
        self.default_recipe = DEFAULT_RECIPES[engine.body.composition_class]
        self.recipe = settings.get('recipe') or self.default_recipe
        if self.recipe not in self.recipes:
            raise ConfigError(f'smelter: unknown recipe {self.recipe!r}; recipes: '
                              f'{", ".join(sorted(self.recipes))}')
        self.charge_mass = float(settings.get('charge_mass', 0.0))
        params = SmelterParams(**_fields(SmelterParams, settings))
        self.controller = BatchController(params, design, dict(self.recipes),
                                          engine.body.semi_major_axis)
        self.controller.recall(self.memory.recall())
        self.temperature, self.melt = math.nan, 0.0

    def state(self):
        return self.controller.phase.value

    def pace(self):
        """Return its pace: working while a batch is under way."""
        return self.adapter.pace(self.controller)

    def _measurement(self, time):
        return self.adapter.measurement(time, self.temperature, self.melt, self.engine.masses,
                                        self.controller.recipes[self.recipe].source_hopper)

    def tick(self, time, readings, joints):
        sensors = readings.sensors
        self.temperature = sensors[self.adapter.temperature_topic][0]
        self.melt = sensors[self.adapter.melt_topic][0]
        published = self.state()
        command = self.controller.update(self._measurement(time))
        self.memory.remember(**self.controller.record())
        self.send(time, self.adapter.command(command))
        record = self.engine.record
        if self.telemetry_due(time, force=self.state() != published):
            # As the graph's operator sees it: the phase published before this period,
            # the reading of this one and the setpoint it led to.
            record.setpoint = self.controller.setpoint
            record.furnace(time, self.temperature)
            record.batch_energy = self.controller.energy

    def set(self, values):
        recipe, charge = self.recipe, self.charge_mass
        try:
            rest = dict(values)
            if 'recipe' in rest:
                recipe = rest.pop('recipe') or self.default_recipe
                if recipe not in self.controller.recipes:
                    raise ValueError(f'unknown recipe {recipe!r}; recipes: '
                                     f'{", ".join(sorted(self.controller.recipes))}')
            if 'charge_mass' in rest:
                charge = float(rest.pop('charge_mass'))
                if not 0.0 <= charge <= MAX_CHARGE:
                    raise ValueError(f'charge_mass must be within 0..{MAX_CHARGE:g} kg, '
                                     f'got {charge}')
            params = _changed(self.controller.params, rest)
        except ValueError as error:
            return False, str(error)
        self.controller.params, self.recipe, self.charge_mass = params, recipe, charge
        return True, ''

    def start_goal(self, action, fields, time):
        if action != 'smelt_batch':
            return super().start_goal(action, fields, time)
        if 'furnace' not in self.engine.masses or not math.isfinite(self.temperature):
            return False, 'no reading of the furnace yet'
        name = fields.get('recipe') or self.recipe
        try:
            self.controller.recipes[name] = batch_recipe(
                self.recipes, name, fields.get('charge_mass') or self.charge_mass)
        except ValueError as error:
            return False, str(error)
        previous, self.recipe = self.recipe, name
        result = self.controller.start(name, self._measurement(time))
        if not result[0]:
            self.recipe = previous
            return result
        if result[0] and self.controller.feed_request is not None:
            hopper, mass = self.controller.feed_request
            self.controller.feed_request = None
            line = self.engine.line
            accepted, reason = line.charge(hopper, mass) if line else (
                False, 'no material line')
            if line is not None:
                line.wake(time)
            if not accepted:
                self.controller.abort(f'the material line refused the charge: {reason}')
        return result

    def on_cool_down(self, time):
        return self.controller.cool_down()

    def on_reset(self, time):
        return self.controller.reset()


UNITS = {'anchors': AnchoringUnit, 'drill': DrillUnit, 'scraper': ScraperUnit,
         'material_line': LineUnit, 'furnace': SmelterUnit}
# The parameters each unit takes from the params file, by their defaults' types.
UNIT_PARAMS = {'anchors': (AnchoringParams,), 'drill': (DrillParams,),
               'scraper': (ScraperParams, ScrapeRequest), 'material_line': (LineParams,),
               'furnace': (SmelterParams,)}


class Shift:
    """A shift of a rig run by its supervisor, headless (see the module's docstring).

    body, site, anchor_type, rig: as spacemine-shift's options; plan: a plan file, a name
    in config/plans/ or a core.mission.plan.Plan; params_file: the nodes' parameters
    (config/rig.yaml); overrides: {node: {parameter: value}} on top of it; seed and the
    rest of rig_sim's parameters come from its section there. always_step: the rigid body
    steps every physics step (the reference the multi-rate world is checked against).
    data_dir: keep the records a restart takes up; resume: take them up. regolith:
    {density, cohesion, friction_angle} in place of the site's (a campaign's draw).
    An override of a parameter the engine does not take is refused (ShiftError).
    """

    # What the engine takes of the nodes that are not controllers here (the rest of
    # rig_sim's parameters are the graph's: topics, recording, HIL).
    ENGINE_PARAMETERS = {
        'rig_sim': {'seed', 'capacity_spread', 'physics_dt', 'command_timeout', 'control_period',
                    'idle_step', 'checkpoint_period', 'anchor_type', 'bodies_file',
                    'anchors_file', 'power_file', 'material_file', 'smelter_file'},
        'supervisor': {'period_working', 'period_idle', 'liveness_timeout'}}

    def __init__(self, body='bennu', plan='bennu_shift', rig='', site='', anchor_type='',
                 params_file=None, overrides=None, always_step=False, data_dir=None,
                 resume=False, session='headless', world=None, regolith=None):
        overrides = overrides or {}
        entries = load_params_file(params_file or default_params_file())
        sim = self._section(entries, 'rig_sim', 'rig_sim', overrides)
        self.files = {name: sim.get(name) or share_path('config', default) for name, default in (
            ('bodies_file', 'bodies.yaml'), ('anchors_file', 'anchors.yaml'),
            ('power_file', 'power.yaml'), ('material_file', 'material.yaml'),
            ('smelter_file', 'smelter.yaml'))}
        self.anchor_types = load_anchor_types(self.files['anchors_file'])
        self.control_period = float(sim.get('control_period', 0.05))
        # The graph's world stops at least every max_step while anything works, so that an
        # e-stop sent at any wall instant is obeyed within it; here one is obeyed at the
        # instant it is given, and the world goes straight to the next controller due.
        self.max_step = math.inf
        self.idle_step = float(sim.get('idle_step', 1.0))
        supervisor = self._section(entries, 'supervisor', 'supervisor', overrides)
        defaults = Periods()
        self.periods = Periods(self.control_period,
                               float(supervisor.get('period_working', defaults.working)),
                               float(supervisor.get('period_idle', defaults.idle))).validate()
        if world is not None:  # a world made by the caller (the simulation's tests)
            self.world, self.rig, self.body = world, world.rig_interface, world.body
            self.body_key, self.site = world.body.name.lower(), site
            self.anchor_type = world.anchor_type.name
            self.anchor_types.setdefault(self.anchor_type, world.anchor_type)
            self.material_config = world.material_config
        else:
            self.rig = load_rig_interface(rig_file_path(rig))
            self.body_key, self.site = body, site
            self.body = load_body(self.files['bodies_file'], body, site)
            if regolith:
                try:
                    self.body = with_regolith(self.body, regolith)
                except ValueError as error:
                    raise ShiftError(str(error)) from None
            self.anchor_type = anchor_type or sim.get('anchor_type', '')
            design = self.anchor_types.get(self.anchor_type or self.body.site.anchor_type)
            if design is None:
                raise ConfigError(f'unknown anchor_type {self.anchor_type!r}; known: '
                                  f'{", ".join(sorted(self.anchor_types))}')
            self.material_config = load_material_config(self.files['material_file'])
            power = PowerSystem(power_config_from(
                load_yaml(self.files['power_file']).get('power', {}), self.files['power_file']),
                self.body.semi_major_axis, self.body.site.latitude, self.body.rotation_period)
            self.world = RigWorld(
                self.body, design, rig=self.rig, physics_dt=float(sim.get('physics_dt', 0.005)),
                seed=int(sim.get('seed', 0)),
                capacity_spread=float(sim.get('capacity_spread', 0.1)),
                command_timeout=float(sim.get('command_timeout', 0.5)),
                material=self.material_config,
                furnace=furnace_design_from(load_yaml(self.files['smelter_file'])), power=power,
                always_step=always_step)
        self.data_dir, self.session, self.resume = data_dir, session, resume
        self.checkpoints = WorldCheckpoints(data_dir, session) if data_dir else None
        self.checkpoint_period = float(sim.get('checkpoint_period', 5.0))
        self.last_checkpoint = -math.inf
        self.record = ShiftRecord.for_rig(self.rig)
        self.ledger = self.record.ledger  # the rig's ledger as the line publishes it
        self.masses = {}
        self.units = {}
        self.kept = {}  # controllers' records without a data directory
        self.readings = None  # what the world read at the last instant
        self.stops_at = []  # instants the world must stop at (heap): faults, checks
        self.silent_until = {}  # controller: until when its measurements do not come
        self.dead_since = {}  # controller: when its node died (node_restart)
        self.liveness_timeout = float(supervisor.get('liveness_timeout', 10.0))
        try:
            self._check_value_types(params_file or default_params_file(), entries, overrides)
            for spec in self.rig.subsystems.values():
                section = CONTROLLERS[spec.kind][3]
                settings = self._section(entries, section, spec.controller, overrides)
                self.units[spec.name] = UNITS[spec.kind](self, spec, settings)
            self.by_controller = {unit.name: unit for unit in self.units.values()}
            self._check_overrides(overrides)
        except ValueError as error:  # ConfigError included
            self.world.close()
            raise ShiftError(str(error)) from None
        self.anchoring = next(u for u in self.units.values() if isinstance(u, AnchoringUnit))
        self.line = next((u for u in self.units.values() if isinstance(u, LineUnit)), None)
        power = self.world.power
        self.power_shares = PowerShares(power.config if power else power_config_from({}),
                                        self.rig)
        self.store = MissionStore(os.path.join(data_dir, 'mission.sqlite')) if data_dir \
            else None
        self.mission = Mission(self.rig, self._on_event)
        self.events = []
        self.steps = []  # (step number, type, sim time, wall time) as each began
        self.supervisor_tick = -math.inf
        self.restored_from = None
        if resume and data_dir:
            self._take_up()
        if self.mission.plan is None and plan is not None:
            self._load(plan)
        elif self.mission.plan is None and resume:
            raise ShiftError(f'nothing to resume in {data_dir}')
        self.wall = 0.0
        self.halted = ''  # why the run stops though the plan has not ended (halt())

    # Set-up --------------------------------------------------------------------------------
    def _check_value_types(self, path, entries, overrides):
        """Refuse a value of the wrong type for a controller's parameter, in one line.

        In the params file even where an override replaces it (as the graph's launcher
        does: the file is wrong whatever this run sets).
        """
        problems = []
        for spec in self.rig.subsystems.values():
            holds = {f.name: f.default for cls in UNIT_PARAMS[spec.kind]
                     for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING
                     and f.default is not None}
            problems += value_type_problems(
                [(path, entries), ('-p', {f'/**/{spec.controller}':
                                          overrides.get(spec.controller, {})})],
                f'/{spec.controller}', holds)
        if problems:
            raise ValueError('; '.join(problems))

    def _check_overrides(self, overrides):
        """Refuse an override this engine would not use (ValueError naming it)."""
        for node, values in overrides.items():
            unit = self.by_controller.get(node)
            if unit is not None:
                accepted, reason = unit.set(dict(values))
                if not accepted:
                    raise ValueError(f'{node}: {reason}')
            elif node in self.ENGINE_PARAMETERS:
                unknown = sorted(set(values) - self.ENGINE_PARAMETERS[node])
                if unknown:
                    raise ValueError(f'{node}: the headless engine takes no '
                                     f'{", ".join(unknown)} (it takes '
                                     f'{", ".join(sorted(self.ENGINE_PARAMETERS[node]))})')
            else:
                raise ValueError(f'no node {node!r} on this rig; nodes: ' + ', '.join(
                    sorted([*self.by_controller, *self.ENGINE_PARAMETERS])))

    @staticmethod
    def _section(entries, kind, node, overrides):
        """Return a node's parameters as its params file gives them, overrides on top."""
        return {**entries.get('/**', {}), **entries.get(f'/**/{kind}', {}),
                **entries.get(f'/**/{node}', {}), **overrides.get(node, {})}

    def memory(self, name):
        """Return the record a controller keeps across a restart.

        Without a data directory it is kept in this process (a restart within the run).
        """
        if not self.data_dir:
            return self.kept.setdefault(name, _KeptMemory())
        return NodeMemory(self.data_dir, name, self.session, self.resume)

    def _load(self, plan):
        if isinstance(plan, str):
            path = plan if os.sep in plan or plan.endswith(('.yaml', '.yml')) else \
                share_path('config', 'plans', f'{plan}.yaml')
            plan = load_plan(path)
        check_against_rig(plan, self.rig, self.body_key)
        now = self.world.time
        accepted, reason = self.mission.command('load_plan', now, 60.0, now, plan=plan)
        if not accepted:
            raise ShiftError(f'the plan was refused: {reason}')
        if self.store is not None:
            import yaml
            text = yaml.safe_dump({'plan': plan.model_dump(mode='json', exclude_defaults=True)})
            self.store.save_plan(plan.name, plan.name, text, self.mission.snapshot())
        accepted, reason = self.mission.command('start', now, 60.0, now)
        if not accepted:
            raise ShiftError(f'the plan could not start: {reason}')

    def _take_up(self):
        """Go on from the data directory: the world's checkpoint and the stored mission."""
        restored = take_up_checkpoint(self.world, self.checkpoints, self.control_period,
                                      resume=True)
        if restored is not None:
            self.restored_from = restored
            for unit in self.units.values():
                if isinstance(unit, (LineUnit, ScraperUnit)):
                    unit.restored(restored) if isinstance(unit, ScraperUnit) else \
                        unit.restored()
        stored = self.store.mission()
        if stored is not None:
            import yaml
            name, source, text, snapshot = stored
            try:
                plan = plan_from(yaml.safe_load(text)['plan'], source)
            except (PlanError, KeyError, TypeError, yaml.YAMLError) as error:
                raise ShiftError(f'the stored plan cannot be read: {error}') from None
            self.mission.restore(plan, snapshot)
            if snapshot['mode'] == 'running':
                now = self.world.time
                self.mission.command('resume', now, 60.0, now)

    def _on_event(self, kind, text):
        self.events.append((self.world.time, kind, text))
        if self.store is not None:
            if kind in ('mode', 'step'):
                self.store.log(self.world.time, kind, text, self.mission.snapshot(),
                               self.ledger)
            else:
                self.store.log(self.world.time, kind, text)

    # The loop ----------------------------------------------------------------------------------
    @property
    def done(self):
        """Tell whether the plan has ended (completed or aborted)."""
        return self.mission.state in ENDED

    def step(self):
        """Run one instant of the lockstep: the units due, the supervisor, then advance."""
        world, now = self.world, self.world.time
        readings = self.readings = world.readings()
        while self.stops_at and self.stops_at[0] <= now + 1e-9:
            heapq.heappop(self.stops_at)
        self.masses = {name: readings.material_masses[name] for name in MEASURED_ACCOUNTS
                       if name in readings.material_masses}
        joints = Joints(readings.joint_names, readings.joint_positions,
                        readings.joint_velocities, readings.joint_efforts)
        record = self.record
        record.base(now, readings.base_position)
        record.joint_efforts(dict(zip(readings.joint_names, readings.joint_efforts)))
        for name, values in readings.sensors.items():
            if name.endswith('blade_wrench'):
                record.blade(values[:3])
        for unit in self.units.values():
            if unit.due(now) and self._hears(unit.name, now):
                unit.tick(now, readings, joints)
        self._note_states()
        if self._supervisor_due(now):
            self._supervise(now)
            self._note_states()
            step = self.mission.step
            if step is not None and self.mission.state == 'running' and (
                    not self.steps or self.steps[-1][0] != self.mission.step_index + 1):
                self.steps.append((self.mission.step_index + 1, step.type, now,
                                   time.perf_counter()))
        if self.checkpoints is not None:
            self.checkpoints.note_time(now)
            if now - self.last_checkpoint >= self.checkpoint_period:
                self.last_checkpoint = now
                self.checkpoints.save(world)
        world.advance(self._next_step(now))

    def _note_states(self):
        record = self.record
        for unit in self.units.values():
            record.states[unit.name] = unit.state()
        record.safe_capacity = self.anchoring.controller.safe_capacity

    def _hears(self, controller, now):
        """Tell whether a controller's node runs and has its measurements now."""
        return controller not in self.dead_since and \
            now >= self.silent_until.get(controller, -math.inf) - 1e-9

    def _next_step(self, now):
        due = min([u.next_tick for u in self.units.values()] + [self.supervisor_tick])
        world = self.world
        busy = world.awake or world.working() or world.electrical_power() > 0.0
        longest = self.max_step if busy else self.idle_step
        step = min(max(due - now, self.control_period), longest)
        if self.stops_at:  # a fault or a check due sooner (at least one physics step on)
            step = min(step, max(self.stops_at[0] - now, world.physics_dt))
        return step

    def _supervisor_due(self, now):
        return now >= self.supervisor_tick - 1e-9

    def _supervise(self, now):
        mission = self.mission
        mission.liveness({name for name, since in self.dead_since.items()
                          if now - since >= self.liveness_timeout}, now)
        self._follow_estop(now)
        obs = self.observation(now)
        mission.tick(obs)
        self._follow_estop(now)
        self._stops(now)
        while True:
            action = mission.next_action(obs)
            if action is None:
                break
            success, message = self._act(action, now)
            mission.action_done(action, success, message, now)
            obs = self.observation(now)
        self._stops(now)
        self._share_power(now)
        pace = Pace.WORKING if mission.state in ('running', 'paused', 'holding') else Pace.IDLE
        self.supervisor_tick = now + self.periods.until_next(pace, now)

    def _act(self, action, now):
        """Do a mission action as the controller's node would (its goal, cancel or call)."""
        controller = action.controller if isinstance(action, (Goal, Cancel)) else \
            action.service.partition('/')[0]
        unit = self.by_controller.get(controller)
        if unit is None or controller in self.dead_since:
            return False, f'no controller {controller}' if unit is None else \
                f'{controller} is not running'
        if isinstance(action, Goal) and not self._hears(controller, now):
            return False, f'{controller}: its measurements stopped: nothing starts blind'
        pace = unit.pace()
        if isinstance(action, Goal):
            result = unit.start_goal(action.action, dict(action.fields), now)
        elif isinstance(action, Cancel):
            result = unit.cancel_goal(now)
        else:
            result = unit.call(action.service.partition('/')[2], now)
        if unit.pace() != pace:
            unit.wake(now)
        return result

    def _stops(self, now):
        for action in self.mission.take_stop_actions():
            self._act(action, now)

    def _share_power(self, now):
        step = self.mission.step if self.mission.state == 'running' else None
        power = self.world.power
        if power is None:  # an unlimited supply: the controllers keep their own budgets
            return
        states_now = {u.name: u.state() for u in self.units.values()}
        available = power.available()
        active = active_consumers(self.rig, states_now, step.type if step else '')
        for controller, values in self.power_shares.shares(available, active).items():
            unit = self.by_controller.get(controller)
            if unit is not None and unit.set(values)[0]:
                self.power_shares.sent(controller, values)

    def observation(self, now):
        """Return what the supervisor knows of the rig now (as the graph's would)."""
        ledger = self.ledger
        in_transit = (sum(ledger.get(name, 0.0) for name in IN_TRANSIT)
                      if self.line is None or self.line.books.heard_all() and
                      self.line.ledger_at is not None else math.inf)
        power = self.world.power
        return Observation(time=now, states={u.name: u.state() for u in self.units.values()
                                             if u.name not in self.dead_since},
                           safe_capacity=self.anchoring.controller.safe_capacity,
                           in_transit=in_transit,
                           power_available=power.available() if power else math.inf,
                           battery=power.state_of_charge if power else 1.0)

    # Faults and the operator (campaigns' fault schedules, tests) ---------------------------------
    def halt(self, reason):
        """Stop run() at the next instant, though the plan has not ended (it fails)."""
        self.halted = reason

    def on_grid(self, instant):
        """Return the first control instant at or after `instant` [s].

        The controllers act on the control period's grid, and a command holds until its
        next tick there: a world stopped off the grid would let each command lapse before
        its controller renews it. What strikes between two instants strikes at the next.
        """
        return on_control_grid(instant, self.control_period)

    def stop_at(self, instant):
        """Make the world stop at a sim instant [s] (on the control grid: on_grid)."""
        instant = self.on_grid(instant)
        if instant > self.world.time + 1e-9:
            heapq.heappush(self.stops_at, instant)

    def operator_command(self, name, plan=None):
        """Give the supervisor an operator's command now (as spacemine-command does).

        An e-stop reaches every node at once, as the rig-wide e-stop topic does: the world
        latches it (every actuator safe), each controller faults what it does; a reset
        releases the world's latch once the supervisor has accepted it. Returns
        (accepted, reason).
        """
        now = self.world.time
        extra = {'plan': plan} if plan is not None else {}
        accepted, reason = self.mission.command(name, now, 60.0, now, **extra)
        self._follow_estop(now)
        self.supervisor_tick = now  # the supervisor acts on it at this instant
        return accepted, reason

    def _follow_estop(self, now):
        """Latch or release the rig-wide e-stop as the supervisor holds it.

        The graph's supervisor publishes its e-stop on the latched estop topic whatever
        latched it (the operator, a silent node, a stream's fault) and every node obeys:
        the world makes every actuator safe and each controller faults what it does.
        """
        latched = self.mission.state == 'estopped'
        if latched and not self.world.estop:
            self.world.set_estop(True)
            for unit in self.units.values():
                if unit.name in self.dead_since:
                    continue  # a dead node hears nothing (it starts stopped)
                unit.controller.input_lost('e-stop latched')
                unit.stop(now)
            self._note_states()
        elif not latched and self.world.estop:
            self.world.set_estop(False)

    def silence(self, controller, seconds):
        """Stop a controller's measurements for `seconds` (a sensor, a field-bus device).

        It faults what it does (its inputs lost), its actuators go safe, and it refuses to
        start anything until they come again.
        """
        unit, now = self.unit(controller), self.world.time
        unit.controller.input_lost(f'{controller}: its measurements stopped')
        unit.stop(now)
        self.silent_until[controller] = self.on_grid(now + seconds)
        self.stop_at(now + seconds)
        self._note_states()

    def device_silent(self, controller, seconds):
        """Make a controller's field-bus devices stop answering for `seconds`.

        Its measurements stop (silence()) and no command reaches its drives, which keep
        the last one until it lapses and then stop (RigWorld.deafen).
        """
        deafen_devices(self.world, self.rig, controller, self.on_grid(self.world.time + seconds))
        self.silence(controller, seconds)

    def kill(self, controller):
        """Kill a controller's node.

        It stops acting and answering, its commands lapse (the world holds its drives),
        and the supervisor hears it silent after its liveness_timeout (sim seconds here).
        """
        now = self.world.time
        self.unit(controller)
        self.dead_since.setdefault(controller, now)
        self.stop_at(now + self.liveness_timeout)

    def restart(self, controller):
        """Start a killed controller's node again: a new controller taking up its record."""
        old = self.unit(controller)
        settings = old.settings
        unit = UNITS[old.spec.kind](self, old.spec, settings)
        self.units[old.spec.name] = unit
        self.by_controller[controller] = unit
        if old is self.anchoring:
            self.anchoring = unit
        if old is self.line:
            self.line = unit
        self.power_shares.forget(controller)  # a new node has its own defaults: send again
        self.dead_since.pop(controller, None)
        # The supervisor hears a new instance (the graph's: a new writer of its state).
        self.mission.restarted(controller, self.world.time)
        self.supervisor_tick = self.world.time

    def cut_power(self, seconds):
        """Cut the power bus for `seconds` (a supply fault): a brownout."""
        until = self.on_grid(self.world.time + seconds)
        try:
            self.world.cut_power(until)
        except ValueError as error:
            raise ShiftError(str(error)) from None
        self.stop_at(until)

    def slip_anchor(self, index, fraction):
        """Anchor `index` keeps only `fraction` of its holding capacity from now on."""
        try:
            self.world.slip_anchor(index, fraction)
        except ValueError as error:
            raise ShiftError(str(error)) from None

    # Driving it by hand (the simulation's tests) ---------------------------------------------
    def unit(self, controller):
        """Return the unit of a controller (by its name, e.g. 'drill')."""
        return self.by_controller[controller]

    def goal(self, controller, action, **fields):
        """Send a goal to a controller's action now; return (started, reason).

        E.g. goal('drill', 'drill_to_depth', depth=0.2); a field left out: the node's own
        parameter.
        """
        return self._act(Goal(controller, action, tuple(fields.items())), self.world.time)

    def cancel(self, controller, action):
        """Cancel a controller's goal now (its tool's safe stop); return (stopped, message)."""
        return self._act(Cancel(controller, action), self.world.time)

    def call(self, controller, service):
        """Call a controller's service (e.g. 'scraper', 'reset') now; return (ok, message)."""
        return self._act(Call(f'{controller}/{service}'), self.world.time)

    def set(self, controller, **values):
        """Set a controller's parameters (atomically); return (accepted, reason)."""
        return self.unit(controller).set(values)

    def run_until(self, done, seconds, on_step=None):
        """Step until done() or `seconds` of simulated time have passed; return done()."""
        end = self.world.time + seconds
        while not done() and self.world.time < end:
            self.step()
            if on_step is not None:
                on_step(self)
        return done()

    def run(self, until=math.inf, wall_limit=math.inf, on_step=None):
        """Run until the plan ends (or sim time `until`, or `wall_limit` wall seconds).

        on_step(shift) is called after each instant (a progress line, a fault to inject).
        Returns the summary's figures (spacemine_ros.summary), result completed, failed
        (the plan aborted, or a limit reached first) with the reason.
        """
        start = time.perf_counter()
        result, reason = 'failed', ''
        try:
            while not self.done:
                if self.halted:
                    reason = self.halted
                    break
                if self.world.time >= until:
                    reason = f'stopped at {until:g} s of simulated time'
                    break
                if time.perf_counter() - start > wall_limit:
                    reason = f'gave up after {wall_limit:g} wall seconds'
                    break
                self.step()
                if on_step is not None:
                    on_step(self)
            if self.mission.state == 'completed':
                result = 'completed'
            elif self.done:
                reason = f'the supervisor ended in aborted: {self.mission.reason}'
        finally:
            self.wall += time.perf_counter() - start
        return self.figures(result, reason)

    def figures(self, result='', reason=''):
        """Return the summary's figures of the shift so far."""
        record = self.record
        record.sim_time = self.world.time
        record.batch_energy = next((u.controller.energy for u in self.units.values()
                                    if isinstance(u, SmelterUnit)), 0.0)
        goal = max((u.controller.params.goal_depth for u in self.units.values()
                    if isinstance(u, DrillUnit)), default=0.0)
        figures = summary(record, self.wall, goal, result, reason)
        figures['plan'] = self.mission.plan.name if self.mission.plan else ''
        figures['data_dir'] = self.data_dir or ''
        figures['steps'] = step_timeline(self.steps, self.world.time, time.perf_counter())
        figures['physics_steps'] = self.world.physics_steps
        figures.update(site_figures(self.body))
        return figures

    def stop(self):
        """Leave every actuator safe and keep what a resume needs."""
        now = self.world.time
        for unit in self.units.values():
            unit.stop(now)
        if self.checkpoints is not None:
            self.checkpoints.save(self.world, wait=True)

    def close(self):
        """Release the world and the records."""
        if self.checkpoints is not None:
            self.checkpoints.close()
        if self.store is not None:
            self.store.close()
        self.world.close()

    def __enter__(self):
        """Use as a context manager that closes the shift."""
        return self

    def __exit__(self, *exc):
        """Close the shift."""
        self.close()


def deafen_devices(world, rig, controller, until):
    """Let no command reach the drives a controller commands until a sim instant [s]."""
    subsystems = [s.name for s in rig.subsystems.values() if s.controller == controller]
    if not subsystems:
        raise ShiftError(f'{controller} commands no field-bus device')
    for name in subsystems:
        world.deafen(name, until)


def with_regolith(body, changes):
    """Return the body with its regolith's properties changed (ValueError if one is bad)."""
    regolith = body.regolith
    unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(regolith)})
    if unknown:
        raise ValueError(f'regolith has no {", ".join(unknown)}')
    for name, value in changes.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0.0):
            raise ValueError(f'regolith.{name} must be a number above 0, got {value!r}')
    if changes.get('friction_angle', 0.0) >= math.pi / 2.0:
        raise ValueError('regolith.friction_angle must be below pi/2 rad')
    return dataclasses.replace(body, regolith=dataclasses.replace(
        regolith, **{name: float(value) for name, value in changes.items()}))


def run(body='bennu', plan='bennu_shift', **options):
    """Run a whole headless shift; return its summary's figures (see Shift)."""
    with Shift(body=body, plan=plan, **options) as shift:
        return shift.run()


__all__ = ['run', 'Shift', 'ShiftError']
