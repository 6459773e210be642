"""Two rigs on one domain keep their simulated times apart."""

import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rosgraph_msgs.msg import Clock

from spacemine_ros import bringup
from spacemine_ros.launcher import create_nodes
from spacemine_ros.nodes.common import stamp_to_seconds


def test_each_rigs_clock_reaches_only_its_own_nodes():
    rclpy.init()
    executor = SingleThreadedExecutor()
    rigs = {}
    try:
        for name in ('rig_a', 'rig_b'):
            # Both flat out (no idle pacing), so rig_a keeps its head start.
            rigs[name] = create_nodes(bringup.graph('sim', 'bennu'), f'/{name}',
                                      bringup.default_params_file(),
                                      {'rig_sim': {'idle_realtime_factor': 0.0}})
            for node in rigs[name]:
                executor.add_node(node)
            if name == 'rig_a':  # rig_a runs ahead before rig_b starts
                sim = rigs['rig_a'][0]
                deadline = time.monotonic() + 120
                while sim.world.time < 5.0 and time.monotonic() < deadline:
                    executor.spin_once(timeout_sec=0.05)
                assert sim.world.time >= 5.0
        probe = rclpy.create_node('clock_probe')
        seen = {'/clock': [], '/rig_a/clock': [], '/rig_b/clock': []}
        for topic in seen:
            probe.create_subscription(Clock, topic, lambda m, t=topic: seen[t].append(
                stamp_to_seconds(m.clock)), 10)
        executor.add_node(probe)
        drills = {name: next(n for n in nodes if n.get_name() == 'drill')
                  for name, nodes in rigs.items()}
        readings = {name: [] for name in rigs}
        deadline = time.monotonic() + 120
        while (len(seen['/rig_b/clock']) < 40 or len(seen['/rig_a/clock']) < 40) and \
                time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
            for name, drill in drills.items():
                readings[name].append(drill.get_clock().now().nanoseconds * 1e-9)
        assert not seen['/clock']  # nothing on the global clock topic
        assert len(seen['/rig_a/clock']) >= 40 and len(seen['/rig_b/clock']) >= 40
        for name, values in readings.items():  # a node's time never jumps back
            assert all(b >= a for a, b in zip(values, values[1:])), name
        # Each rig's drill follows its own simulation, not the other's: at most one of its
        # world's periods behind (an idle rig's are rig_sim's idle_step, 1 s).
        for name, nodes in rigs.items():
            sim_time = nodes[0].world.time
            assert abs(readings[name][-1] - sim_time) <= nodes[0].idle_step + 1e-9, \
                (name, readings[name][-1], sim_time)
        assert rigs['rig_a'][0].world.time - rigs['rig_b'][0].world.time > 3.0
        probe.destroy_node()
    finally:
        for nodes in rigs.values():
            for node in reversed(nodes):
                node.destroy_node()
        rclpy.try_shutdown()
