"""The rig's frames from its URDF and joint positions: what robot_state_publisher sends.

Each URDF joint is a transform parent -> child: its origin (xyz, rpy) and then its motion
about (revolute, continuous) or along (prismatic) its axis by the joint's position.
Fixed joints give static transforms (/tf_static), moving ones /tf. Used where no
robot_state_publisher runs (the project's own launcher; a recording), so the rig's links
show in RViz or Foxglove. No rclpy.
"""

from dataclasses import dataclass
import math
import xml.etree.ElementTree as ElementTree

MOVING = ('revolute', 'continuous', 'prismatic')


def quaternion_from_rpy(roll, pitch, yaw):
    """Return (x, y, z, w) of fixed-axis roll, pitch, yaw [rad] (URDF's convention)."""
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    return (sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy, cr * cp * cy + sr * sp * sy)


def quaternion_multiply(a, b):
    """Return the quaternion product a b, both (x, y, z, w)."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz)


def rotate(q, v):
    """Rotate the vector v by the unit quaternion q."""
    x, y, z, w = q
    vx, vy, vz = v
    # v' = v + 2 w (q x v) + 2 q x (q x v)
    cx, cy, cz = y * vz - z * vy, z * vx - x * vz, x * vy - y * vx
    return (vx + 2 * (w * cx + y * cz - z * cy), vy + 2 * (w * cy + z * cx - x * cz),
            vz + 2 * (w * cz + x * cy - y * cx))


@dataclass(frozen=True)
class Joint:
    """One URDF joint: parent -> child, its origin, kind and axis."""

    name: str
    kind: str
    parent: str
    child: str
    xyz: tuple
    rotation: tuple  # quaternion of the origin's rpy
    axis: tuple = (1.0, 0.0, 0.0)

    def transform(self, position=0.0):
        """Return (translation, rotation) parent -> child at the joint position."""
        translation, rotation = self.xyz, self.rotation
        if self.kind in ('revolute', 'continuous'):
            half = position / 2.0
            ax, ay, az = self.axis
            turn = (ax * math.sin(half), ay * math.sin(half), az * math.sin(half),
                    math.cos(half))
            rotation = quaternion_multiply(rotation, turn)
        elif self.kind == 'prismatic':
            shift = rotate(rotation, tuple(a * position for a in self.axis))
            translation = tuple(t + s for t, s in zip(translation, shift))
        return translation, rotation


def _numbers(text, default):
    return tuple(float(v) for v in text.split()) if text else default


def joints_of(urdf_xml):
    """Return the Joints of a URDF document (a string)."""
    root = ElementTree.fromstring(urdf_xml)
    joints = []
    for element in root.iter('joint'):
        origin = element.find('origin')
        xyz = _numbers(origin.get('xyz') if origin is not None else '', (0.0, 0.0, 0.0))
        rpy = _numbers(origin.get('rpy') if origin is not None else '', (0.0, 0.0, 0.0))
        axis = element.find('axis')
        direction = _numbers(axis.get('xyz') if axis is not None else '', (1.0, 0.0, 0.0))
        norm = math.sqrt(sum(a * a for a in direction)) or 1.0
        joints.append(Joint(element.get('name'), element.get('type'),
                            element.find('parent').get('link'),
                            element.find('child').get('link'), xyz,
                            quaternion_from_rpy(*rpy), tuple(a / norm for a in direction)))
    return joints


def static_transforms(joints):
    """Return [(parent, child, translation, rotation)] of the fixed joints."""
    return [(j.parent, j.child, *j.transform()) for j in joints if j.kind not in MOVING]


def moving_transforms(joints, positions):
    """Return [(parent, child, translation, rotation)] of the moving joints at positions.

    positions: {joint name: position}; a moving joint without one is at 0.
    """
    return [(j.parent, j.child, *j.transform(positions.get(j.name, 0.0)))
            for j in joints if j.kind in MOVING]
