"""Scraper arm: kinematics, pass planning and the scraping controller.

The arm is a slewing two-link arm (slew about z, shoulder and elbow about y) with a
bucket-blade on a wrist. Lengths and limits match urdf/rig.urdf.xacro. The controller
cuts straight passes toward the rig at a commanded depth, keeps the blade force inside
the allowance the anchoring controller grants it from the anchors' force budget, makes
the cut shallower when the force nears that limit, and dumps the bucket into the conveyor's
intake after each pass. A jam (force at the limit and no progress) lifts the blade over
the obstacle and resumes; repeated jams fault the scraper.
"""

import dataclasses
from dataclasses import dataclass, field
import enum
import math

from spacemine_ros.core.validation import in_range, positive

# The arm's joints by role; the rig file (config/rigs/*.yaml) names the joint of each.
ROLES = ('slew', 'shoulder', 'elbow', 'wrist')


@dataclass(frozen=True)
class ArmGeometry:
    """Arm dimensions and joint limits (base_link frame, metres and radians)."""

    shoulder_x: float = 0.6  # slew axis and shoulder, from the base origin
    shoulder_z: float = -0.1
    base_height: float = 0.6  # base origin above the ground
    upper_arm: float = 0.8
    forearm: float = 0.6
    slew_limits: tuple = (-0.8, 0.8)
    shoulder_limits: tuple = (-0.5, 1.6)
    elbow_limits: tuple = (-0.2, 2.6)
    wrist_limits: tuple = (-1.0, 2.0)
    min_radius: float = 0.5  # closest approach of a cut to the slew axis (clears the feet)
    intake_radius: float = 0.9  # conveyor intake mouth: from the slew axis at slew 0 ...
    intake_height: float = 0.25  # ... and above the ground

    def forward(self, slew, shoulder, elbow):
        """Tip position (x, y, z) with z above the ground [m]."""
        radius, height = self.planar(shoulder, elbow)
        return (self.shoulder_x + radius * math.cos(slew), radius * math.sin(slew),
                self.base_height + self.shoulder_z + height)

    def planar(self, shoulder, elbow):
        """Tip (radius from the slew axis, height above the shoulder) [m]."""
        radius = self.upper_arm * math.cos(shoulder) + self.forearm * math.cos(shoulder + elbow)
        height = -self.upper_arm * math.sin(shoulder) - self.forearm * math.sin(shoulder + elbow)
        return radius, height

    def inverse(self, radius, z):
        """Return the joint angles (shoulder, elbow) that put the tip at radius, z above ground.

        Elbow-up solution (the forearm hangs from a raised elbow, like an excavator).
        Raises ValueError if the point is out of reach or needs a joint beyond its limit.
        """
        down = self.base_height + self.shoulder_z - z  # tip below the shoulder
        l1, l2 = self.upper_arm, self.forearm
        cos_elbow = (radius ** 2 + down ** 2 - l1 ** 2 - l2 ** 2) / (2.0 * l1 * l2)
        if not -1.0 <= cos_elbow <= 1.0:
            raise ValueError(f'point at radius {radius:.3f} m, height {z:.3f} m is out of '
                             "the arm's reach")
        elbow = math.acos(cos_elbow)
        shoulder = math.atan2(down, radius) - math.atan2(l2 * math.sin(elbow),
                                                         l1 + l2 * math.cos(elbow))
        for name, value, (low, high) in (('shoulder', shoulder, self.shoulder_limits),
                                         ('elbow', elbow, self.elbow_limits)):
            if not low <= value <= high:
                raise ValueError(f'point at radius {radius:.3f} m, height {z:.3f} m needs '
                                 f'{name} {value:.2f} rad, outside [{low}, {high}]')
        return shoulder, elbow

    def reachable(self, radius, z):
        """Return True if the tip can be put at radius, z."""
        try:
            self.inverse(radius, z)
        except ValueError:
            return False
        return True


