"""The rig description: expands, parses, has the required parts and sane inertias."""

import numpy as np
import pybullet
import pytest
from urdf_parser_py.urdf import URDF

from spacemine_ros.core.control.scraper import ArmGeometry
from spacemine_ros.sim.description import rig_urdf_xml, write_rig_urdf


def test_urdf_parses_and_has_every_required_part():
    robot = URDF.from_xml_string(rig_urdf_xml())
    links = {link.name for link in robot.links}
    assert {'base_link', 'drill_mast', 'drill_carriage', 'drill_bit', 'scraper_blade',
            'hopper_metal', 'hopper_silicate', 'conveyor', 'separator',
            'furnace'} <= links
    assert {f'foot_{i}' for i in range(4)} <= links
    assert {f'anchor_{i}' for i in range(4)} <= links
    joints = {joint.name: joint.type for joint in robot.joints}
    assert joints['drill_feed'] == 'prismatic'
    assert joints['drill_spindle'] in ('revolute', 'continuous')
    assert joints['scraper_shoulder'] == 'revolute' and joints['scraper_elbow'] == 'revolute'
    assert robot.get_root() == 'base_link'


def test_every_link_has_a_physical_mass_and_inertia():
    robot = URDF.from_xml_string(rig_urdf_xml())
    total = 0.0
    for link in robot.links:
        assert link.inertial is not None, link.name
        mass = link.inertial.mass
        i = link.inertial.inertia
        tensor = np.array([[i.ixx, i.ixy, i.ixz], [i.ixy, i.iyy, i.iyz], [i.ixz, i.iyz, i.izz]])
        principal = np.linalg.eigvalsh(tensor)
        assert mass > 0 and (principal > 0).all(), link.name
        a, b, c = sorted(principal)  # triangle inequality of principal moments
        assert a + b >= c * (1 - 1e-9), link.name
        total += mass
    assert 150.0 < total < 500.0


def test_urdf_loads_in_pybullet(tmp_path):
    path = write_rig_urdf(directory=tmp_path)
    client = pybullet.connect(pybullet.DIRECT)
    try:
        rig = pybullet.loadURDF(path, physicsClientId=client)
        assert pybullet.getNumJoints(rig, physicsClientId=client) == 29
    finally:
        pybullet.disconnect(physicsClientId=client)


def test_scraper_tip_in_the_urdf_matches_the_arm_geometry(tmp_path):
    """The controller's kinematics (core.control.scraper) and the URDF describe the same arm."""
    path = write_rig_urdf(directory=tmp_path)
    client = pybullet.connect(pybullet.DIRECT)
    geometry = ArmGeometry()
    try:
        rig = pybullet.loadURDF(path, [0, 0, geometry.base_height], physicsClientId=client)
        index = {pybullet.getJointInfo(rig, i, physicsClientId=client)[1].decode(): i
                 for i in range(pybullet.getNumJoints(rig, physicsClientId=client))}
        for slew, shoulder, elbow in ((0.0, 0.0, 0.0), (0.4, 0.3, 1.2), (-0.6, -0.2, 2.0)):
            for name, value in (('scraper_slew', slew), ('scraper_shoulder', shoulder),
                                ('scraper_elbow', elbow)):
                pybullet.resetJointState(rig, index[name], value, physicsClientId=client)
            blade = pybullet.getLinkState(rig, index['scraper_wrist'],
                                          computeForwardKinematics=True,
                                          physicsClientId=client)[4]
            assert blade == pytest.approx(geometry.forward(slew, shoulder, elbow), abs=1e-6)
    finally:
        pybullet.disconnect(physicsClientId=client)
