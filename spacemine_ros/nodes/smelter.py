"""smelter: runs furnace batches by recipe under a temperature loop with interlocks.

Charging goes through the material line: the node sets material_handling's
furnace_feed_mass and furnace_feed_source and calls its feed_furnace service.
"""

import math
import sys

from rcl_interfaces.msg import SetParametersResult
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState, Temperature
from std_msgs.msg import Float64, String
from std_srvs.srv import Trigger

from spacemine_ros.core.body import load_body
from spacemine_ros.core.config import ConfigError, load_yaml
from spacemine_ros.core.smelter import (
    BatchController, Phase, recipes_from, SmelterMeasurement, SmelterParams)
from spacemine_ros.core.thermal import furnace_design_from
from spacemine_ros.nodes.common import (
    apply_tunables, COMMAND_QOS, config_file, declare, declare_tunables, Diagnostics, InputWatch,
    log_outcome, reject_non_finite, SENSOR_QOS, spin_node, stamp_to_seconds, STATE_QOS)

TUNABLES = {
    'kp': ('Proportional gain [W/K]', 0.0, 1e5),
    'ki': ('Integral gain [W/(K s)]', 0.0, 1e4),
    'kd': ('Derivative gain, on the measurement [W s/K]', 0.0, 1e5),
    'power_budget': ('Heater power the supervisor allows [W]', 1.0, 1e6),
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


class SmelterNode(Node):
    """Smelter controller node."""

    def __init__(self, **kwargs):
        super().__init__('smelter', **kwargs)
        body_key = declare(self, 'body', 'bennu', 'Body preset from the bodies file',
                           read_only=True)
        bodies_file = config_file(self, 'bodies_file', 'bodies.yaml', 'Body presets YAML')
        smelter_file = config_file(self, 'smelter_file', 'smelter.yaml',
                                   'Furnace and recipes YAML')
        recipe = declare(self, 'recipe', '', "Recipe ~/start_batch runs ('': by the body's "
                         'class, C -> volatile_extraction, S/M -> metal_smelting)')
        values = declare_tunables(self, TUNABLES, SmelterParams())
        try:
            body = load_body(bodies_file, body_key)
            data = load_yaml(smelter_file)
            design = furnace_design_from(data)
            recipes = recipes_from(data)
            params = SmelterParams(**values).validate()
        except (ConfigError, ValueError) as error:  # not started: spin_node says why, once
            raise ValueError(f'smelter: {error}') from None
        self.recipe = recipe or DEFAULT_RECIPES[body.composition_class]
        if self.recipe not in recipes:
            raise ConfigError(f'smelter: unknown recipe {self.recipe!r}; recipes: '
                              f'{", ".join(sorted(recipes))}')
        self.controller = BatchController(params, design, recipes, body.semi_major_axis)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.masses = {}
        self.melt_fraction = 0.0
        self.last_temperature = math.nan

        self.create_subscription(Float64, 'furnace/melt_fraction', self._on_melt, SENSOR_QOS)
        for account in ('furnace', 'hopper_metal', 'hopper_silicate', 'products', 'slag',
                        'volatiles'):
            self.create_subscription(
                Float64, f'material/{account}/mass',
                lambda message, name=account: self._on_mass(name, message), SENSOR_QOS)
        self.create_subscription(Temperature, 'furnace/temperature', self._on_temperature,
                                 SENSOR_QOS)
        self.command_pub = self.create_publisher(JointState, 'furnace/command', COMMAND_QOS)
        self.state_pub = self.create_publisher(String, '~/state', STATE_QOS)
        self.temperature_pub = self.create_publisher(Temperature, '~/temperature', 10)
        self.setpoint_pub = self.create_publisher(Temperature, '~/setpoint', 10)
        self.value_pubs = {name: self.create_publisher(Float64, f'~/{name}', 10) for name in (
            'power', 'progress', 'batch_energy', 'products_mass', 'slag_mass',
            'volatiles_mass')}
        self.create_service(Trigger, '~/start_batch', self._on_start)
        self.create_service(Trigger, '~/abort', self._on_abort)
        self.create_service(Trigger, '~/cool_down', self._on_cool_down)
        self.create_service(Trigger, '~/reset', self._on_reset)
        self.feed_params = self.create_client(SetParameters,
                                              'material_handling/set_parameters')
        self.feed_client = self.create_client(Trigger, 'material_handling/feed_furnace')
        self.diagnostics = Diagnostics(self, self._status)
        self.inputs = InputWatch(self, ['furnace/temperature'], self._on_stale_input)
        self.published_state = None
        self.last_stamp = None
        self._publish_state()

    # Parameters and services --------------------------------------------------------------
    def _on_set_parameters(self, parameters):
        failed = reject_non_finite(parameters)
        if failed:
            return failed
        for parameter in parameters:
            if parameter.name == 'recipe' and parameter.value and \
                    parameter.value not in self.controller.recipes:
                return SetParametersResult(successful=False, reason=(
                    f'unknown recipe {parameter.value!r}; recipes: '
                    f'{", ".join(sorted(self.controller.recipes))}'))
        params, failed = apply_tunables(self.controller.params, parameters, TUNABLES)
        if failed:
            return failed
        self.controller.params = params
        for parameter in parameters:
            if parameter.name == 'recipe' and parameter.value:
                self.recipe = parameter.value
        return SetParametersResult(successful=True)

    def _measurement(self, time=None):
        recipe = self.controller.recipes[self.recipe]
        if time is None:
            time = self.controller.last.time if self.controller.last else 0.0
        return SmelterMeasurement(
            time=time, temperature=self.last_temperature,
            melt_fraction=self.melt_fraction, furnace_mass=self.masses.get('furnace', 0.0),
            hopper_mass=self.masses.get(recipe.source_hopper, 0.0))

    def _respond(self, response, result, action):
        response.success, response.message = result
        log_outcome(self, response.success, f'{action}: {response.message}')
        self._publish_state()
        return response

    def _on_start(self, request, response):
        missing = self.inputs.missing()  # nothing heard yet: say so, not 'reads nan'
        if missing:
            return self._respond(response, (False, missing), 'start_batch')
        result = self.controller.start(self.recipe, self._measurement())
        if result[0]:
            self._request_feed()
        return self._respond(response, result, 'start_batch')

    def _on_abort(self, request, response):
        return self._respond(response, self.controller.abort(), 'abort')

    def _on_cool_down(self, request, response):
        return self._respond(response, self.controller.cool_down(), 'cool_down')

    def _on_reset(self, request, response):
        return self._respond(response, self.controller.reset(), 'reset')

    def _request_feed(self):
        """Ask the material line for the charge (asynchronously)."""
        hopper, mass = self.controller.feed_request
        self.controller.feed_request = None
        if not (self.feed_params.service_is_ready() and self.feed_client.service_is_ready()):
            self.controller.abort('material_handling is not available to charge the furnace')
            return
        request = SetParameters.Request(parameters=[
            Parameter('furnace_feed_mass', value=float(mass)).to_parameter_msg(),
            Parameter('furnace_feed_source', value=hopper).to_parameter_msg()])
        future = self.feed_params.call_async(request)
        future.add_done_callback(self._on_feed_parameters)

    def _on_feed_parameters(self, future):
        results = future.result().results if future.result() else []
        if not results or not all(r.successful for r in results):
            reason = '; '.join(r.reason for r in results) or 'no answer'
            self.controller.abort(f'material_handling refused the feed settings: {reason}')
            return
        self.feed_client.call_async(Trigger.Request()).add_done_callback(self._on_fed)

    def _on_fed(self, future):
        response = future.result()
        if response is None or not response.success:
            reason = response.message if response else 'no answer'
            self.controller.abort(f'material_handling refused to feed: {reason}')
        self._publish_state()

    # Sensors and control -------------------------------------------------------------------
    def _on_melt(self, message):
        self.melt_fraction = message.data if math.isfinite(message.data) else 0.0

    def _on_mass(self, account, message):
        if math.isfinite(message.data):
            self.masses[account] = message.data

    def _on_temperature(self, message):
        self.inputs.saw('furnace/temperature')
        stamp = stamp_to_seconds(message.header.stamp)
        if self.last_stamp is not None and stamp <= self.last_stamp:
            return  # a repeated period
        self.last_stamp = stamp
        self.last_temperature = message.temperature  # NaN included: the interlock decides
        before = self.controller.phase
        command = self.controller.update(self._measurement(stamp))
        out = JointState()
        out.header.stamp = message.header.stamp
        out.name = ['furnace_heater', 'furnace_door', 'furnace_tap']
        out.position = [math.nan, 1.0 if command.door_open else 0.0,
                        1.0 if command.tap_open else 0.0]
        out.effort = [float(command.heater_power), math.nan, math.nan]
        self.command_pub.publish(out)
        if self.controller.phase != before and self.controller.phase == Phase.FAULT:
            self.get_logger().error(f'smelter fault: {self.controller.reason}')
        self.temperature_pub.publish(message)
        setpoint = Temperature()
        setpoint.header = message.header
        setpoint.temperature = float(self.controller.setpoint)
        self.setpoint_pub.publish(setpoint)
        for name, value in (('power', command.heater_power),
                            ('progress', self.controller.progress),
                            ('batch_energy', self.controller.energy),
                            ('products_mass', self.masses.get('products', 0.0)),
                            ('slag_mass', self.masses.get('slag', 0.0)),
                            ('volatiles_mass', self.masses.get('volatiles', 0.0))):
            self.value_pubs[name].publish(Float64(data=float(value)))
        self._publish_state()

    def _publish_state(self):
        phase = self.controller.phase
        if phase != self.published_state:
            self.published_state = phase
            self.state_pub.publish(String(data=phase.value))
            reason = self.controller.reason
            self.get_logger().info(f'phase {phase.value}' + (f': {reason}' if reason else ''))

    def _on_stale_input(self, reason):
        if self.controller.input_lost(reason):
            self.get_logger().error(f'input lost: {reason}: {self.controller.reason}')
            self._publish_state()

    def _status(self):
        controller = self.controller
        values = {'phase': controller.phase.value, 'recipe': self.recipe,
                  'temperature_K': f'{self.last_temperature:.1f}',
                  'setpoint_K': f'{controller.setpoint:.1f}',
                  'power_W': f'{controller.command.heater_power:.0f}',
                  'power_budget_W': f'{controller.params.power_budget:.0f}',
                  'batch_energy_J': f'{controller.energy:.0f}'}
        if controller.phase == Phase.FAULT:
            return 'ERROR', controller.reason, values
        stale = self.inputs.problems()
        if stale:
            return 'ERROR', stale, values
        return 'OK', controller.phase.value, values

    def stop_actuators(self):
        """Heater off, tap shut (used on shutdown)."""
        out = JointState()
        out.header.stamp = self.get_clock().now().to_msg()
        out.name = ['furnace_heater', 'furnace_door', 'furnace_tap']
        out.position = [math.nan, 0.0, 0.0]
        out.effort = [0.0, math.nan, math.nan]
        self.command_pub.publish(out)


def main(args=None):
    """Run the smelter node."""
    return spin_node(SmelterNode, args)


if __name__ == '__main__':
    sys.exit(main())