MAX_AREA = 50.0  # m^2 a goal may ask to sweep
GOAL_LIMITS = {'passes': (1, 50), 'pass_length': (0.01, 2.0)}  # what a goal may change


@dataclass
class ScrapeRequest:
    """An operator's scraping job: parallel passes fanned around the slew axis."""

    reach: float = 1.2  # m, start of each pass from the slew axis (the far end)
    pass_length: float = 0.5  # m, cut toward the rig
    cut_depth: float = 0.03  # m below the original ground
    passes: int = 3
    pass_spacing: float = 0.4  # m between pass centre lines, at mid-pass

    def covering(self, area):
        """Return this request with the passes that sweep at least `area` [m^2].

        Each pass sweeps pass_length x pass_spacing (the strip between centre lines).
        """
        positive('area', area, 'm^2')
        strip = positive('pass_length', self.pass_length, 'm') * \
            positive('pass_spacing', self.pass_spacing, 'm')
        return dataclasses.replace(self, passes=max(1, math.ceil(area / strip - 1e-9)))

    def for_goal(self, geometry, area=0.0, passes=0, pass_length=0.0):
        """Return the job a Scrape goal asks (its zeros: this request's own); ValueError.

        A job the arm cannot do is refused here, before it starts.
        """
        changes = {}
        if passes:
            changes['passes'] = int(passes)
        if pass_length:
            changes['pass_length'] = float(pass_length)
        for name, value in changes.items():
            low, high = GOAL_LIMITS[name]
            if not low <= value <= high:
                raise ValueError(f'{name} must be within {low:g}..{high:g}, got {value:g}')
        if not 0.0 <= area <= MAX_AREA:
            raise ValueError(f'area must be within 0..{MAX_AREA:g} m^2, got {area:g}')
        job = dataclasses.replace(self, **changes)
        job = job.covering(area) if area > 0.0 else job
        job.plan(geometry)
        return job

    def plan(self, geometry):
        """Return the list of (slew, start_radius, end_radius), or raise ValueError."""
        positive('pass_length', self.pass_length, 'm')
        positive('cut_depth', self.cut_depth, 'm')
        in_range('passes', self.passes, 1, 50)
        positive('pass_spacing', self.pass_spacing, 'm')
        positive('reach', self.reach, 'm')
        start, end = self.reach, self.reach - self.pass_length
        if end < geometry.min_radius:
            raise ValueError(f'pass from {start:.2f} m to {end:.2f} m comes closer than '
                             f'{geometry.min_radius:.2f} m to the slew axis '
                             "(the rig's feet)")
        for radius in (start, end):
            if not geometry.reachable(radius, -self.cut_depth):
                raise ValueError(f'pass end at {radius:.2f} m, depth {self.cut_depth:.3f} m '
                                 f'is outside the reachable area')
        step = self.pass_spacing / (start - self.pass_length / 2.0)
        slews = [(i - (self.passes - 1) / 2.0) * step for i in range(int(self.passes))]
        low, high = geometry.slew_limits
        if slews[0] < low or slews[-1] > high:
            raise ValueError(f'{int(self.passes)} passes {self.pass_spacing:.2f} m apart need '
                             f'slew {slews[0]:.2f}..{slews[-1]:.2f} rad, beyond '
                             f'[{low}, {high}] rad')
        return [(slew, start, end) for slew in slews]


class ScraperState(enum.Enum):
    """States of the scraper controller."""

    IDLE = 'IDLE'
    POSITIONING = 'POSITIONING'  # moving above the start of a pass
    LOWERING = 'LOWERING'  # plunging to the cut depth
    CUTTING = 'CUTTING'
    RECOVERING = 'RECOVERING'  # lifting over a jam
    DUMPING = 'DUMPING'
    STOWING = 'STOWING'
    DONE = 'DONE'
    FAULT = 'FAULT'


ACTIVE_STATES = (ScraperState.POSITIONING, ScraperState.LOWERING, ScraperState.CUTTING,
                 ScraperState.RECOVERING, ScraperState.DUMPING, ScraperState.STOWING)


