"""Material handling controller: conveyor, separator and furnace feeders.

Keeps material moving from the tools' intake through the conveyor and separator into
the hoppers, and from a hopper to the furnace on request:
- speeds are capped so grains leave the transfer points slower than what loses more
  than loss_limit of them to space (see conveying.LaunchSite.max_exit_speed);
- backpressure: as any hopper the separator feeds fills past slow_level, the separator
  and conveyor slow down in proportion, and stop at stop_level, so nothing overflows;
- clog detection: conveyor motor torque above clog_torque while the discharge flow is
  below clog_flow_fraction of what the loaded screw should deliver, for clog_time, is a
  clog; the screw is reversed for reverse_time and restarted; more than max_clears clogs
  in a row fault the line and stop it.
"""

from dataclasses import dataclass
import enum
import math

from spacemine_ros.core.ledger import GROUND, Ledger, LedgerError, LedgerViolation
from spacemine_ros.core.validation import in_range, non_negative, positive


MIN_SLOW_FACTOR = 0.2  # share of full speed just below the stop level


class LineState(enum.Enum):
    """States of the material line."""

    STOPPED = 'STOPPED'
    RUNNING = 'RUNNING'
    HELD = 'HELD'  # running, but stopped by a full hopper (backpressure)
    CLEARING = 'CLEARING'  # reversing the conveyor to clear a clog
    FAULT = 'FAULT'


RUNNING_STATES = (LineState.RUNNING, LineState.HELD, LineState.CLEARING)


@dataclass
class LineParams:
    """Limits and tuning of the material line (SI units)."""

    conveyor_speed: float = 6.0  # rad/s nominal screw speed
    separator_speed: float = 2.0  # rad/s nominal drum speed
    feeder_speed: float = 4.0  # rad/s furnace feeder screw speed
    loss_limit: float = 0.001  # largest share of a flow allowed to escape at a transfer
    slow_level: float = 0.8  # hopper fill share where backpressure starts slowing the line
    stop_level: float = 0.95  # hopper fill share where it stops
    clog_torque: float = 8.0  # N m conveyor motor torque that suggests a clog
    clog_flow_fraction: float = 0.2  # discharge below this share of the expected flow
    clog_min_load: float = 0.05  # kg on the conveyor before flow is expected
    clog_time: float = 1.0  # s
    reverse_speed: float = 3.0  # rad/s
    reverse_time: float = 2.0  # s
    max_clears: int = 3  # clogs cleared in a row before a fault
    # Power: the supervisor's shares for the conveyor with its feeders and for the
    # separator. A turning drive draws drive_idle_power, plus its shaft power (torque x
    # speed) through drive_efficiency; a share below what the line draws holds the line.
    conveyor_power_budget: float = 40.0  # W
    separator_power_budget: float = 30.0  # W
    drive_idle_power: float = 10.0  # W
    drive_efficiency: float = 0.7

    def validate(self):
        """Raise ValueError with a reason if a value is out of range."""
        for name in ('conveyor_speed', 'separator_speed', 'feeder_speed', 'clog_torque',
                     'clog_time', 'reverse_speed', 'reverse_time'):
            positive(name, getattr(self, name))
        in_range('loss_limit', self.loss_limit, 1e-9, 0.5)
        in_range('slow_level', self.slow_level, 0.0, 1.0)
        in_range('stop_level', self.stop_level, 0.0, 1.0)
        if self.slow_level >= self.stop_level:
            raise ValueError(f'slow_level {self.slow_level:g} must be below stop_level '
                             f'{self.stop_level:g}')
        in_range('clog_flow_fraction', self.clog_flow_fraction, 0.0, 1.0)
        non_negative('clog_min_load', self.clog_min_load, 'kg')
        in_range('max_clears', self.max_clears, 0, 100)
        in_range('conveyor_power_budget', self.conveyor_power_budget, 0.0, 1e6, 'W')
        in_range('separator_power_budget', self.separator_power_budget, 0.0, 1e6, 'W')
        in_range('drive_idle_power', self.drive_idle_power, 0.0, 1e4, 'W')
        in_range('drive_efficiency', self.drive_efficiency, 0.01, 1.0)
        return self


