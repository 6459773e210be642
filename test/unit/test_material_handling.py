"""Material line controller: backpressure, clog detection and recovery, furnace feed."""

import math
import os

import pytest
import yaml

from spacemine_ros.core.config import ConfigError
from spacemine_ros.core.models.material_config import load_material_config, material_config_from
from spacemine_ros.core.models.conveying import LaunchSite
from spacemine_ros.core.control.material_handling import (
    build_line, LineMeasurement, LineParams, LineState, MAX_DEFERRED, MAX_MISMATCH, TotalizerBooks)
from test.conftest import CONFIG

CONFIG_FILE = os.path.join(CONFIG, 'material.yaml')


@pytest.fixture(scope='module')
def material():
    return load_material_config(CONFIG_FILE)


PSYCHE = LaunchSite(169.8, (45.0, 0.0, 0.0))
BENNU = LaunchSite(0.1998, (0.0995, 0.0, 0.0))  # the equator moves at half escape speed


def line_for(material, site=PSYCHE, gravity=0.13, **overrides):
    params = LineParams(**overrides)
    line = build_line(material, params, site, 2500.0, gravity)
    assert line.start()[0]
    return line


def measure(time, hoppers=None, torque=1.0, load=0.5, discharged=0.0, fed=0.0):
    return LineMeasurement(time, torque, load, discharged,
                           hoppers or {'hopper_metal': 0.0, 'hopper_silicate': 0.0}, fed)


def test_speeds_are_capped_so_grains_do_not_escape_a_small_body(material):
    on_psyche = line_for(material).update(measure(0.0))
    on_bennu = line_for(material, BENNU, 4e-5).update(measure(0.0))
    assert on_psyche.conveyor == pytest.approx(LineParams().conveyor_speed)
    assert on_bennu.conveyor < on_psyche.conveyor
    # The screw throws its grains at its flight tip's speed, across its axis.
    point = material.transfer_points['conveyor_discharge']
    thrown = material.conveyor.exit_speed(on_bennu.conveyor, 4e-5)
    assert point.open_fraction * BENNU.escaping_fraction(
        thrown, point.launch, material.speed_ratio) == pytest.approx(LineParams().loss_limit,
                                                                     rel=1e-6)
    drum = material.drum_radius * on_bennu.separator
    point = material.transfer_points['separator_metal']
    assert point.open_fraction * BENNU.escaping_fraction(
        drum, point.launch, material.speed_ratio) <= LineParams().loss_limit * 1.000001


def test_a_filling_hopper_slows_then_stops_the_line(material):
    line = line_for(material)
    capacity = material.capacities['hopper_metal']
    speeds = []
    for step, fill in enumerate((0.5, 0.85, 0.9, 0.95, 0.99)):
        command = line.update(measure(step * 0.05, {'hopper_metal': fill * capacity,
                                                    'hopper_silicate': 0.0}))
        speeds.append((command.conveyor, command.separator))
    assert speeds[0][0] > speeds[1][0] > speeds[2][0] > 0.0
    assert speeds[3] == (0.0, 0.0) and speeds[4] == (0.0, 0.0)
    assert line.state == LineState.HELD
    command = line.update(measure(1.0))  # emptied: it runs again
    assert command.conveyor > 0.0 and line.state == LineState.RUNNING


def test_a_clog_is_detected_reversed_and_cleared(material):
    line = line_for(material, clog_time=0.5, reverse_time=1.0)
    time, commands = 0.0, []
    # Loaded, torque at stall, nothing coming out: a clog.
    while time < 3.0:
        commands.append((time, line.update(measure(time, torque=15.0, load=1.0)), line.state))
        time += 0.05
    states = [state for _, _, state in commands]
    assert LineState.CLEARING in states
    reversing = [c for _, c, s in commands if s == LineState.CLEARING]
    assert all(c.conveyor < 0.0 for c in reversing)
    assert line.clogs >= 1
    # Flowing again after the reversal: back to running and the retry count resets.
    discharged = 0.0
    for _ in range(40):
        discharged += 0.01
        line.update(measure(time, torque=2.0, load=1.0, discharged=discharged))
        time += 0.05
    assert line.state == LineState.RUNNING and line.clears == 0


def test_a_clog_that_does_not_clear_faults_the_line(material):
    line = line_for(material, clog_time=0.2, reverse_time=0.2, max_clears=2)
    time = 0.0
    while time < 10.0 and line.state != LineState.FAULT:
        line.update(measure(time, torque=15.0, load=1.0))
        time += 0.05
    assert line.state == LineState.FAULT and 'clogged 3 times' in line.reason
    command = line.update(measure(time, torque=15.0, load=1.0))
    assert command.conveyor == 0.0 and command.separator == 0.0
    assert not line.start()[0] and line.reset()[0] and line.start()[0]