@dataclass
class ScraperParams:
    """Limits and tuning of the scraper controller (SI units)."""

    max_blade_force: float = 200.0  # N, arm drive limit at the blade
    cut_speed: float = 0.05  # m/s blade speed while cutting
    transit_speed: float = 0.15  # m/s tip speed when not cutting
    clearance: float = 0.1  # m above the ground when moving between passes
    depth_rate: float = 0.02  # m/s the cut depth may change under force control
    force_backoff_fraction: float = 0.8  # make the cut shallower above this share of limit
    jam_force_fraction: float = 0.95  # force at this share of the limit ...
    jam_rate: float = 0.005  # m/s ... with slower progress than this ...
    jam_time: float = 1.0  # s ... for this long is a jam
    jam_skip: float = 0.1  # m the blade moves past a jam before cutting again
    max_jams: int = 3  # jams per job before a fault
    dump_angle: float = 1.5  # rad wrist angle that tips the bucket
    dump_time: float = 3.0  # s with the bucket tipped, at least ...
    bucket_empty_mass: float = 0.01  # kg ... and until the bucket holds less than this;
    # while the intake is full the bucket waits, tipped, as long as it keeps getting
    # lighter; this long without losing dump_progress_mass is a FAULT
    dump_timeout: float = 30.0  # s
    dump_progress_mass: float = 0.001  # kg
    wrist_speed: float = 1.0  # rad/s tipping the bucket
    position_tolerance: float = 0.01  # m
    # Power: the supervisor's share for the arm; its three drives draw arm_idle_power
    # while they move, and the blade's work (force x speed) through drive_efficiency.
    power_budget: float = 80.0  # W
    arm_idle_power: float = 30.0  # W
    drive_efficiency: float = 0.7

    def validate(self):
        """Raise ValueError with a reason if a value is out of range."""
        for name in ('max_blade_force', 'cut_speed', 'transit_speed', 'clearance', 'depth_rate',
                     'jam_rate', 'jam_time', 'jam_skip', 'dump_time', 'wrist_speed',
                     'bucket_empty_mass', 'dump_timeout', 'dump_progress_mass',
                     'position_tolerance'):
            positive(name, getattr(self, name))
        in_range('power_budget', self.power_budget, 0.0, 1e6, 'W')
        in_range('arm_idle_power', self.arm_idle_power, 0.0, 1e4, 'W')
        in_range('drive_efficiency', self.drive_efficiency, 0.01, 1.0)
        in_range('force_backoff_fraction', self.force_backoff_fraction, 0.1, 1.0)
        in_range('jam_force_fraction', self.jam_force_fraction, 0.5, 1.0)
        in_range('max_jams', self.max_jams, 0, 100)
        in_range('dump_angle', self.dump_angle, 0.0, 2.0, 'rad')
        if self.force_backoff_fraction >= self.jam_force_fraction:
            raise ValueError(f'force_backoff_fraction {self.force_backoff_fraction:g} must be '
                             f'below jam_force_fraction {self.jam_force_fraction:g}')
        return self


@dataclass
class ScraperMeasurement:
    """Inputs of one control period."""

    time: float  # s
    joints: dict  # role (ROLES) -> position [rad]
    blade_force: float  # N, magnitude of the soil force on the blade
    bucket_mass: float = 0.0  # kg in the bucket (its mass sensor)


@dataclass
class ScraperCommand:
    """Outputs of one control period: joint position targets and the blade force limit."""

    positions: dict = field(default_factory=dict)
    force_limit: float = 0.0
    velocities: dict = field(default_factory=dict)  # rad/s joint speed toward each target