@dataclass
class LineMeasurement:
    """Inputs of one control period."""

    time: float  # s
    conveyor_torque: float  # N m
    conveyor_load: float  # kg on the conveyor
    conveyor_discharged: float  # kg, cumulative discharge from the conveyor
    hopper_masses: dict  # hopper -> kg
    fed: float = 0.0  # kg, cumulative mass fed to the furnace


@dataclass
class LineCommand:
    """Outputs: drive speeds [rad/s] (negative reverses)."""

    conveyor: float = 0.0
    separator: float = 0.0
    feeders: dict = None


class MaterialLine:
    """Conveyor, separator and feeders under one controller."""

    def __init__(self, params, hopper_capacities, conveyor, bulk_density,
                 max_conveyor_speed=math.inf, max_separator_speed=math.inf, gravity=9.81):
        """Set up the line.

        hopper_capacities: {hopper: kg} fed by the separator. conveyor: a ScrewConveyor
        or BeltConveyor (for the expected flow). max_*_speed: caps from the ejecta limit.
        gravity: the site's effective gravity [m/s^2] (how the screw conveys).
        """
        self.params = params.validate()
        self.capacities = dict(hopper_capacities)
        self.conveyor = conveyor
        self.bulk_density = bulk_density
        self.gravity = gravity
        self.max_conveyor_speed = max_conveyor_speed
        self.max_separator_speed = max_separator_speed
        self.state = LineState.STOPPED
        self.reason = ''
        self.last = None
        self.clog_since = None
        self.clear_since = None
        self.clears = 0
        self.clogs = 0
        self.flow = 0.0  # kg/s conveyor discharge, filtered
        self.backpressure = 1.0
        self.feed_request = None  # (hopper, target cumulative fed mass)
        self.feeders = {}
        self.power_wait = ''  # why the line holds for power ('' when it does not)

    # Operator ------------------------------------------------------------------------------
    def start(self):
        """Start the line; return (accepted, message)."""
        if self.state == LineState.FAULT:
            return False, f'line in fault ({self.reason}); reset it first'
        if self.state != LineState.STOPPED:
            return False, f'already running ({self.state.value})'
        self.state, self.reason, self.clears = LineState.RUNNING, '', 0
        return True, 'material line running'

    def start_drain(self, drained_below, ledger_fault=''):
        """Run the line for a drain goal; return (accepted, message).

        A line already running takes the goal as it runs; a ledger fault (the books and
        the mass sensors disagree) refuses it as a fault of the line would.
        """
        if ledger_fault:
            return False, f'ledger fault: {ledger_fault}'
        if not drained_below > 0.0:
            return False, f'drained_below must be above 0 kg, got {drained_below:g}'
        if self.state in RUNNING_STATES:
            return True, f'the line runs ({self.state.value})'
        return self.start()

    def input_lost(self, reason):
        """Fault if the line runs: its readings stopped (returns whether)."""
        if self.state in (LineState.STOPPED, LineState.FAULT):
            return False
        self.state, self.reason, self.feed_request = LineState.FAULT, reason, None
        return True

    def stop(self):
        """Stop every drive."""
        self.state, self.feed_request = LineState.STOPPED, None
        return True, 'material line stopped'

    def reset(self, ledger_fault=''):
        """Clear a fault (the line's, or the ledger's if given); the line stays stopped."""
        if ledger_fault:
            self.state, self.feed_request = LineState.STOPPED, None
            return True, 'ledger fault cleared; line stopped'
        if self.state != LineState.FAULT:
            return False, f'not in fault ({self.state.value})'
        self.state, self.reason, self.clears = LineState.STOPPED, '', 0
        return True, 'fault cleared'

    def request_feed(self, hopper, mass, hopper_mass, furnace_room):
        """Feed mass [kg] from a hopper to the furnace; return (accepted, message)."""
        if self.state == LineState.FAULT:
            return False, f'line in fault ({self.reason})'
        if hopper not in self.capacities:
            return False, (f'unknown hopper {hopper!r}; hoppers: '
                           f'{", ".join(sorted(self.capacities))}')
        if not (math.isfinite(mass) and mass > 0.0):
            return False, f'feed mass must be a positive number of kg, got {mass}'
        if mass > hopper_mass:
            return False, f'{hopper} holds {hopper_mass:.3f} kg, less than {mass:.3f} kg'
        if mass > furnace_room:
            return False, f'the furnace has room for {furnace_room:.3f} kg, not {mass:.3f} kg'
        fed = self.last.fed if self.last else 0.0
        self.feed_request = (hopper, fed + mass)
        return True, f'feeding {mass:.3f} kg from {hopper} to the furnace'

    def charge_furnace(self, hopper, mass, weighed, ledger):
        """Feed mass [kg] from a hopper to the furnace; return (accepted, message).

        The hopper holds what its scale last read (weighed: {account: kg}), else what the
        ledger says; an unknown hopper is refused by request_feed, never looked up.
        """
        held = 0.0
        if hopper in self.capacities:
            held = weighed[hopper] if hopper in weighed else ledger.mass(hopper)
        return self.request_feed(hopper, mass, held, ledger.room('furnace'))

    @property
    def feeding(self):
        """True while a furnace feed is in progress."""
        return self.feed_request is not None

    # Control -------------------------------------------------------------------------------
    def expected_flow(self, speed, load):
        """Discharge the loaded conveyor should deliver at this speed [kg/s]."""
        holdup = self.conveyor.holdup(self.bulk_density)
        capacity = self.conveyor.capacity(speed, self.bulk_density, self.gravity)
        return capacity * min(load / holdup, 1.0) if holdup > 0.0 else 0.0

    def update(self, measurement):
        """Return the LineCommand for this period."""
        params = self.params
        previous, self.last = self.last, measurement
        dt = measurement.time - previous.time if previous else 0.0
        if dt > 0.0:
            flow = max(measurement.conveyor_discharged - previous.conveyor_discharged, 0.0) / dt
            self.flow += min(dt / 0.5, 1.0) * (flow - self.flow)  # 0.5 s low-pass
        feeders = self._feeders(measurement)
        if self.state in (LineState.STOPPED, LineState.FAULT):
            self.feed_request = None if self.state == LineState.FAULT else self.feed_request
            return LineCommand(0.0, 0.0, feeders if self.state == LineState.STOPPED
                               else dict.fromkeys(feeders, 0.0))
        self.backpressure = min((self._level_factor(h, m) for h, m in
                                 measurement.hopper_masses.items() if h in self.capacities),
                                default=1.0)
        conveyor_speed = min(params.conveyor_speed, self.max_conveyor_speed) * self.backpressure
        separator_speed = min(params.separator_speed, self.max_separator_speed) * \
            self.backpressure

        conveyor_speed, short = self._within_power(conveyor_speed, measurement.conveyor_torque,
                                                   feeders)
        if short:
            # Not enough power to turn the line's drives: hold every one (what is on the
            # conveyor stays there) and go on when the supervisor grants more.
            self.state, self.power_wait = LineState.HELD, short
            if self.clear_since is not None:
                self.clear_since += dt  # a clearing goes on where it stood
            self.clog_since = None
            return LineCommand(0.0, 0.0, dict.fromkeys(feeders, 0.0))
        self.power_wait = ''
        if self.state == LineState.CLEARING:
            if measurement.time - self.clear_since >= params.reverse_time:
                self.state, self.clog_since = LineState.RUNNING, None
            else:
                return LineCommand(-params.reverse_speed, 0.0, feeders)
        self.state = LineState.HELD if self.backpressure <= 0.0 else LineState.RUNNING

        expected = self.expected_flow(conveyor_speed, measurement.conveyor_load)
        clogged = (conveyor_speed > 0.0 and measurement.conveyor_load >= params.clog_min_load
                   and measurement.conveyor_torque >= params.clog_torque
                   and self.flow < params.clog_flow_fraction * expected)
        if clogged:
            self.clog_since = measurement.time if self.clog_since is None else self.clog_since
            if measurement.time - self.clog_since >= params.clog_time:
                self.clogs += 1
                self.clears += 1
                self.clog_since = None
                if self.clears > params.max_clears:
                    self.state = LineState.FAULT
                    self.reason = (f'conveyor clogged {self.clears} times in a row (torque '
                                   f'{measurement.conveyor_torque:.1f} N m, flow '
                                   f'{self.flow:.4f} kg/s of {expected:.4f} expected): stopped')
                    return LineCommand(0.0, 0.0, dict.fromkeys(feeders, 0.0))
                self.state, self.clear_since = LineState.CLEARING, measurement.time
                return LineCommand(-params.reverse_speed, 0.0, feeders)
        else:
            self.clog_since = None
            if self.flow >= 0.5 * expected and expected > 0.0:
                self.clears = 0  # flowing again: the clog is gone
        return LineCommand(conveyor_speed, separator_speed, feeders)

    def _within_power(self, conveyor_speed, conveyor_torque, feeders):
        """Return (conveyor speed within its power share, why the line must hold or '').

        Each turning drive draws drive_idle_power; what the conveyor's share leaves after
        that turns the screw against its torque (speed <= spare x efficiency / torque).
        """
        params = self.params
        turning = sum(1 for speed in feeders.values() if speed > 0.0) + 1
        spare = params.conveyor_power_budget - params.drive_idle_power * turning
        if spare <= 0.0:
            return 0.0, (f'waiting for power: the conveyor and feeders need '
                         f'{params.drive_idle_power * turning:.0f} W to turn, their share is '
                         f'{params.conveyor_power_budget:.0f} W')
        if params.separator_power_budget < params.drive_idle_power:
            return 0.0, (f'waiting for power: the separator needs '
                         f'{params.drive_idle_power:.0f} W to turn, its share is '
                         f'{params.separator_power_budget:.0f} W')
        torque = abs(conveyor_torque) if math.isfinite(conveyor_torque) else 0.0
        if torque > 0.0:
            conveyor_speed = min(conveyor_speed, spare * params.drive_efficiency / torque)
        return conveyor_speed, ''

    def _level_factor(self, hopper, mass):
        fill = mass / self.capacities[hopper]
        params = self.params
        if fill >= params.stop_level:
            return 0.0
        if fill <= params.slow_level:
            return 1.0
        # Slow down to a crawl across the band, then stop: the hopper reaches the stop
        # level in finite time instead of creeping toward it.
        band = (params.stop_level - fill) / (params.stop_level - params.slow_level)
        return MIN_SLOW_FACTOR + (1.0 - MIN_SLOW_FACTOR) * band

    def _feeders(self, measurement):
        speeds = dict.fromkeys(self.capacities, 0.0)
        if self.feed_request is None:
            return speeds
        hopper, target = self.feed_request
        if measurement.fed >= target - 1e-9 or measurement.hopper_masses.get(hopper, 0.0) <= 0.0:
            self.feed_request = None
            return speeds
        speeds[hopper] = self.params.feeder_speed
        return speeds