def test_a_drain_goal_runs_the_line_or_takes_it_running_and_is_refused_on_a_fault(material):
    line = line_for(material)
    line.stop()
    for drained_below, reason in [(0.0, 'above 0 kg'), (-1.0, 'above 0 kg'),
                                  (math.nan, 'above 0 kg')]:
        accepted, message = line.start_drain(drained_below)
        assert not accepted and reason in message and line.state == LineState.STOPPED
    assert line.start_drain(0.1) == (True, 'material line running')
    line.state = LineState.HELD  # a line that runs (held by a full hopper) takes the goal
    assert line.start_drain(math.inf) == (True, 'the line runs (HELD)')
    line.stop()
    accepted, message = line.start_drain(0.1, ledger_fault='the books disagree')
    assert not accepted and message == 'ledger fault: the books disagree'
    assert line.state == LineState.STOPPED
    line.state, line.reason = LineState.FAULT, 'clogged'
    assert not line.start_drain(0.1)[0]
    # A reset clears the ledger's fault, leaving the line stopped; or the line's own.
    line.state = LineState.RUNNING
    assert line.reset('the books disagree') == (True, 'ledger fault cleared; line stopped')
    assert line.state == LineState.STOPPED
    assert not line.reset()[0]


def test_furnace_feed_requests_are_checked_and_stop_at_the_mass(material):
    line = line_for(material)
    hoppers = {'hopper_metal': 3.0, 'hopper_silicate': 0.0}
    line.update(measure(0.0, hoppers))
    assert not line.request_feed('hopper_gold', 1.0, 3.0, 10.0)[0]
    assert not line.request_feed('hopper_metal', -1.0, 3.0, 10.0)[0]
    assert not line.request_feed('hopper_metal', math.nan, 3.0, 10.0)[0]
    assert 'holds 3.000 kg' in line.request_feed('hopper_metal', 5.0, 3.0, 10.0)[1]
    assert 'room for 1.000 kg' in line.request_feed('hopper_metal', 2.0, 3.0, 1.0)[1]
    assert line.request_feed('hopper_metal', 2.0, 3.0, 10.0)[0]
    command = line.update(measure(0.05, hoppers, fed=1.0))
    assert command.feeders['hopper_metal'] > 0.0
    command = line.update(measure(0.10, hoppers, fed=2.0))
    assert command.feeders['hopper_metal'] == 0.0 and not line.feeding


def test_a_furnace_charge_reads_the_hopper_s_scale_else_the_ledger(material):
    line = line_for(material)
    ledger = TotalizerBooks(material).ledger
    line.update(measure(0.0))
    # An unknown hopper is refused with the hoppers' names, never looked up in the ledger.
    accepted, message = line.charge_furnace('hopper_gold', 0.1, {}, ledger)
    assert not accepted and "unknown hopper 'hopper_gold'; hoppers: hopper_metal" in message
    accepted, message = line.charge_furnace('hopper_metal', 0.1, {}, ledger)  # ledger: 0 kg
    assert not accepted and 'hopper_metal holds 0.000 kg' in message
    assert line.charge_furnace('hopper_metal', 0.1, {'hopper_metal': 0.5}, ledger)[0]


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match='slow_level'):
        LineParams(slow_level=0.9, stop_level=0.8).validate()
    with pytest.raises(ValueError, match='loss_limit'):
        LineParams(loss_limit=0.0).validate()


@pytest.mark.parametrize('edit,where', [
    (lambda d: d['accounts'].pop('lost'), 'missing lost'),
    (lambda d: d['conveyor'].update(fill_factor='lots'), 'conveyor.fill_factor'),
    (lambda d: d['separator'].update(entrainment=1.5), 'separator.entrainment'),
    (lambda d: d['separator']['species']['metal'].update(moment=3), 'species.metal: unknown'),
    (lambda d: d['transfer_points']['scraper_dump'].update(to='nowhere'), 'unknown account'),
    (lambda d: d['conveyor'].update(type='bucket'), 'expected screw or belt'),
])
def test_bad_material_config_names_the_faulty_entry(edit, where):
    data = yaml.safe_load(open(CONFIG_FILE))
    edit(data)
    with pytest.raises(ConfigError, match=where):
        material_config_from(data)


