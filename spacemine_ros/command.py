"""spacemine-command: send one operator command to a rig's supervisor, stamped.

    spacemine-command load_plan --plan bennu_shift
    spacemine-command start            (pause, resume, abort, reset)
    spacemine-command estop            (latched at once, never refused)
    spacemine-command status           (one line; exit 0)

Every command carries the time it was issued on the rig's clock (its simulated clock on
the sim backend, read from the rig's clock topic; the wall clock otherwise) and how long
it stays valid (--valid-for), and is signed with the operator's key (--key; default
$SPACEMINE_OPERATOR_KEY, else the sim operator's key in the rig's data directory); the
supervisor refuses it when unsigned, not signed by an authorised operator, replayed, stale
or out of order, with the reason. The e-stop needs no key. Exit status 0 when accepted,
1 when refused, 2 when the supervisor does not answer or the command cannot be signed. Run
it on the rig's ROS domain (ROS_DOMAIN_ID as spacemine-rig printed it).
"""

import argparse
import os
import sys
import time

from rclpy.node import Node
from rosgraph_msgs.msg import Clock as ClockMsg
from spacemine_interfaces.srv import OperatorCommand
from std_srvs.srv import Trigger

from spacemine_ros import bringup
from spacemine_ros.core.mission.operators import AuthorityError, OperatorKey, SIM_KEY_FILE
from spacemine_ros.nodes.common import seconds_to_stamp
from spacemine_ros.paths import default_data_dir

COMMANDS = ('load_plan', 'start', 'pause', 'resume', 'abort', 'reset')
QUERIES = {'status': 'status', 'preflight': 'preflight', 'estop': 'estop'}


def command_request(command, issued_at, valid_for, plan='', key=None, rig='/'):
    """Return the supervisor's ~/command request of an operator command.

    issued_at: seconds on the rig's clock; valid_for: seconds; key: the operator's
    OperatorKey (None: unsigned); rig: the rig's namespace ('/' at the root).
    """
    request = OperatorCommand.Request(command=command, plan=plan, valid_for=float(valid_for))
    seconds_to_stamp(float(issued_at), request.issued_at)
    return request if key is None else _signed(request, command, key, rig)


def plan_goal(plan, issued_at, valid_for, key, rig='/'):
    """Return a signed RunPlan goal (the supervisor's ~/run_plan): see command_request."""
    from spacemine_interfaces.action import RunPlan
    goal = RunPlan.Goal(plan=plan, valid_for=float(valid_for))
    seconds_to_stamp(float(issued_at), goal.issued_at)
    return _signed(goal, 'run_plan', key, rig)


def _signed(message, command, key, rig):
    """Fill a stamped request's or goal's key_id, nonce and signature; return it."""
    message.key_id, message.nonce, signature = key.sign(
        rig or '/', command, {'plan': message.plan},
        (message.issued_at.sec, message.issued_at.nanosec), message.valid_for)
    message.signature = list(signature)
    return message


def operator_key_path(key='', data_dir='', namespace=''):
    """Return the operator key file to sign with.

    The given one, else $SPACEMINE_OPERATOR_KEY, else the sim operator's key in the rig's
    data directory.
    """
    return (key or os.environ.get('SPACEMINE_OPERATOR_KEY')
            or os.path.join(data_dir or default_data_dir(namespace), SIM_KEY_FILE))


class CommandNode(Node):
    """A short-lived node that reads the rig's clock and calls the supervisor."""

    def __init__(self, namespace='', supervisor='supervisor'):
        super().__init__('operator_command', namespace=namespace or '/')
        self.sim_time = None
        self.create_subscription(ClockMsg, 'clock', self._on_clock, 10)
        self.supervisor = supervisor

    def _on_clock(self, message):
        self.sim_time = message.clock.sec + message.clock.nanosec * 1e-9

    def rig_time(self):
        """Return the rig's clock now: its simulated time if it publishes one, else wall."""
        return self.sim_time if self.sim_time is not None else time.time()

    def call(self, kind, name, request, executor, timeout):
        """Call a service; return the response or None after timeout wall seconds."""
        client = self.create_client(kind, f'{self.supervisor}/{name}')
        deadline = time.monotonic() + timeout
        while not client.service_is_ready():
            if time.monotonic() > deadline:
                return None
            executor.spin_once(timeout_sec=0.1)
        if callable(request):
            # A sim rig publishes its clock: stamp on it, not on the wall clock, however
            # slow its first message is in coming (a busy host).
            while self.sim_time is None and self.count_publishers('clock') > 0:
                if time.monotonic() > deadline:
                    return None
                executor.spin_once(timeout_sec=0.1)
            request = request()  # built after the clock is read, as late as possible
        future = client.call_async(request)
        while not future.done():
            if time.monotonic() > deadline:
                return None
            executor.spin_once(timeout_sec=0.1)
        return future.result()


def main(argv=None):
    """Entry point of spacemine-command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('command', choices=COMMANDS + tuple(QUERIES))
    parser.add_argument('--plan', default='', help='load_plan: a file or a name in '
                        'config/plans/')
    parser.add_argument('--valid-for', type=float, default=300.0,
                        help='seconds the command stays valid (default: 300)')
    parser.add_argument('--issued-at', type=float, default=None,
                        help='issue time on the rig clock (default: now)')
    parser.add_argument('--namespace', default='', help='namespace of the rig')
    parser.add_argument('--timeout', type=float, default=20.0,
                        help='wall seconds to wait for the supervisor (default: 20)')
    parser.add_argument('--key', default='', help="the operator's key file (default: "
                        "$SPACEMINE_OPERATOR_KEY, else the sim operator's key in the data "
                        'directory)')
    parser.add_argument('--data-dir', default='', help="the rig's data directory, where a "
                        "sim rig keeps its operator's key (default: the rig's default)")
    args = parser.parse_args(argv)
    if args.command == 'load_plan' and not args.plan:
        parser.error('load_plan needs --plan')
    namespace = bringup.normalize_namespace(args.namespace)
    key = None
    if args.command in COMMANDS:
        try:
            key = OperatorKey.load(operator_key_path(args.key, args.data_dir, namespace))
        except AuthorityError as error:
            print(f'spacemine-command: {error}', file=sys.stderr)
            return 2
    from rclpy.executors import SingleThreadedExecutor
    from spacemine_ros.nodes.common import init_ros
    import rclpy
    init_ros()
    try:
        node = CommandNode(namespace)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        until = time.monotonic() + 1.0  # a sim rig's clock comes within a period or two
        while node.sim_time is None and time.monotonic() < until:
            executor.spin_once(timeout_sec=0.1)
        if args.command in QUERIES:
            response = node.call(Trigger, QUERIES[args.command], Trigger.Request(), executor,
                                 args.timeout)
            if response is None:
                print('spacemine-command: the supervisor does not answer', file=sys.stderr)
                return 2
            print(response.message)
            return 0 if response.success else 1
        response = node.call(
            OperatorCommand, 'command',
            lambda: command_request(args.command, node.rig_time() if args.issued_at is None
                                    else args.issued_at, args.valid_for, args.plan, key,
                                    namespace or '/'),
            executor, args.timeout)
        if response is None:
            print('spacemine-command: the supervisor does not answer', file=sys.stderr)
            return 2
        print(('accepted' if response.success else 'refused') + f': {response.message}')
        return 0 if response.success else 1
    finally:
        rclpy.try_shutdown()


if __name__ == '__main__':
    sys.exit(main())
