"""The rig's frames from its URDF (spacemine_ros.kinematics) agree with PyBullet's."""

import numpy as np
import pybullet
import pytest

from spacemine_ros.kinematics import joints_of, moving_transforms, rotate, static_transforms
from spacemine_ros.kinematics import quaternion_multiply
from spacemine_ros.sim.description import rig_urdf_xml
from spacemine_ros.sim.world import RigWorld
from test.sim import commands


def chain(transforms, root, target):
    """Compose parent -> child transforms from root to target; return (xyz, quaternion)."""
    by_child = {child: (parent, xyz, q) for parent, child, xyz, q in transforms}
    path = []
    link = target
    while link != root:
        parent, xyz, q = by_child[link]
        path.append((xyz, q))
        link = parent
    position, rotation = (0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0)
    for xyz, q in reversed(path):
        position = tuple(p + r for p, r in zip(position, rotate(rotation, xyz)))
        rotation = quaternion_multiply(rotation, q)
    return np.array(position), np.array(rotation)


def test_link_frames_follow_the_joints_as_pybullet_has_them(bodies, anchor_types):
    joints = joints_of(rig_urdf_xml())
    with RigWorld(bodies['bennu'], anchor_types['microspine']) as world:
        for _ in range(60):  # move the arm, the feed and the spindle
            commands.scraper(world, {'slew': 0.4, 'shoulder': 0.6, 'elbow': 1.0,
                                     'wrist': 0.8}, 100.0)
            commands.drill(world, 0.02, 100.0, 5.0)
            world.advance(0.05)
        readings = world.readings()
        positions = dict(zip(readings.joint_names, readings.joint_positions))
        transforms = static_transforms(joints) + moving_transforms(joints, positions)
        base, base_q = world.base_pose()
        inverse = pybullet.invertTransform(base, base_q)
        for link in ('scraper_blade', 'drill_bit', 'anchor_2', 'foot_1'):
            state = pybullet.getLinkState(world.rig, world.links[link],
                                          computeForwardKinematics=True,
                                          physicsClientId=world.client)
            expected = pybullet.multiplyTransforms(*inverse, state[4], state[5])
            position, rotation = chain(transforms, 'base_link', link)
            assert position == pytest.approx(expected[0], abs=1e-6), link
            assert abs(float(np.dot(rotation, expected[1]))) == pytest.approx(1.0, abs=1e-7), link
