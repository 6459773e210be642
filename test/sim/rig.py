"""A headless rig driven by hand, for the simulation's tests (no ROS).

The same controllers, adapters and supervisor as the nodes (spacemine_ros.headless) on a
world a test builds, with no plan: a test calls the controllers' services and steps the
lockstep until what it waits for happens.
"""

from spacemine_ros.core.control.anchoring import AnchoringState
from spacemine_ros.headless import Shift


def rig_on(world, **overrides):
    """Return a headless shift on world with no plan; overrides: {node: {name: value}}."""
    return Shift(world=world, plan=None, overrides=overrides)


def anchor(rig, seconds=120.0):
    """Deploy the anchors and wait until they hold; return the rig."""
    accepted, reason = rig.goal('anchoring', 'deploy')
    assert accepted, reason
    assert rig.run_until(lambda: anchoring(rig).state == AnchoringState.ANCHORED, seconds), \
        anchoring(rig).fault_reason
    return rig


def anchoring(rig):
    """Return the anchoring controller of a rig."""
    return rig.anchoring.controller


def tool_loads(samples):
    """Return an on_step that notes (drills' thrust, tools' load, safe capacity, budget)."""
    def note(rig):
        readings = rig.world.readings()
        efforts = dict(zip(readings.joint_names, readings.joint_efforts))
        thrust = sum(max(efforts[j], 0.0) for j in rig.record.feed_joints)
        controller = anchoring(rig)
        samples.append((thrust, rig.anchoring.budget.total_load, controller.safe_capacity,
                        controller.tool_budget))
    return note


def inject(rig, account, kilograms):
    """Put kilograms of the body's regolith into an account, as found there at the start.

    In the world's ledger (by species) and in the rig's books (by mass), as material a
    rig's hoppers held before its books began: no totalizer saw it come.
    """
    material = rig.world.material
    material.ledger.excavate(account, {s: kilograms * f for s, f in material.composition.items()
                                       if f > 0.0})
    rig.line.books.ledger.excavate(account, {'regolith': kilograms})