class ScraperController:
    """Runs scraping passes; one update per control period."""

    def __init__(self, params=None, geometry=None):
        self.params = (params or ScraperParams()).validate()
        self.geometry = geometry or ArmGeometry()
        self.state = ScraperState.IDLE
        self.reason = ''
        self.plan = []
        self.pass_index = 0
        self.request = None
        self.target = None  # (slew, radius, z) the tip is driven toward now
        self.depth = 0.0  # current cut depth under force control [m]
        self.jams = 0
        self.jam_since = None
        self.phase_since = 0.0
        self.dump_lowest = math.inf  # lightest bucket seen while dumping [kg] ...
        self.dump_progress_time = 0.0  # ... and when it last got lighter [s]
        self.last = None
        self.peak_force = 0.0
        self.power_wait = False  # holding for want of power (the job goes on after)
        # The job under way and how far it got (pass, radius cut to, cut done, stowing):
        # a start of the same job after an interruption goes on from there.
        self.progress = None
        self.command = ScraperCommand(positions=self.stow_pose(), force_limit=0.0)

    # Operator ------------------------------------------------------------------------------
    def stow_pose(self):
        """Joint positions of the stowed arm."""
        return dict.fromkeys(ROLES, 0.0)

    @property
    def request_force(self):
        """Force the scraper asks of the anchors' budget [N]: its blade limit while working."""
        return self.params.max_blade_force if self.state in ACTIVE_STATES else 0.0

    def start(self, request, anchored, budget):
        """Start a job; return (accepted, message). budget [N]: what all tools may load."""
        if self.state in ACTIVE_STATES:
            return False, f'busy ({self.state.value})'
        if not anchored:
            return False, 'refusing to scrape: the rig is not anchored'
        if not budget > 0.0:
            return False, ("refusing to scrape: the tools' share of the safe anchor capacity "
                           'is 0 N')
        try:
            plan = request.plan(self.geometry)
        except ValueError as error:
            return False, f'refused: {error}'
        self.request, self.plan, self.pass_index = request, plan, 0
        self.jams, self.jam_since, self.peak_force = 0, None, 0.0
        self.reason = ''
        progress = self.progress
        if progress is not None and progress['request'] == request:
            # The same job, interrupted (a stop, a fault, a restart): go on where it stood,
            # for a pass cut again would cut more than once at its edges.
            self.pass_index = progress['pass_index']
            if progress['stowing']:
                self._stow()
            elif progress['cut']:
                self._dump()
            else:
                self._begin_pass(progress['radius'])
            return True, (f'going on with the job: pass {self.pass_index + 1} of '
                          f'{len(plan)}' + (f' from {progress["radius"]:.2f} m'
                                            if progress['radius'] is not None else ''))
        self.progress = {'request': request, 'pass_index': 0, 'radius': None, 'cut': False,
                         'stowing': False}
        self._begin_pass()
        return True, (f'scraping {len(plan)} passes of {request.pass_length:.2f} m at '
                      f'{request.cut_depth:.3f} m depth')

    # Restarts ------------------------------------------------------------------------------
    def record(self):
        """Return the job's progress for a restarted controller (JSON; {} if no job).

        The radius the blade has cut to is kept to the terrain's 2 cm, rounded back
        toward the pass start, so it changes (and is written) a few times a pass.
        """
        progress = self.progress
        if progress is None:
            return {}
        radius = progress['radius']
        return {'job': dataclasses.asdict(progress['request']),
                'pass_index': progress['pass_index'],
                'radius': None if radius is None else math.ceil(radius / 0.02 - 1e-9) * 0.02,
                'cut': progress['cut'], 'stowing': progress['stowing']}

    def recall(self, record):
        """Take up the progress of an earlier controller's job (record()); bad: ignored."""
        try:
            request = ScrapeRequest(**record['job'])
            request.plan(self.geometry)
            index, radius = int(record['pass_index']), record['radius']
            if not 0 <= index < request.passes or isinstance(record['pass_index'], bool):
                raise ValueError('pass_index')
            if radius is not None and not (isinstance(radius, (int, float)) and
                                           math.isfinite(radius)):
                raise ValueError('radius')
            self.progress = {'request': request, 'pass_index': index,
                             'radius': None if radius is None else float(radius),
                             'cut': bool(record['cut']), 'stowing': bool(record['stowing'])}
        except (KeyError, TypeError, ValueError):
            self.progress = None

    def rewind(self, record):
        """Go back to the progress of an earlier instant (record(): a world restored).

        The arm and the terrain went back with the world, so the job must too, or the
        part cut in the lost time is never cut again. Returns what the job now stands at.
        A job that was only stowing then is finished: nothing of it is undone but the
        stow, which the hold of an idle arm leaves where it stands.
        """
        self.recall(record)
        progress = self.progress
        if progress is not None and progress['stowing'] and self.state not in ACTIVE_STATES:
            self.progress = None
        if self.progress is None:
            return 'no job under way then'
        radius = self.progress['radius']
        return (f'pass {self.progress["pass_index"] + 1}'
                + (f' from {radius:.2f} m' if radius is not None else '')
                + (' (cut, to dump)' if self.progress['cut'] else ''))

    def abort(self, reason='aborted by operator'):
        """Stop cutting and stow the arm."""
        if self.state not in ACTIVE_STATES:
            return False, f'not scraping ({self.state.value})'
        self.reason = reason
        self._stow()
        return True, f'stowing: {reason}'

    def reset(self):
        """Clear a fault (the arm stays where it is, stopped)."""
        if self.state != ScraperState.FAULT:
            return False, f'not in fault ({self.state.value})'
        self.state, self.reason = ScraperState.IDLE, ''
        return True, 'fault cleared'

    # Control -------------------------------------------------------------------------------
    def _begin_pass(self, from_radius=None):
        slew, start, end = self.plan[self.pass_index]
        if from_radius is not None:
            start = min(max(from_radius, end), start)  # the part not cut yet
        self.target = (slew, start, self.params.clearance)
        self.depth = self.request.cut_depth
        self._enter(ScraperState.POSITIONING)

    def _dump(self):
        self.target = (0.0, self.geometry.intake_radius, self.geometry.intake_height)
        self._enter(ScraperState.DUMPING)
        # Its progress is timed from now: a dump taken up again after a stop (the arm
        # still at the intake) must not be judged by the clock of the one before.
        self.dump_lowest, self.dump_progress_time = math.inf, self.phase_since

    def _enter(self, state):
        self.state = state
        self.phase_since = self.last.time if self.last else 0.0

    def _stow(self):
        slew = self.target[0] if self.target else 0.0
        self.target = (slew, self.geometry.intake_radius, self.geometry.intake_height)
        self._enter(ScraperState.STOWING)

    def input_lost(self, reason):
        """Fault if the arm is moving: its readings stopped (returns whether)."""
        if self.state not in ACTIVE_STATES:
            return False
        self._fault(reason)
        return True

    def _fault(self, reason):
        self.state, self.reason = ScraperState.FAULT, reason

    def tip(self, joints):
        """Measured tip as (slew, radius, z above ground)."""
        radius, height = self.geometry.planar(joints['shoulder'],
                                              joints['elbow'])
        return (joints['slew'], radius,
                self.geometry.base_height + self.geometry.shoulder_z + height)

    def _at(self, tip, target):
        tolerance = self.params.position_tolerance
        return (abs(tip[1] - target[1]) <= tolerance and abs(tip[2] - target[2]) <= tolerance
                and abs(tip[0] - target[0]) * max(tip[1], 0.1) <= tolerance)

    def update(self, measurement, anchored, allowance):
        """Return the ScraperCommand for this period.

        allowance [N] is the blade force the anchoring controller grants the scraper now.
        """
        params = self.params
        previous, self.last = self.last, measurement
        dt = measurement.time - previous.time if previous else 0.0
        joints = measurement.joints
        tip = self.tip(joints)
        moved = (_distance(tip, self.tip(previous.joints)) / dt
                 if previous and dt > 0.0 else math.inf)
        limit = min(params.max_blade_force,
                    max(allowance, 0.0) if math.isfinite(allowance) else 0.0)
        force = measurement.blade_force
        self.peak_force = max(self.peak_force, force)
        if self.state in ACTIVE_STATES and not anchored:
            self._fault('anchoring lost while scraping: blade stopped')
        if self.state in (ScraperState.IDLE, ScraperState.DONE, ScraperState.FAULT):
            self.power_wait = False
            return self.update_hold(joints)
        self.power_wait = params.power_budget < params.arm_idle_power
        if self.power_wait:
            # Not enough power to move the arm: hold it where it is, blade unloaded, and
            # go on where it stood once the supervisor grants more. The job's clocks
            # (dumping, jams) stand still meanwhile: waiting is not failing.
            self.phase_since += dt
            self.dump_progress_time += dt
            self.jam_since = None
            return self.update_hold(joints)
        wrist, speed, goal = 0.0, params.transit_speed, None
        if self.state in (ScraperState.LOWERING, ScraperState.CUTTING):
            speed = params.cut_speed
            if force >= params.jam_force_fraction * limit and moved < params.jam_rate:
                self.jam_since = measurement.time if self.jam_since is None else self.jam_since
                if measurement.time - self.jam_since >= params.jam_time:
                    self._jammed(tip, force, limit)
            else:
                self.jam_since = None
        state = self.state
        if state == ScraperState.POSITIONING:
            if self._at(tip, self.target):
                self.target = (self.target[0], self.target[1], -self.depth)
                self._enter(ScraperState.LOWERING)
        elif state == ScraperState.LOWERING:
            self._control_depth(force, limit, dt, tip[2])
            self.target = (self.target[0], self.target[1], -self.depth)
            # Cut only once at depth: from a blade still above it the cut would run a
            # straight line to the pass end at depth and leave a wedge uncut.
            if tip[2] <= -self.depth + min(params.position_tolerance, 0.1 * self.depth):
                self._enter(ScraperState.CUTTING)
        elif state == ScraperState.CUTTING:
            self._control_depth(force, limit, dt, tip[2])
            _, _, end = self.plan[self.pass_index]
            self.target = (self.target[0], end, -self.depth)
            reached = self.progress['radius']
            self.progress['radius'] = tip[1] if reached is None else min(reached, tip[1])
            if tip[1] <= end + params.position_tolerance:
                self.target = (self.target[0], end, params.clearance)
                self.progress['cut'] = True
                self._enter(ScraperState.RECOVERING)  # lift out at the end of the pass
        elif state == ScraperState.RECOVERING:
            _, _, end = self.plan[self.pass_index]
            if tip[2] < params.clearance - params.position_tolerance:
                goal = (self.target[0], tip[1], params.clearance)  # straight up first
            elif self._at(tip, self.target):
                if self.target[1] > end + params.position_tolerance:
                    # Past the obstacle: plunge again and carry on with the pass.
                    self.depth = self.request.cut_depth
                    self.target = (self.target[0], self.target[1], -self.depth)
                    self._enter(ScraperState.LOWERING)
                else:
                    self._dump()
        elif state == ScraperState.DUMPING:
            if self._at(tip, self.target):
                wrist = params.dump_angle
                tipped = measurement.time - self.phase_since
                mass = measurement.bucket_mass
                if mass < self.dump_lowest - params.dump_progress_mass:
                    self.dump_lowest, self.dump_progress_time = mass, measurement.time
                if tipped >= params.dump_time and mass <= params.bucket_empty_mass:
                    self.pass_index += 1
                    self.progress.update(pass_index=self.pass_index, radius=None, cut=False)
                    if self.pass_index < len(self.plan):
                        self._begin_pass()
                    else:
                        self.progress.update(pass_index=self.pass_index - 1, stowing=True)
                        self._stow()
                    wrist = 0.0
                elif measurement.time - self.dump_progress_time >= params.dump_timeout:
                    # Never stow a loaded bucket and call the job done: it would hold
                    # that material for good.
                    self._fault(f'the bucket stopped emptying: {mass:.3f} kg still in it '
                                f'after {params.dump_timeout:g} s tipped over the intake '
                                f'without getting lighter (is the intake full or the line '
                                f'stopped?)')
                    wrist = 0.0
            else:
                self.phase_since = measurement.time
                self.dump_lowest, self.dump_progress_time = math.inf, measurement.time
        elif state == ScraperState.STOWING:
            if self._at(tip, self.target) and abs(joints.get('wrist', 0.0)) < 0.05:
                self.state = ScraperState.IDLE if self.reason else ScraperState.DONE
                if self.state == ScraperState.DONE:
                    self.progress = None  # finished: the next start is a new job
        if self.state in (ScraperState.FAULT, ScraperState.DONE, ScraperState.IDLE):
            return self.update_hold(joints)
        if force > 0.0:  # the blade's work within what the power share leaves the arm
            spare = (params.power_budget - params.arm_idle_power) * params.drive_efficiency
            speed = min(speed, spare / force)
        return self._command_toward(tip, goal or self.target, speed, dt, limit, wrist)

    def _jammed(self, tip, force, limit):
        self.jams += 1
        self.jam_since = None
        if self.jams > self.params.max_jams:
            self._fault(f'blade jammed {self.jams} times (force {force:.1f} N at the '
                        f'{limit:.1f} N limit, no progress): stopped')
            return
        _, _, end = self.plan[self.pass_index]
        # Lift clear and move past the obstacle, then resume the pass.
        self.target = (self.target[0], max(tip[1] - self.params.jam_skip, end),
                       self.params.clearance)
        self._enter(ScraperState.RECOVERING)

    def update_hold(self, joints):
        """Hold the arm where it is with no blade force."""
        self.command = ScraperCommand(
            positions={name: joints.get(name, 0.0) for name in ROLES}, force_limit=0.0)
        return self.command

    def _control_depth(self, force, limit, dt, tip_z):
        params = self.params
        if force > params.force_backoff_fraction * limit:
            # Stop going deeper at once, then rise out of the overload.
            self.depth = max(min(self.depth, -tip_z) - params.depth_rate * dt, 0.0)
        elif force < 0.5 * params.force_backoff_fraction * limit:
            self.depth = min(self.depth + params.depth_rate * dt, self.request.cut_depth)

    def _command_toward(self, tip, goal, speed, dt, limit, wrist):
        """Joint targets one step of speed * dt from the measured tip toward goal."""
        slew, radius, z = tip
        gslew, gradius, gz = goal
        # Work in a local Cartesian frame so the tip moves in straight lines.
        dx = gradius - radius
        dy = (gslew - slew) * max(radius, 0.1)
        dz = gz - z
        distance = math.sqrt(dx * dx + dy * dy + dz * dz)
        step = speed * max(dt, 0.0) * 2.0  # lead the measured tip by two periods
        scale = 1.0 if distance <= step or distance == 0.0 else step / distance
        new = (slew + dy * scale / max(radius, 0.1), radius + dx * scale, z + dz * scale)
        try:
            shoulder, elbow = self.geometry.inverse(new[1], new[2])
        except ValueError as error:
            self._fault(f'arm target unreachable: {error}')
            return self.update_hold(self.last.joints)
        low, high = self.geometry.slew_limits
        positions = {'slew': min(max(new[0], low), high), 'shoulder': shoulder,
                     'elbow': elbow, 'wrist': wrist}
        # Joint speeds that reach the lead point in two periods: the tip moves at speed.
        horizon = 2.0 * dt if dt > 0.0 else 1.0
        joints = self.last.joints
        velocities = {name: abs(value - joints.get(name, 0.0)) / horizon
                      for name, value in positions.items()}
        velocities['wrist'] = self.params.wrist_speed
        self.command = ScraperCommand(positions=positions, force_limit=limit,
                                      velocities=velocities)
        return self.command


def _distance(a, b):
    """Distance between two tips given as (slew, radius, z) [m]."""
    dy = (a[0] - b[0]) * max(a[1], 0.1)
    return math.sqrt((a[1] - b[1]) ** 2 + dy * dy + (a[2] - b[2]) ** 2)
