"""smelter: runs furnace batches by recipe under a temperature loop with interlocks.

Charging goes through the material line: one call of its charge_furnace service
(spacemine_interfaces/ChargeFurnace) with the recipe's hopper and the charge mass. The
heater, door and tap are the rig file's furnace subsystem's, by role; its thermocouple
and melt probe come on <subsystem>/temperature and <subsystem>/melt_fraction.
"""

import math
import sys

from sensor_msgs.msg import Temperature
from spacemine_interfaces.action import SmeltBatch
from spacemine_interfaces.msg import FurnaceStatus
from spacemine_interfaces.srv import ChargeFurnace
from std_msgs.msg import Float64
from std_srvs.srv import Trigger

from spacemine_ros.core.models.body import load_body
from spacemine_ros.core.config import ConfigError, load_yaml
from spacemine_ros.core.control import states
from spacemine_ros.core.control.goals import job_outcome
from spacemine_ros.core.control.adapters import FurnaceAdapter
from spacemine_ros.core.control.smelter import (
    batch_recipe, BatchController, MAX_CHARGE, Phase, recipes_from, SmelterParams)
from spacemine_ros.core.models.thermal import furnace_design_from
from spacemine_ros.nodes.actions import controller_state, ToolAction
from spacemine_ros.core.control.ticks import Pacer
from spacemine_ros.nodes.common import (
    changed_params, config_file, ControllerNode, declare, rig_subsystem,
    SITE_DESCRIPTION, spin_node, stamp_to_seconds)
from spacemine_ros.nodes.rig_inputs import RigInputs

TUNABLES = {
    'kp': ('Proportional gain [W/K]', 0.0, 1e5),
    'ki': ('Integral gain [W/(K s)]', 0.0, 1e4),
    'kd': ('Derivative gain, on the measurement [W s/K]', 0.0, 1e5),
    'power_budget': ('Heater power the supervisor allows [W]', 0.0, 1e6),
    'max_temperature': ('Over-temperature trip [K]', 300.0, 3000.0),
    'safe_charge_temperature': ('No charging above this furnace temperature [K]', 250.0,
                                2000.0),
    'thermocouple_min': ('Lowest physical thermocouple reading [K]', 0.0, 1000.0),
    'thermocouple_max': ('Highest physical thermocouple reading [K]', 500.0, 5000.0),
    'stuck_time': ('Time a reading may stay within stuck_band ... [s]', 1.0, 600.0),
    'stuck_band': ('... [K] ...', 1e-4, 10.0),
    'stuck_rise': ('... while the energy balance predicts this change [K]', 0.1, 500.0),
    'settle_band': ('Within this of the soak temperature counts as there [K]', 0.1, 200.0),
    'charge_timeout': ('Time to receive the charge [s]', 1.0, 7200.0),
    'charge_tolerance': ('Share of the charge that may be missing', 0.0, 0.5),
}
DEFAULT_RECIPES = {'C': 'volatile_extraction', 'S': 'metal_smelting', 'M': 'metal_smelting'}


