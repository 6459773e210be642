"""A node's job as a ROS 2 action: a goal starts it, feedback follows it, cancel stops it.

Each controller node serves its jobs (drill to depth, a scraping pass, a smelter batch,
deploying or releasing the anchors, draining the line) with one ToolAction each, and the
supervisor its plans (run_plan). The rules, the same for every tool
(docs/interfaces.md):

- A goal is checked and its job started in the goal callback, so acceptance means the
  tool is at it. A goal is rejected, with the reason on the node's log, when a field is
  not finite or out of range, when the tool cannot start it in its state (e-stop latched,
  anchors not set, a fault), or while another goal of the same action runs (one job per
  tool; cancel it first). A job under way is never replaced by a new goal.
- Feedback at each state change and at most once per `telemetry_period` otherwise, from
  the node's control period.
- The result when the job ends: succeeded, aborted (a fault, or stopped by something
  else: the e-stop, a lost input) with the reason in `message`, or canceled.
- A cancel is a safe stop of that tool (the drill retracts, the scraper stows, the
  furnace cools, the line stops); the goal ends canceled once the tool has stopped.
  A cancel with a zero goal id (cancel all) does the same whoever sent the goal.
"""

import math

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.task import Future

from spacemine_ros.core.control.goals import goal_problem
from spacemine_ros.nodes.common import controller_state, log_outcome

__all__ = ['controller_state', 'ToolAction']


class ToolAction:
    """One action of a node (see the module's docstring).

    start(goal) -> (started, reason): start the job (nothing changes when refused).
    outcome() -> None while under way, else (succeeded, message).
    feedback() -> the action's Feedback now; result(succeeded, message) -> its Result.
    stop() -> (stopped, message): the tool's safe stop on a cancel; None: not cancellable.
    finite_except: goal fields that may be infinite (never NaN).

    The node serving it provides two hooks:
    action_changed(): a goal started or a cancel stopped the job (publish the state now).
    feedback_pace() -> (time, key, period): feedback goes out when key changes, else at
    most once per period of time (time None: whenever update() is called with one).
    """

    def __init__(self, node, action_type, name, start, outcome, feedback, result, stop=None,
                 finite_except=()):
        self.node = node
        self.action_type = action_type
        self.name = name.removeprefix('~/')
        self._start, self._outcome, self._feedback = start, outcome, feedback
        self._result, self._stop = result, stop
        self.finite_except = finite_except
        self.goal = None  # the goal being executed
        self.canceling = None  # the goal whose cancel is being accepted
        self.results = {}  # goal id -> Future of its Result, until its execution takes it
        self.last_feedback = None  # (time, key) of the last feedback
        self.last_refusal = ''
        self.server = ActionServer(
            node, action_type, name, execute_callback=self._execute,
            goal_callback=self._on_goal, handle_accepted_callback=self._on_accepted,
            cancel_callback=self._on_cancel)

    def _refuse(self, reason):
        self.last_refusal = reason
        log_outcome(self.node, False, f'{self.name} goal rejected: {reason}')
        return GoalResponse.REJECT

    def _on_goal(self, goal):
        if self.goal is not None:
            return self._refuse('a goal is under way (cancel it first)')
        problem = goal_problem(goal, self.finite_except)
        if problem:
            return self._refuse(problem)
        started, reason = self._start(goal)
        if not started:
            return self._refuse(reason)
        log_outcome(self.node, True, f'{self.name}: {reason}')
        self.node.action_changed()
        return GoalResponse.ACCEPT

    def _on_accepted(self, goal_handle):
        self.goal, self.last_feedback = goal_handle, None
        self.results[_goal_id(goal_handle)] = Future()
        goal_handle.execute()

    async def _execute(self, goal_handle):
        # Its result's future, whether or not a control period has ended it meanwhile.
        result = self.results[_goal_id(goal_handle)]
        self.update()
        try:
            return await result
        finally:
            self.results.pop(_goal_id(goal_handle), None)

    def _on_cancel(self, goal_handle):
        if self._stop is None or goal_handle is not self.goal:
            return CancelResponse.REJECT
        self.canceling = goal_handle
        stopped, message = self._stop()
        log_outcome(self.node, stopped, f'{self.name} canceled: {message}')
        if not stopped:
            self.canceling = None
        self.node.action_changed()
        return CancelResponse.ACCEPT if stopped else CancelResponse.REJECT

    def update(self, time=None):
        """Follow the job (call after each control period and state change)."""
        goal = self.goal
        if goal is None:
            return
        if not goal.is_active:  # ended elsewhere (the node shutting down)
            self._finish(False, 'ended')
            return
        ended = self._outcome()
        if ended is None:
            self._send_feedback(time)
            return
        if self.canceling is goal and not goal.is_cancel_requested:
            # Stopped inside the cancel callback, before the goal is CANCELING: it ends
            # canceled at the next control period, not aborted now.
            return
        succeeded, message = ended
        if goal.is_cancel_requested:
            goal.canceled()
            succeeded, message = False, f'canceled: {message}'
        elif succeeded:
            goal.succeed()
        else:
            goal.abort()
        self._finish(succeeded, message)

    def _finish(self, succeeded, message):
        goal = self.goal
        self.goal = self.canceling = None
        log_outcome(self.node, succeeded, f'{self.name} ended: {message}')
        result = self.results.get(_goal_id(goal))
        if result is not None and not result.done():
            result.set_result(self._result(succeeded, message))

    def _send_feedback(self, time):
        paced_time, key, period = self.node.feedback_pace()
        time = paced_time if time is None else time
        last = self.last_feedback
        if last is not None and last[1] == key and time is not None and \
                math.isfinite(last[0]) and time - last[0] < period:
            return
        self.last_feedback = (math.inf if time is None else time, key)
        self.goal.publish_feedback(self._feedback())

    def end(self, reason):
        """Abort the goal under way (the node is shutting down): its client hears why."""
        goal = self.goal
        if goal is not None and goal.is_active:
            goal.abort()
        if goal is not None:
            self._finish(False, reason)


def _goal_id(goal_handle):
    return bytes(goal_handle.goal_id.uuid)