def test_totalizer_books_follow_the_flow_and_balance(material):
    books = TotalizerBooks(material)
    books.totals.update({('scraper_cut', 'delivered'): 2.0, ('scraper_cut', 'lost'): 0.1,
                         ('scraper_dump', 'delivered'): 1.5,
                         ('conveyor_discharge', 'delivered'): 1.0})
    assert books.update(1.0, {'scraper': 0.5, 'conveyor': 0.5}, 0.01) == ''
    ledger = books.ledger
    assert ledger.excavated_total == pytest.approx(2.1)
    assert ledger.mass('lost') == pytest.approx(0.1)
    assert ledger.mass('separator') == pytest.approx(1.0)
    assert len(ledger.record) == 4


def test_a_downstream_reading_ahead_of_its_upstream_waits_then_faults(material):
    books = TotalizerBooks(material)
    books.totals[('conveyor_discharge', 'delivered')] = 0.5  # the conveyor never got it
    for _ in range(MAX_DEFERRED):
        assert books.update(0.0, {}, 0.01) == ''
    assert books.ledger.excavated_total == 0.0
    assert 'conveyor_discharge delivered' in books.update(0.0, {}, 0.01)
    # Had the upstream reading arrived late, it would have booked cleanly.
    books = TotalizerBooks(material)
    books.totals[('conveyor_discharge', 'delivered')] = 0.5
    assert books.update(0.0, {}, 0.01) == ''
    books.totals[('drill_cut', 'delivered')] = 0.5
    books.totals[('drill_discharge', 'delivered')] = 0.5
    assert books.update(0.05, {}, 0.01) == ''
    assert books.ledger.mass('separator') == pytest.approx(0.5) and not books.deferred


def test_a_flow_read_upstream_first_books_without_fault_and_balances(material):
    # While the drill cuts and discharges, each bus cycle reads the cut totalizer a few
    # milliseconds before the discharge one, so the discharge is always a little ahead.
    books = TotalizerBooks(material)
    rate, skew = 0.0035, 0.004  # kg/s cut (and discharged at once); s between the reads
    for step in range(5 * MAX_DEFERRED):
        t = 0.05 * step
        books.totals[('drill_cut', 'delivered')] = rate * t
        books.totals[('drill_discharge', 'delivered')] = rate * (t + skew)
        assert books.update(t, {}, 0.01) == ''
    assert books.ledger.mass('drill') == 0.0
    # The flow stops and the last cut reading arrives: everything is booked.
    books.totals[('drill_cut', 'delivered')] = books.totals[('drill_discharge', 'delivered')]
    assert books.update(10.0, {}, 0.01) == ''
    assert books.ledger.mass('conveyor') == pytest.approx(rate * (0.05 * 99 + skew))
    assert books.ledger.mass('drill') == 0.0 and not any(books.deferred.values())
    assert abs(books.ledger.imbalance()['regolith']) < 1e-12
    # A discharge totalizer that over-reads is caught once the cut stops growing.
    books.totals[('drill_discharge', 'delivered')] += 0.004
    for _ in range(MAX_DEFERRED):
        assert books.update(11.0, {}, 0.01) == ''
    assert 'drill_discharge delivered' in books.update(11.0, {}, 0.01)


def test_float32_totalizer_rounding_is_booked_not_faulted(material):
    # Downstream totalizers a few float32 ulps ahead of the upstream one: the shortfall
    # is the sensors' resolution, not missing mass.
    books = TotalizerBooks(material)
    books.totals[('drill_cut', 'delivered')] = 2.0
    assert books.update(0.0, {}, 0.01) == ''
    books.totals[('drill_discharge', 'delivered')] = 2.0 + 2.4e-7
    for _ in range(MAX_DEFERRED + 2):
        assert books.update(0.05, {}, 0.01) == ''
    assert books.ledger.mass('drill') == 0.0
    assert books.ledger.mass('conveyor') == pytest.approx(2.0)
    # A real shortfall still waits and then faults.
    books.totals[('conveyor_discharge', 'delivered')] = 2.1
    assert books.update(0.1, {}, 0.01) == ''  # the 2.0 kg the conveyor holds is booked
    assert books.ledger.mass('separator') == pytest.approx(2.0)
    for _ in range(MAX_DEFERRED):
        assert books.update(0.1, {}, 0.01) == ''
    assert 'conveyor_discharge delivered' in books.update(0.1, {}, 0.01)