def build_line(config, params, launch_site, bulk_density, gravity):
    """Build the MaterialLine for a material path (MaterialConfig) at a site.

    Conveyor and separator speeds are capped so that of the grains they throw (the
    screw's at its flight tip speed, the drum's at its surface speed, each in its launch
    pattern) no more than params.loss_limit escape from the site through the shroud's
    openings (launch_site: core.models.conveying.LaunchSite). gravity: the site's effective
    gravity [m/s^2].
    """
    def limit(name):
        point = config.transfer_points[name]
        if point.open_fraction <= 0.0:
            return math.inf  # closed: nothing escapes whatever the speed
        return launch_site.max_exit_speed(min(params.loss_limit / point.open_fraction, 0.5),
                                          point.launch, config.speed_ratio)
    conveyor_limit = limit('conveyor_discharge')
    drum_limit = min(limit('separator_metal'), limit('separator_silicate'))
    return MaterialLine(
        params, {hopper: config.capacities[hopper] for hopper in config.hoppers},
        config.conveyor, bulk_density,
        max_conveyor_speed=fastest(lambda w: config.conveyor.exit_speed(w, gravity),
                                   conveyor_limit, config.conveyor_drive.max_speed),
        max_separator_speed=drum_limit / config.drum_radius, gravity=gravity)


