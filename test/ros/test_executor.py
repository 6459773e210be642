"""The executor the launcher and the shift spin a whole rig with, on this distribution.

make_executor() picks rclpy's EventsExecutor where it exists (Jazzy's rclpy 7.1 and
Kilted's 9.1 both have it): this runs it as they do (one rclpy life in a process of its
own, spin_until_stopped) and checks that timers, subscriptions and services are served.
"""

import subprocess
import sys

from test.conftest import ROOT
from test.timing import wall

SCRIPT = """
import rclpy
from std_msgs.msg import Int32
from std_srvs.srv import Trigger
from spacemine_ros.domain import claim_domain
from spacemine_ros.nodes.common import StopSignals, make_executor, spin_until_stopped

claim_domain()
with StopSignals() as stop:
    rclpy.init()
    executor = make_executor()
    node = rclpy.create_node('executor_check')
    heard, answered = [], []
    publisher = node.create_publisher(Int32, 'count', 10)
    ticks = iter(range(1000))
    node.create_timer(0.01, lambda: publisher.publish(Int32(data=next(ticks))))
    node.create_subscription(Int32, 'count', lambda m: heard.append(m.data), 10)

    def serve(request, response):
        response.success = True
        return response
    node.create_service(Trigger, 'ask', serve)
    client = node.create_client(Trigger, 'ask')

    def check():
        if client.service_is_ready() and not answered:
            answered.append(client.call_async(Trigger.Request()))
        if len(heard) >= 20 and answered and answered[0].done():
            stop.requested.set()
    node.create_timer(0.05, check)
    executor.add_node(node)
    spin_until_stopped(executor, stop)
    print(type(executor).__name__, len(heard), answered[0].result().success)
    node.destroy_node()
    rclpy.try_shutdown()
"""


def test_the_rig_executor_serves_timers_subscriptions_and_services():
    result = subprocess.run([sys.executable, '-c', SCRIPT], cwd=ROOT, capture_output=True,
                            text=True, timeout=wall(60.0), check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    kind, heard, answered = result.stdout.split()
    assert kind == 'EventsExecutor'  # the fast one, on Jazzy as on Kilted
    assert int(heard) >= 20 and answered == 'True'
