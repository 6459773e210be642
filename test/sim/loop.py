"""The controllers wired to a RigWorld as the nodes wire them (for sim tests and benches)."""

import dataclasses
import math

from spacemine_ros.core.control.anchoring import (
    AnchoringController, AnchoringParams, AnchoringState, ForceBudget)
from spacemine_ros.core.models.anchors import anchor_capacity
from spacemine_ros.core.control.drill import (
    DrillController, DrillMeasurement, DrillParams, DrillState)
from spacemine_ros.core.models.material_config import IN_TRANSIT
from spacemine_ros.core.control.material_handling import build_line, LineMeasurement, LineParams
from spacemine_ros.core.control.scraper import (
    ROLES, ScrapeRequest, ScraperController, ScraperMeasurement, ScraperParams, ScraperState)
from spacemine_ros.core.control.smelter import (
    BatchController, Phase, recipes_from, SmelterMeasurement, SmelterParams)
from spacemine_ros.core.config import load_yaml
from spacemine_ros.paths import share_path
from test.sim import commands

PERIOD = 0.05


class Loop:
    """Anchoring, drill(s), scraper, material line and smelter controllers driving the world.

    One controller per subsystem of the world's rig file; the anchoring controller's
    force budget shares the tools' force among them as the anchoring node does.
    """

    def __init__(self, world, goal_depth=0.15, anchoring=None, line=None, drill=None,
                 scraper=None):
        self.world = world
        rig = world.rig_interface
        design = world.anchor_type
        nominal = anchor_capacity(design, world.body.site.substrate, world.body.regolith,
                                  world.gravity_magnitude, design.embed_depth)
        params = AnchoringParams(design.embed_depth, nominal)
        self.anchors = rig.by_kind('anchors')[0]
        self.anchoring = AnchoringController(
            len(self.anchors.joints), dataclasses.replace(params, **(anchoring or {})))
        self.budget = ForceBudget(rig.budget_tools)
        drill_params = dataclasses.replace(DrillParams(goal_depth=goal_depth), **(drill or {}))
        self.drills = {spec.name: DrillController(drill_params)
                       for spec in rig.by_kind('drill')}
        self.drill = next(iter(self.drills.values()), None)  # the first drill
        self.scraper_spec = next(iter(rig.by_kind('scraper')), None)
        self.scraper = ScraperController(
            dataclasses.replace(ScraperParams(), **scraper) if scraper else None)
        self.line = material_line(world, line)
        recipes = recipes_from(load_yaml(share_path('config', 'smelter.yaml')))
        self.smelter = BatchController(SmelterParams(), world.furnace.design, recipes,
                                       world.body.semi_major_axis)
        self.thrust_vs_capacity = []
        self.tool_load_vs_budget = []

    def step(self):
        world = self.world
        readings = world.readings()
        names = readings.joint_names
        row = {name: i for i, name in enumerate(names)}
        positions = dict(zip(names, readings.joint_positions))
        anchor_commands = self.anchoring.update(readings.time, readings.anchor_embeds,
                                                readings.anchor_loads, readings.base_position)
        commands.anchors(world, [c.embed_depth for c in anchor_commands],
                         [c.tension for c in anchor_commands])
        anchored = self.anchoring.state == AnchoringState.ANCHORED
        capacity = self.anchoring.safe_capacity
        budget = self.anchoring.tool_budget
        for name, drill in self.drills.items():
            self.budget.request(name, drill.request)
        if self.scraper_spec is not None:
            self.budget.request(self.scraper_spec.name, self.scraper.request_force)
        allowances = self.budget.allowances(budget)
        thrusts = 0.0
        for name, drill in self.drills.items():
            spec = world.rig_interface.subsystems[name]
            feed, spindle = row[spec.joint('feed').name], row[spec.joint('spindle').name]
            measurement = DrillMeasurement(
                readings.time, readings.joint_positions[feed],
                readings.joint_velocities[spindle], readings.joint_efforts[feed],
                readings.joint_efforts[spindle])
            command = drill.update(measurement, anchored, allowances[name], budget)
            commands.drill(world, command.feed_speed, command.thrust_limit,
                           command.spindle_speed, topic=spec.command_topic)
            self.budget.report_load(name, measurement.thrust)
            thrusts += measurement.thrust
        blade = 0.0
        if self.scraper_spec is not None:
            spec = self.scraper_spec
            blade = math.sqrt(sum(f * f for f in readings.sensors[f'{spec.name}/blade_wrench'][:3]))
            arm = {role: positions[spec.joint(role).name] for role in ROLES}
            scrape = self.scraper.update(
                ScraperMeasurement(readings.time, arm, blade,
                                   readings.material_masses['scraper']),
                anchored, allowances[spec.name])
            commands.scraper(world, scrape.positions, scrape.force_limit, scrape.velocities)
            self.budget.report_load(spec.name, blade)
        line = self.line.update(line_measurement(readings))
        commands.material(world, line_speeds(line))
        smelt = self.smelter.update(smelter_measurement(self.smelter, readings))
        if self.smelter.feed_request is not None:
            hopper, mass = self.smelter.feed_request
            self.smelter.feed_request = None
            masses = readings.material_masses
            accepted, message = self.line.request_feed(
                hopper, mass, masses[hopper], world.material.ledger.room('furnace'))
            assert accepted, message
        commands.furnace(world, smelt.heater_power, smelt.door_open, smelt.tap_open)
        self.thrust_vs_capacity.append((thrusts, capacity))
        self.tool_load_vs_budget.append((thrusts + blade, budget))
        world.advance(PERIOD)

    def run_until(self, done, seconds):
        for _ in range(int(seconds / PERIOD)):
            if done():
                return True
            self.step()
        return done()

    def anchor(self, seconds=120.0):
        self.anchoring.deploy()
        assert self.run_until(lambda: self.anchoring.state == AnchoringState.ANCHORED, seconds)
        return self