def fastest(exit_speed, limit, drive_limit):
    """Highest drive speed in [0, drive_limit] whose exit_speed(speed) stays within limit."""
    if exit_speed(drive_limit) <= limit:
        return drive_limit
    low, high = 0.0, drive_limit
    for _ in range(60):  # exit speed grows with drive speed
        middle = 0.5 * (low + high)
        if exit_speed(middle) <= limit:
            low = middle
        else:
            high = middle
    return low


MAX_DEFERRED = 20  # updates a refused transfer may wait for its upstream totalizer
MAX_PASSES = 1000  # passes over the points in one update (a cold start books a shift)
# Updates a mass sensor may disagree with the books before it is a fault: on a real bus
# gauges and totalizers are read one after another, not at one instant, so while
# material flows they disagree briefly by the flow times the sampling skew.
MAX_MISMATCH = 20
# Totalizers report in float32 (about 7 digits): chained readings can disagree by that
# much, so a transfer short of its source by no more than this share of the reading is
# booked as far as the source goes instead of waiting for mass that will never come.
TOTALIZER_RESOLUTION = 1e-6


class TotalizerBooks:
    """The rig's mass ledger, kept from what a real rig reports.

    Each transfer point has two cumulative totalizers (kg delivered, kg lost); every
    increment becomes one ledger transfer. Points are booked in flow order (config order:
    excavation first). An increment books what its source holds; the rest (the upstream
    totalizer's reading still on its way) waits for the next update, unless it is within
    the totalizer's float32 rounding. A rest that waits more than MAX_DEFERRED updates
    without progress, or a totalizer that runs backwards, is a fault. The books are also
    compared with the mass sensors; a
    difference beyond the tolerance for more than MAX_MISMATCH updates in a row (or a
    sensor that reads NaN) is a fault.
    """

    SPECIES = ('regolith',)  # mass only: composition is the separator's business

    def __init__(self, config, on_transfer=None):
        self.config = config
        self.on_transfer = on_transfer  # every transfer as it is booked (a TransferLog)
        self.ledger = Ledger(config.accounts, self.SPECIES, config.capacities,
                             on_transfer=on_transfer)
        self.totals = {}  # (point, kind) -> latest totalizer reading [kg]
        self.booked = {}  # (point, kind) -> what the ledger has booked from it [kg]
        self.deferred = {}  # (point, kind) -> updates its increment has waited
        self.mismatched = {}  # account -> updates its sensor has disagreed with the books

    def rebuild(self):
        """Forget the books and the readings: book again from the next readings.

        For a simulated world restored from its checkpoint: its totalizers read what they
        read then, less than what was booked since, and what was booked since did not
        happen in the world that goes on. (Devices' totalizers never go back.)
        """
        self.__init__(self.config, self.on_transfer)

    def heard_all(self):
        """Tell whether every totalizer has been read since the start (or rebuild()).

        Until then the books are partial: a restarted node's empty accounts would read as
        a drained line, and an account downstream of one not heard yet as a loss.
        """
        return all((point, kind) in self.totals for point in self.config.transfer_points
                   for kind in ('delivered', 'lost'))

    def reading(self, point, kind):
        """Latest totalizer reading [kg] (0 before the first)."""
        return self.totals.get((point, kind), 0.0)

    def book(self, time):
        """Turn totalizer increments into ledger transfers; return a fault reason or ''.

        Points are booked in flow order, in passes until nothing more moves: from a cold
        start (a restarted node reading totalizers that hold a whole shift) what has
        flowed through an account bigger than its capacity gets through it pass by pass,
        as it did, instead of jamming at the first full account.
        """
        self.waited = set()  # points whose wait was counted in this update
        for _ in range(MAX_PASSES):
            progress, fault = self._book_pass(time)
            if fault or not progress:
                return fault
        return ''

    def _book_pass(self, time):
        """Book each point's increment once; return (whether anything moved, fault)."""
        progress = False
        for point in self.config.transfer_points.values():
            for kind in ('delivered', 'lost'):
                key = (point.name, kind)
                increment = self.totals.get(key, 0.0) - self.booked.get(key, 0.0)
                if increment < -1e-9:
                    # A totalizer never runs backwards: a fault, unless the reading goes
                    # away within MAX_DEFERRED updates (a world restored from its
                    # checkpoint, whose notice is on its way: rebuild()).
                    if key not in self.waited:
                        self.waited.add(key)
                        self.deferred[key] = self.deferred.get(key, 0) + 1
                    if self.deferred[key] > MAX_DEFERRED:
                        return progress, (f'totalizer material/{point.name}/{kind} went back '
                                          f'from {self.booked[key]:.6f} to '
                                          f'{self.totals[key]:.6f} kg')
                    continue
                if increment <= 0.0:
                    continue
                destination = point.destination if kind == 'delivered' else 'lost'
                note = f'{point.name} {kind}'
                if point.source == GROUND:
                    try:
                        self.ledger.excavate(destination, {'regolith': increment}, time, note)
                        moved = increment
                    except LedgerError:
                        moved = 0.0
                else:
                    # What the source holds moves now; the rest waits for the upstream
                    # reading (while material flows the upstream totalizer is always read
                    # a little before this one).
                    moved = self.ledger.move(point.source, destination, increment, time, note,
                                             partial=True)
                self.booked[key] = self.booked.get(key, 0.0) + moved
                progress = progress or moved > 0.0
                rest = increment - moved
                # A shortfall within the totalizer's float32 rounding is no mass to wait for.
                resolution = (0.0 if point.source == GROUND else
                              TOTALIZER_RESOLUTION * max(1.0, abs(self.totals[key])))
                if rest <= resolution:
                    self.booked[key] = self.totals[key]
                    self.deferred.pop(key, None)
                    continue
                # Only an update without progress counts towards the fault (not a pass).
                if moved > 0.0:
                    self.deferred[key] = 0
                    self.waited.add(key)  # it moved in this update: no wait to count
                elif key not in self.waited:
                    self.waited.add(key)
                    self.deferred[key] = self.deferred.get(key, 0) + 1
                if self.deferred[key] > MAX_DEFERRED:
                    return progress, self._stuck_reason(point, destination, note, rest)
        return progress, ''

    def _stuck_reason(self, point, destination, note, rest):
        if point.source == GROUND:
            held = ''
        else:
            held = f'{point.source} holds {self.ledger.mass(point.source):.9g} kg, '
        return (f'{note}: {rest:.9g} kg could not be booked for {MAX_DEFERRED} updates '
                f'({held}{destination} has room for {self.ledger.room(destination):.9g} kg)')

    def cross_check(self, masses, tolerance):
        """Compare mass sensor readings {account: kg} with the books; return a reason or ''."""
        for account, measured in masses.items():
            booked = self.ledger.mass(account)
            if math.isfinite(measured) and abs(measured - booked) <= tolerance:
                self.mismatched.pop(account, None)
                continue
            self.mismatched[account] = self.mismatched.get(account, 0) + 1
            if self.mismatched[account] > MAX_MISMATCH or not math.isfinite(measured):
                return (f'{account}: mass sensor reads {measured:.4f} kg but the ledger holds '
                        f'{booked:.4f} kg (tolerance {tolerance:g} kg, for '
                        f'{self.mismatched[account]} updates)')
        return ''

    def update(self, time, masses, tolerance):
        """Book, check the ledger and cross-check the sensors; return a fault reason or ''."""
        try:
            reason = self.book(time) or self.cross_check(masses, tolerance)
            self.ledger.check()
        except LedgerViolation as error:
            reason = str(error)
        return reason
