"""The rig's action goals sent from a test's operator node, as `ros2 action send_goal` does.

A rejected goal carries no reason in the action protocol: the node that rejected it logs
one ('<action> goal rejected: <reason>'), which reaches /rosout; refusal() reads it there
for a node in another process. For nodes in this process it asks the node's ToolAction
(rclpy sends no /rosout after the context has been shut down and made again in one
process, which these tests do).
"""

import time

from rcl_interfaces.msg import Log
from rclpy.action import ActionClient
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from test.timing import wall

READY = 'received yet'  # how a controller refuses before its inputs first came
# How a tool rejects a goal whose job it is already at (one sent before, say).
AT_IT = ('a goal is under way', 'already anchored', 'deployment already in progress')
# What a tool in another process says until it hears what the test has already heard:
# the anchors' state comes to it on its own subscription, a moment later under load.
LAGGING = ('the rig is not anchored',)


class Goals:
    """Send goals, wait for feedback and results, cancel; spin with spin_until(done, limit)."""

    def __init__(self, node, spin_until, local_nodes=()):
        self.node = node
        self.local_nodes = {n.get_name(): n for n in local_nodes}
        self.spin_until = spin_until
        self.clients = {}
        self.log = []  # (logger name, text) from /rosout
        self.sent_at = 0
        # As /rosout is published (transient local, depth 1000): a reason logged before
        # this reader matched the node's writer (discovery under load) still arrives.
        rosout = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.TRANSIENT_LOCAL)
        node.create_subscription(Log, '/rosout',
                                 lambda m: self.log.append((m.name, m.msg)), rosout)

    def client(self, action_type, name):
        if name not in self.clients:
            self.clients[name] = ActionClient(self.node, action_type, name)
        return self.clients[name]

    def send(self, action_type, name, limit=60.0, **fields):
        """Send a goal; return (ClientGoalHandle, the feedback list it fills)."""
        handle, feedback = self.try_send(action_type, name, limit, **fields)
        assert handle is not None, f'{name} did not answer the goal'
        return handle, feedback

    def try_send(self, action_type, name, limit=60.0, make_goal=None, **fields):
        """Send a goal; return (ClientGoalHandle or None if no answer came, feedback).

        make_goal: a callable that makes the goal (a signed one: a fresh nonce each send).
        """
        self.sent_at = len(self.log)  # refusal() looks at what was logged since
        client = self.client(action_type, name)
        assert self.spin_until(client.server_is_ready, limit), f'{name} never appeared'
        feedback = []
        future = client.send_goal_async(
            make_goal() if make_goal else action_type.Goal(**fields),
            feedback_callback=lambda m: feedback.append(m.feedback))
        if not self.spin_until(future.done, limit):
            return None, feedback
        return future.result(), feedback

    def refusal(self, name, limit=30.0):
        """Return the reason the action's node logged for rejecting the last goal sent."""
        node, _, action = name.rpartition('/')
        local = self.local_nodes.get(node)
        if local is not None:
            return next(a.last_refusal for a in local.actions if a.name == action)
        marker = f'{action} goal rejected: '

        def found():
            return next((text[len(marker):] for logger, text in self.log[self.sent_at:]
                         if logger.endswith(node.replace('/', '.')) and
                         text.startswith(marker)), None)
        self.spin_until(lambda: found() is not None, limit)
        return found() or ''

    def accepted(self, action_type, name, limit=60.0, **fields):
        """Send a goal, again while its node has not heard its inputs; return (handle, feedback).

        Asserts it was accepted in the end, with the node's reason if not. Sent again when
        no answer comes: an answer sent before the server has matched this client's
        reader goes nowhere (DDS discovery under load). The tool then rejecting the new
        goal because it is at that job counts as accepted (handle None: the lost one's).
        """
        deadline = time.monotonic() + wall(limit)
        lost = 0
        while True:
            handle, feedback = self.try_send(action_type, name, 30.0, **fields)
            if handle is None:
                lost += 1
                assert lost < 4, f'{name}: no answer to {lost} goals'
                continue
            if handle.accepted:
                return handle, feedback
            reason = self.refusal(name)
            if lost and reason.startswith(AT_IT):
                return None, feedback
            # A reason not heard (its log line lost on a loaded host) is tried again, as
            # one saying the node has not heard its inputs (or the anchors' state) yet;
            # any other fails, and these too once the limit has passed.
            assert (reason.endswith((READY, *LAGGING)) or not reason) and \
                time.monotonic() < deadline, \
                f'{name} rejected the goal: {reason or "(no reason heard on /rosout)"}'
            self.spin_until(lambda: False, 0.2)

    def rejection(self, action_type, name, limit=60.0, **fields):
        """Send a goal the node must reject (again while it has not heard its inputs).

        Returns the reason it logged; asserts the goal was not accepted.
        """
        deadline = time.monotonic() + wall(limit)
        while True:
            handle, _ = self.send(action_type, name, limit, **fields)
            assert not handle.accepted, f'{name} accepted {fields}'
            reason = self.refusal(name)
            if not reason.endswith(READY) or time.monotonic() > deadline:
                return reason
            self.spin_until(lambda: False, 0.2)

    def result(self, handle, limit=120.0):
        """Return (status, result) once the goal has ended."""
        future = handle.get_result_async()
        assert self.spin_until(future.done, limit), 'the goal did not end'
        response = future.result()
        return response.status, response.result

    def cancel(self, handle, limit=60.0):
        """Ask to cancel a goal; return the cancel response."""
        future = handle.cancel_goal_async()
        assert self.spin_until(future.done, limit), 'the cancel was not answered'
        return future.result()