class SmelterNode(ControllerNode):
    """Smelter controller node."""

    def __init__(self, **kwargs):
        super().__init__('smelter', **kwargs)
        self.rig, spec = rig_subsystem(self, 'furnace')
        self.adapter = FurnaceAdapter(spec)
        line = self.rig.by_kind('material_line')
        body_key = declare(self, 'body', 'bennu', 'Body preset from the bodies file',
                           read_only=True)
        bodies_file = config_file(self, 'bodies_file', 'bodies.yaml', 'Body presets YAML')
        smelter_file = config_file(self, 'smelter_file', 'smelter.yaml',
                                   'Furnace and recipes YAML')
        recipe = declare(self, 'recipe', '', "Recipe of a batch whose goal gives none ('': by "
                         "the body's "
                         'class, C -> volatile_extraction, S/M -> metal_smelting)')
        self.charge_mass = declare(self, 'charge_mass', 0.0, 'Charge of a batch whose goal '
                                   "gives 0 [kg] (0: the recipe's charge_mass)", 0.0,
                                   MAX_CHARGE)
        params = self.declare_params(SmelterParams(), TUNABLES)
        try:
            site = declare(self, 'site', '', SITE_DESCRIPTION, read_only=True)
            body = load_body(bodies_file, body_key, site)
            data = load_yaml(smelter_file)
            design = furnace_design_from(data)
            recipes = recipes_from(data)
        except (ConfigError, ValueError) as error:  # not started: spin_node says why, once
            raise ValueError(f'smelter: {error}') from None
        self.default_recipe = DEFAULT_RECIPES[body.composition_class]
        self.recipe = recipe or self.default_recipe
        if self.recipe not in recipes:
            raise ConfigError(f'smelter: unknown recipe {self.recipe!r}; recipes: '
                              f'{", ".join(sorted(recipes))}')
        self.recipes = recipes  # as the file gives them; a batch may take another charge
        self.controller = BatchController(params, design, dict(recipes), body.semi_major_axis)
        # The batch of the controller before this one (a restart): a finished one stays
        # DONE, one being charged, tapped or cooled is gone on with at the next start.
        self.controller.recall(self.memory.recall())
        if self.memory.problem:
            self.get_logger().warning(self.memory.problem)
        self.masses = {}
        self.melt_fraction = 0.0
        self.last_temperature = math.nan

        self.readings = RigInputs(self)  # the rig_state or a topic per sensor
        self.readings.take(self.adapter.melt_topic, Float64, self._on_melt)
        for account in ('furnace', 'hopper_metal', 'hopper_silicate', 'products', 'slag',
                        'volatiles'):
            self.readings.take(f'material/{account}/mass', Float64,
                               lambda message, account=account: self._on_mass(account, message))
        self.readings.take(self.adapter.temperature_topic, Temperature, self._on_temperature)
        self.commands_on(spec)
        # The batch's figures: at each phase change, else once per telemetry_period.
        self.status_pub = self.create_publisher(FurnaceStatus, '~/status', 10)
        self.status_pacer = Pacer(self.telemetry_period)
        self.masses_at_start = {}
        self.serve(ToolAction(self, SmeltBatch, '~/smelt_batch', self._start, self._outcome,
                              self._feedback, self._result, stop=self._stop))
        self.create_service(Trigger, '~/cool_down', self._on_cool_down)
        self.create_service(Trigger, '~/reset', self._on_reset)
        self.charge_client = self.create_client(
            ChargeFurnace,
            f'{line[0].controller if line else "material_handling"}/charge_furnace')
        self.ready([self.adapter.temperature_topic])

    # Parameters and services --------------------------------------------------------------
    def settings_from(self, parameters):
        """Return (params, recipe) the parameters would give; ValueError if bad."""
        params = changed_params(self.controller.params, parameters, TUNABLES)
        recipe, charge_mass = self.recipe, self.charge_mass
        for parameter in parameters:
            if parameter.name == 'charge_mass':
                charge_mass = float(parameter.value)
            if parameter.name == 'recipe':
                recipe = parameter.value or self.default_recipe
                if recipe not in self.controller.recipes:
                    raise ValueError(f'unknown recipe {parameter.value!r}; recipes: '
                                     f'{", ".join(sorted(self.controller.recipes))}')
        return params, recipe, charge_mass

    def use_settings(self, settings):
        """Use the checked params, recipe and charge."""
        self.controller.params, self.recipe, self.charge_mass = settings

    def _measurement(self, time=None):
        recipe = self.controller.recipes[self.recipe]
        if time is None:
            time = self.controller.last.time if self.controller.last else 0.0
        return self.adapter.measurement(time, self.last_temperature, self.melt_fraction,
                                        self.masses, recipe.source_hopper)

    # The smelt_batch action (nodes.actions) ------------------------------------------
    def _start(self, goal):
        missing = self.refused_before_inputs()  # nothing heard yet: say so, not 'reads nan'
        if not missing and 'furnace' not in self.masses:
            missing = 'no material/furnace/mass received yet'  # charged or not: unknown
        if missing:
            return False, missing
        name = goal.recipe or self.recipe
        try:
            self.controller.recipes[name] = batch_recipe(
                self.recipes, name, goal.charge_mass or self.charge_mass)
        except ValueError as error:
            return False, str(error)
        previous, self.recipe = self.recipe, name
        result = self.controller.start(name, self._measurement())
        if not result[0]:
            self.recipe = previous
            return result
        self.masses_at_start = dict(self.masses)
        if self.controller.feed_request is not None:  # None: charged already
            self._request_charge()
        return result

    def _stop(self):
        _, message = self.controller.abort('canceled')
        return True, message  # one already cooling stops all the same

    def _outcome(self):
        return job_outcome(self.controller.phase.value, states.FURNACE_WORKING,
                           self.controller.reason, lambda: f'batch of {self.recipe} done')

    def _feedback(self):
        controller = self.controller
        return SmeltBatch.Feedback(
            state=controller_state(controller.phase.value),
            temperature=float(self.last_temperature),
            power=float(controller.command.heater_power),
            progress=float(controller.progress))

    def _made(self, account):
        return float(self.masses.get(account, 0.0) - self.masses_at_start.get(account, 0.0))

    def _result(self, succeeded, message):
        return SmeltBatch.Result(
            success=succeeded, message=message, products_mass=self._made('products'),
            slag_mass=self._made('slag'), volatiles_mass=self._made('volatiles'),
            energy=float(self.controller.energy))

    def _on_cool_down(self, request, response):
        return self.respond(response, self.controller.cool_down(), 'cool_down')

    def _on_reset(self, request, response):
        return self.respond(response, self.controller.reset(), 'reset')

    def _request_charge(self):
        """Ask the material line for the charge, in one call (answered asynchronously)."""
        hopper, mass = self.controller.feed_request
        self.controller.feed_request = None
        if not self.charge_client.service_is_ready():
            self.controller.abort('the material line is not available to charge the furnace')
            return
        request = ChargeFurnace.Request(source=hopper, mass=float(mass))
        self.charge_client.call_async(request).add_done_callback(self._on_charged)

    def _on_charged(self, future):
        response = future.result()
        if response is None or not response.success:
            reason = response.message if response else 'no answer'
            self.controller.abort(f'the material line refused the charge: {reason}')
        self.publish_state()

    # Sensors and control -------------------------------------------------------------------
    def _on_melt(self, message):
        self.melt_fraction = message.data if math.isfinite(message.data) else 0.0

    def _on_mass(self, account, message):
        if math.isfinite(message.data):
            self.masses[account] = message.data

    def pace(self):
        """Return the pace: working while a batch is under way."""
        return self.adapter.pace(self.controller)

    def _on_temperature(self, message):
        self.inputs.saw(self.adapter.temperature_topic)
        stamp = stamp_to_seconds(message.header.stamp)
        if not self.new_period(stamp) or not self.due(message.header.stamp):
            return
        self.last_temperature = message.temperature  # NaN included: the interlock decides
        command = self.controller.update(self._measurement(stamp))
        problem = self.memory.remember(**self.controller.record())  # on a change of phase
        if problem:
            self.get_logger().error(problem, throttle_duration_sec=30.0)
        self.send(message.header.stamp, self.adapter.command(command))
        if self.status_pacer.take(stamp, force=self.state_changes()):
            controller = self.controller
            status = FurnaceStatus(
                phase=controller_state(controller.phase.value), recipe=self.recipe,
                temperature=float(message.temperature), setpoint=float(controller.setpoint),
                heater_power=float(command.heater_power), progress=float(controller.progress),
                batch_energy=float(controller.energy),
                products_mass=float(self.masses.get('products', 0.0)),
                slag_mass=float(self.masses.get('slag', 0.0)),
                volatiles_mass=float(self.masses.get('volatiles', 0.0)))
            status.stamp = message.header.stamp
            self.status_pub.publish(status)
        self.publish_state()

    # Status --------------------------------------------------------------------------------
    def condition(self):
        """Return (phase, reason, diagnostic level) of the batch."""
        controller = self.controller
        level = 'ERROR' if controller.phase == Phase.FAULT else 'OK'
        return controller.phase.value, controller.reason, level

    def status_values(self):
        """Return the figures for the diagnostics."""
        controller = self.controller
        return {'recipe': self.recipe,
                'temperature_K': f'{self.last_temperature:.1f}',
                'setpoint_K': f'{controller.setpoint:.1f}',
                'power_W': f'{controller.command.heater_power:.0f}',
                'power_budget_W': f'{controller.params.power_budget:.0f}',
                'waiting_for_power': controller.power_wait,
                'batch_energy_J': f'{controller.energy:.0f}'}

    def stop_actuators(self):
        """Heater off, door and tap shut (used on shutdown)."""
        self.send(self.seen or self.get_clock().now().to_msg(), self.adapter.stop())


def main(args=None):
    """Run the smelter node."""
    return spin_node(SmelterNode, args)


if __name__ == '__main__':
    sys.exit(main())