def test_a_totalizer_running_backwards_or_a_sensor_mismatch_is_a_fault(material):
    books = TotalizerBooks(material)
    books.totals[('drill_cut', 'delivered')] = 1.0
    assert books.update(0.0, {'drill': 1.0}, 0.01) == ''
    # A disagreement that lasts is a fault; a brief one (sampling skew) is not.
    for _ in range(MAX_MISMATCH):
        assert books.update(0.05, {'drill': 0.5}, 0.01) == ''
    assert books.update(0.05, {'drill': 1.0}, 0.01) == ''
    for _ in range(MAX_MISMATCH):
        assert books.update(0.05, {'drill': 0.5}, 0.01) == ''
    assert 'mass sensor reads 0.5000 kg but the ledger holds 1.0000 kg' in books.update(
        0.05, {'drill': 0.5}, 0.01)
    assert 'reads nan kg' in TotalizerBooks(material).update(0.0, {'drill': math.nan}, 0.01)
    books.totals[('drill_cut', 'delivered')] = 0.8
    for _ in range(MAX_DEFERRED):  # a restore notice may be on its way: not yet
        assert books.update(0.1, {}, 0.01) == ''
    assert 'went back from 1.000000 to 0.800000' in books.update(0.1, {}, 0.01)


def test_after_the_world_is_restored_the_books_follow_its_totalizers(material):
    books = TotalizerBooks(material)
    books.totals.update({('drill_cut', 'delivered'): 1.0, ('drill_discharge', 'delivered'): 0.9})
    assert books.update(0.0, {}, 0.01) == ''
    books.totals.update({('drill_cut', 'delivered'): 0.7, ('drill_discharge', 'delivered'): 0.6})
    assert books.update(0.05, {}, 0.01) == ''  # went back: waits for the notice
    books.rebuild()  # the notice: the world is its checkpoint's
    books.totals.update({('drill_cut', 'delivered'): 0.7, ('drill_discharge', 'delivered'): 0.6})
    assert books.update(0.1, {}, 0.01) == ''
    assert books.ledger.excavated_total == pytest.approx(0.7)
    assert books.ledger.mass('conveyor') == pytest.approx(0.6)


def test_the_line_runs_within_its_power_shares_and_holds_without_them(material):
    line = line_for(material)
    full = line.update(measure(0.0, torque=2.0))
    assert full.conveyor == pytest.approx(LineParams().conveyor_speed)  # 12 W of 40 W
    line.params.conveyor_power_budget = 20.0  # 10 W left for the shaft after the drive's
    throttled = line.update(measure(0.05, torque=2.0))
    assert throttled.conveyor == pytest.approx(10.0 * 0.7 / 2.0)
    assert throttled.conveyor * 2.0 / 0.7 + 10.0 <= 20.0 + 1e-9
    line.params.separator_power_budget = 5.0  # below the drum drive's 10 W
    held = line.update(measure(0.1, torque=2.0))
    assert (held.conveyor, held.separator) == (0.0, 0.0) and line.state == LineState.HELD
    assert 'waiting for power: the separator' in line.power_wait
    line.params.separator_power_budget = 30.0
    assert line.update(measure(0.15, torque=2.0)).separator > 0.0
    assert line.state == LineState.RUNNING and line.power_wait == ''


def test_a_restarted_ledger_books_a_whole_shift_from_the_totalizers_at_once(material):
    # 5 kg went through the 2 kg separator during the shift: a node started now reads the
    # cumulative totalizers once and books it all, pass by pass, without a fault.
    books = TotalizerBooks(material)
    books.totals.update({
        ('scraper_cut', 'delivered'): 5.2, ('scraper_dump', 'delivered'): 5.2,
        ('conveyor_discharge', 'delivered'): 5.1, ('conveyor_discharge', 'lost'): 0.05,
        ('separator_metal', 'delivered'): 0.2, ('separator_silicate', 'delivered'): 4.85})
    masses = {'scraper': 0.0, 'conveyor': 0.05, 'separator': 0.05, 'hopper_metal': 0.2,
              'hopper_silicate': 4.85}
    assert books.update(1.0, masses, 0.01) == ''
    ledger = books.ledger
    assert ledger.mass('hopper_silicate') == pytest.approx(4.85)
    assert ledger.mass('separator') == pytest.approx(0.05)
    assert ledger.mass('conveyor') == pytest.approx(0.05)
    assert ledger.excavated_total == pytest.approx(5.2)
    ledger.check()


def test_the_books_are_whole_only_once_every_totalizer_has_been_read(material):
    # A restarted node's books, before the totalizers' next readings, would say an empty
    # line (a drained one, to the supervisor): they are partial until all are heard.
    books = TotalizerBooks(material)
    points = [(point, kind) for point in material.transfer_points
              for kind in ('delivered', 'lost')]
    for key in points[:-1]:
        books.totals[key] = 0.0
        assert not books.heard_all()
    books.totals[points[-1]] = 0.0
    assert books.heard_all()
    books.rebuild()  # a restored world: its totalizers must be read again
    assert not books.heard_all()
