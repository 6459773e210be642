"""The controllers wired to a RigWorld as the nodes wire them (for sim tests and benches)."""

import dataclasses
import math

from spacemine_ros.core.anchoring import (
    anchor_capacity, AnchoringController, AnchoringParams, AnchoringState)
from spacemine_ros.core.drill_controller import DrillController, DrillMeasurement, DrillParams
from spacemine_ros.core.material_handling import build_line, LineMeasurement, LineParams
from spacemine_ros.core.scraper import ScraperController, ScraperMeasurement
from spacemine_ros.core.smelter import (
    BatchController, recipes_from, SmelterMeasurement, SmelterParams)
from spacemine_ros.core.config import load_yaml
from spacemine_ros.paths import share_path

PERIOD = 0.05


class Loop:
    """Anchoring, drill, scraper and material line controllers driving the world."""

    def __init__(self, world, goal_depth=0.15, anchoring=None, line=None):
        self.world = world
        design = world.anchor_type
        nominal = anchor_capacity(design, world.body.site.substrate, world.body.regolith,
                                  world.gravity_magnitude, design.embed_depth)
        params = AnchoringParams(design.embed_depth, nominal)
        self.anchoring = AnchoringController(
            4, dataclasses.replace(params, **(anchoring or {})))
        self.drill = DrillController(DrillParams(goal_depth=goal_depth))
        self.scraper = ScraperController()
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
        positions = dict(zip(names, readings.joint_positions))
        commands = self.anchoring.update(readings.time, readings.anchor_embeds,
                                         readings.anchor_loads, readings.base_position)
        world.command_anchors([c.embed_depth for c in commands], [c.tension for c in commands])
        anchored = self.anchoring.state == AnchoringState.ANCHORED
        capacity = self.anchoring.safe_capacity
        blade = math.sqrt(sum(f * f for f in readings.blade_force))
        measurement = DrillMeasurement(
            readings.time, positions['drill_feed'],
            readings.joint_velocities[names.index('drill_spindle')], readings.bit_thrust,
            readings.bit_torque)
        command = self.drill.update(measurement, anchored, capacity, shared_load=blade)
        world.command_drill(command.feed_speed, command.thrust_limit, command.spindle_speed)
        scrape = self.scraper.update(
            ScraperMeasurement(readings.time, positions, blade, readings.bit_thrust,
                               readings.material_masses['scraper']),
            anchored, capacity)
        world.command_scraper(scrape.positions, scrape.force_limit, scrape.velocities)
        line = self.line.update(line_measurement(readings))
        world.command_material(line_speeds(line))
        smelt = self.smelter.update(smelter_measurement(self.smelter, readings))
        if self.smelter.feed_request is not None:
            hopper, mass = self.smelter.feed_request
            self.smelter.feed_request = None
            masses = readings.material_masses
            accepted, message = self.line.request_feed(
                hopper, mass, masses[hopper], world.material.ledger.room('furnace'))
            assert accepted, message
        world.command_furnace(smelt.heater_power, smelt.door_open, smelt.tap_open)
        self.thrust_vs_capacity.append((readings.bit_thrust, capacity))
        self.tool_load_vs_budget.append((readings.bit_thrust + blade,
                                         self.drill.params.capacity_fraction * capacity))
        world.step(PERIOD)

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
    return build_line(world.material_config, params, world.body.escape_velocity,
                      world.body.regolith.density)


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