def material_line(world, overrides=None):
    params = dataclasses.replace(LineParams(), **(overrides or {}))
    return build_line(world.material_config, params, world.body.launch_site(),
                      world.body.regolith.density, world.body.effective_gravity())


def line_measurement(readings):
    names = readings.joint_names
    masses = readings.material_masses
    return LineMeasurement(
        time=readings.time,
        conveyor_torque=readings.joint_efforts[names.index('conveyor_screw')],
        conveyor_load=masses['conveyor'],
        conveyor_discharged=readings.delivered['conveyor_discharge']
        + readings.lost['conveyor_discharge'],
        hopper_masses={k: v for k, v in masses.items() if k.startswith('hopper_')},
        fed=sum(v for k, v in readings.delivered.items() if k.startswith('feed_')))


def line_speeds(command):
    speeds = {'conveyor_screw': command.conveyor, 'separator_drum': command.separator}
    for hopper, speed in (command.feeders or {}).items():
        speeds[f'feeder_{hopper[len("hopper_"):]}'] = speed
    return speeds


def smelter_measurement(smelter, readings, hopper=None):
    masses = readings.material_masses
    if hopper is None and smelter.recipe:
        hopper = smelter.recipe.source_hopper
    return SmelterMeasurement(readings.time, readings.furnace_temperature,
                              readings.melt_fraction, masses['furnace'],
                              masses.get(hopper, 0.0) if hopper else 0.0)


def params_file_sections(path=None):
    """Return {node: {parameter: value}} of config/rig.yaml's /**/<node> sections."""
    from spacemine_ros.params_files import load_params_file
    entries = load_params_file(path or share_path('config', 'rig.yaml'))
    return {key.split('/')[-1]: values for key, values in entries.items()}


def fields_of(cls, values):
    """Return the entries of values that are fields of the dataclass cls."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if k in names}


def configured_loop(world, depth):
    """Return a Loop with config/rig.yaml's settings, as the nodes would have them."""
    sections = params_file_sections()
    return Loop(world, goal_depth=depth,
                anchoring=fields_of(AnchoringParams, sections.get('anchoring', {})),
                line=fields_of(LineParams, sections.get('material_handling', {})),
                drill=fields_of(DrillParams, sections.get('drill', {})),
                scraper=fields_of(ScraperParams, sections.get('scraper', {})))


def run_shift(loop, recipe, passes=3, drained=0.005, limit=4000.0):
    """Run make sim's steps on a Loop: anchor, line, drill, scrape, drain, smelt.

    Returns the simulated time it took; AssertionError if a step fails or stalls.
    """
    world = loop.world
    loop.anchor()
    assert loop.line.start()[0]
    budget = loop.anchoring.tool_budget
    for drill in loop.drills.values():
        assert drill.start(True, budget)[0]
    assert loop.run_until(lambda: all(d.state in (DrillState.DONE, DrillState.FAULT)
                                      for d in loop.drills.values()), limit)
    assert all(d.state == DrillState.DONE for d in loop.drills.values())
    if passes:
        scraper = params_file_sections().get('scraper', {})
        request = ScrapeRequest(**{**fields_of(ScrapeRequest, scraper), 'passes': passes})
        assert loop.scraper.start(request, True, loop.anchoring.tool_budget)[0]
        assert loop.run_until(lambda: loop.scraper.state in (ScraperState.DONE,
                                                             ScraperState.FAULT), limit)
        assert loop.scraper.state == ScraperState.DONE

    def in_transit():
        masses = world.material.masses()
        return sum(masses[name] for name in IN_TRANSIT)
    assert loop.run_until(lambda: in_transit() < drained, limit)
    accepted, message = loop.smelter.start(
        recipe, smelter_measurement(loop.smelter, world.readings(),
                                    loop.smelter.recipes[recipe].source_hopper))
    assert accepted, message
    assert loop.run_until(lambda: loop.smelter.phase in (Phase.DONE, Phase.FAULT), limit)
    assert loop.smelter.phase == Phase.DONE, loop.smelter.reason
    return world.time
