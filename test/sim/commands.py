"""Commands for a RigWorld in the tests, sent through the codec as rig_sim sends them.

Each helper builds a JointState's arrays for one subsystem of the default rig and hands
them to RigWorld.command_arrays (core.rig_interface decodes them): the tests drive the
world through the same decoding as the ROS backend.
"""

import math

NAN = math.nan


def drill(world, feed_speed, thrust_limit, spindle_speed, topic='drill/command',
          valid_for=None):
    """Feed speed [m/s], thrust limit [N], spindle speed [rad/s]."""
    spec = world.rig_interface.by_topic(topic)
    feed, spindle = spec.joint('feed').name, spec.joint('spindle').name
    world.command_arrays(topic, [feed, spindle], [], [feed_speed, spindle_speed],
                         [thrust_limit, NAN], valid_for=valid_for)


def anchors(world, targets, tensions, valid_for=None):
    """Embed targets [m] and tensions [N], one per anchor."""
    names = [j.name for j in world.rig_interface.by_topic('anchors/command').joints]
    world.command_arrays('anchors/command', names, list(targets), [], list(tensions),
                         valid_for=valid_for)


def scraper(world, positions, force_limit, velocities=None, topic='scraper/command',
            valid_for=None):
    """Arm joint targets [rad] by role, blade force limit [N], speeds [rad/s] by role."""
    spec = world.rig_interface.by_topic(topic)
    roles = list(positions)
    names = [spec.joint(role).name for role in roles]
    speeds = [(velocities or {}).get(role, 0.5) for role in roles]
    world.command_arrays(topic, names, [positions[r] for r in roles], speeds,
                         [force_limit] * len(names), valid_for=valid_for)


def material(world, speeds, valid_for=None):
    """Drive speeds [rad/s] by joint name (the drives not named are stopped)."""
    names = [j.name for j in world.rig_interface.by_topic('material/command').joints]
    world.command_arrays('material/command', names, [], [speeds.get(n, 0.0) for n in names],
                         valid_for=valid_for)


def furnace(world, heater_power, door_open, tap_open, valid_for=None):
    """Heater power [W], door and tap."""
    world.command_arrays('furnace/command', ['furnace_heater', 'furnace_door', 'furnace_tap'],
                         [NAN, 1.0 if door_open else 0.0, 1.0 if tap_open else 0.0],
                         [], [heater_power, NAN, NAN], valid_for=valid_for)
