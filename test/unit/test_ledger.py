"""The mass ledger: conservation under any sequence of transfers, refused or not."""

import math

from hypothesis import given, settings, strategies as st
import pytest

from spacemine_ros.core.ledger import GROUND, Ledger, LedgerError, LedgerViolation
from spacemine_ros.core.models.propellant import water_split

ACCOUNTS = ('drill', 'scraper', 'conveyor', 'hopper_metal', 'hopper_silicate', 'lost')
SPECIES = ('metal', 'silicate', 'water', 'hydrogen', 'oxygen')
CAPACITIES = {'scraper': 5.0, 'hopper_metal': 2.0, 'hopper_silicate': 4.0}


def new_ledger():
    return Ledger(ACCOUNTS, SPECIES, CAPACITIES)


def assert_books_balance(ledger):
    ledger.check()
    located = sum(ledger.mass(a) for a in ledger.accounts)
    assert located == pytest.approx(ledger.excavated_total, rel=1e-9, abs=1e-12)
    for account in ledger.accounts:
        for mass in ledger.accounts[account].values():
            assert mass >= 0.0
        if account in CAPACITIES:
            assert ledger.mass(account) <= CAPACITIES[account] * (1 + 1e-9)


masses = st.one_of(
    st.floats(min_value=0.0, max_value=10.0),
    st.floats(min_value=-10.0, max_value=-1e-9),  # negative
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308]),
)
names = st.sampled_from(ACCOUNTS + ('nowhere', GROUND))
operations = st.lists(st.tuples(
    st.sampled_from(['excavate', 'transfer', 'move', 'move_partial', 'split', 'bad_split']),
    names, names, st.sampled_from(SPECIES + ('unobtainium',)), masses), max_size=60)


@settings(max_examples=300, deadline=None)
@given(operations)
def test_any_sequence_of_transfers_conserves_mass_and_keeps_quantities_non_negative(ops):
    ledger = new_ledger()
    for kind, source, destination, species, mass in ops:
        before = ledger.totals()
        records = len(ledger.record)
        try:
            if kind == 'excavate':
                ledger.excavate(destination, {species: mass})
            elif kind == 'transfer':
                ledger.transfer(source, destination, {species: mass})
            elif kind in ('split', 'bad_split'):  # electrolysis: water into its gases
                water = min(mass, ledger.accounts.get(source, {}).get('water', 0.0)) \
                    if math.isfinite(mass) and mass >= 0.0 else mass
                hydrogen, oxygen = water_split(water) if math.isfinite(water) else (0.0, 0.0)
                if kind == 'bad_split':
                    oxygen *= 1.01  # a reaction that would make mass
                ledger.react(source, {'water': water}, {'hydrogen': hydrogen, 'oxygen': oxygen})
            else:
                ledger.move(source, destination, mass, partial=kind == 'move_partial')
        except LedgerError:
            # Refused: nothing changed and nothing was recorded.
            assert ledger.totals() == before
            assert len(ledger.record) == records
        assert_books_balance(ledger)
    # The append-only record alone rebuilds the same books.
    replayed = ledger.replay()
    for account in ledger.accounts:
        assert replayed.mass(account) == pytest.approx(ledger.mass(account), abs=1e-9)


def test_each_kind_of_bad_transfer_is_refused_with_a_reason():
    ledger = new_ledger()
    ledger.excavate('scraper', {'metal': 1.0, 'silicate': 3.0})
    cases = [
        (lambda: ledger.transfer('scraper', 'conveyor', {'metal': -0.1}), 'finite and within'),
        (lambda: ledger.transfer('scraper', 'conveyor', {'metal': math.nan}), 'finite'),
        (lambda: ledger.transfer('scraper', 'conveyor', {'metal': 2.0}), 'holds 1'),
        (lambda: ledger.transfer('scraper', 'hopper_metal', {'silicate': 2.5}), 'is full'),
        (lambda: ledger.transfer('scraper', 'nowhere', {'metal': 0.1}), 'unknown destination'),
        (lambda: ledger.transfer('scraper', 'conveyor', {'gold': 0.1}), 'unknown species'),
        (lambda: ledger.excavate('scraper', {'metal': 1.5}), 'is full'),
        (lambda: ledger.move('scraper', 'conveyor', 5.0), 'holds 4'),
    ]
    for action, reason in cases:
        with pytest.raises(LedgerError, match=reason):
            action()
    assert ledger.rejected == len(cases)
    assert ledger.mass('scraper') == pytest.approx(4.0)
    assert ledger.excavated_total == pytest.approx(4.0)


def test_partial_move_stops_at_a_full_hopper_without_loss():
    ledger = new_ledger()
    ledger.excavate('conveyor', {'metal': 3.0})
    moved = ledger.move('conveyor', 'hopper_metal', 3.0, partial=True)
    assert moved == pytest.approx(2.0)
    assert ledger.mass('hopper_metal') == pytest.approx(2.0)
    assert ledger.mass('conveyor') == pytest.approx(1.0)
    assert ledger.move('conveyor', 'hopper_metal', 1.0, partial=True) == 0.0
    assert_books_balance(ledger)


def test_move_keeps_the_composition_of_the_source():
    ledger = new_ledger()
    ledger.excavate('scraper', {'metal': 1.0, 'silicate': 3.0})
    ledger.move('scraper', 'conveyor', 2.0)
    assert ledger.composition('conveyor') == pytest.approx(
        {'metal': 0.25, 'silicate': 0.75, 'water': 0.0, 'hydrogen': 0.0, 'oxygen': 0.0})


def test_a_corrupted_account_is_a_violation_with_the_numbers():
    ledger = new_ledger()
    ledger.excavate('scraper', {'silicate': 3.0})
    ledger.accounts['scraper']['silicate'] = 2.5  # material vanished outside the ledger
    with pytest.raises(LedgerViolation, match=r'excavated 3 kg but the accounts hold 2.5 kg'):
        ledger.check()


def test_the_record_in_memory_is_bounded_and_replay_still_rebuilds_the_books():
    persisted = []
    ledger = Ledger(ACCOUNTS, SPECIES, CAPACITIES, record_limit=50,
                    on_transfer=persisted.append)
    for step in range(2000):  # a long shift: 4000 transfers
        ledger.excavate('drill', {'metal': 0.01, 'water': 0.002}, time=step)
        ledger.move('drill', 'conveyor' if step % 3 else 'lost', 0.005, time=step)
    assert len(ledger.record) == 50 and ledger.transfer_count == 4000
    assert [e.sequence for e in persisted] == list(range(4000))  # nothing lost to a sink
    assert ledger.record[-1].sequence == 3999
    copy = ledger.replay()
    for account in ACCOUNTS:
        assert copy.accounts[account] == ledger.accounts[account]  # exactly, not approx
    assert copy.excavated == ledger.excavated and copy.transfer_count == 4000
    assert_books_balance(copy)
    with pytest.raises(ValueError, match='record_limit'):
        Ledger(ACCOUNTS, SPECIES, record_limit=0)


def test_water_split_in_an_account_keeps_the_books_and_replays():
    ledger = Ledger(ACCOUNTS, SPECIES, record_limit=3)
    ledger.excavate('drill', {'water': 2.0, 'silicate': 1.0})
    ledger.transfer('drill', 'conveyor', {'water': 2.0})
    hydrogen, oxygen = water_split(1.5)
    entry = ledger.react('conveyor', {'water': 1.5}, {'hydrogen': hydrogen, 'oxygen': oxygen},
                         time=4.0, note='electrolysis')
    assert entry.source == entry.destination == 'conveyor' and entry.mass == 1.5
    assert ledger.accounts['conveyor'] == pytest.approx(
        {'metal': 0.0, 'silicate': 0.0, 'water': 0.5, 'hydrogen': hydrogen, 'oxygen': oxygen})
    assert ledger.reacted['water'] == -1.5 and ledger.reacted['hydrogen'] == hydrogen
    assert ledger.excavated_total == 3.0
    assert sum(ledger.mass(a) for a in ledger.accounts) == pytest.approx(3.0, rel=1e-15)
    ledger.check()
    # Folded out of a short record into the checkpoint, and replayed from it.
    for _ in range(4):
        ledger.transfer('conveyor', 'lost', {'hydrogen': hydrogen / 8})
    assert not any(e.produced for e in ledger.record)
    replayed = ledger.replay()
    for account, held in ledger.accounts.items():
        assert replayed.accounts[account] == pytest.approx(held, rel=1e-15)
    assert replayed.reacted == pytest.approx(ledger.reacted, rel=1e-15)
    replayed.check()


def test_a_reaction_that_makes_or_loses_mass_or_lacks_its_reactants_is_refused():
    ledger = new_ledger()
    ledger.excavate('drill', {'water': 1.0})
    hydrogen, oxygen = water_split(0.5)
    for consumed, produced, reason in [
            ({'water': 0.5}, {'hydrogen': hydrogen, 'oxygen': oxygen * 1.001}, 'conserve mass'),
            ({'water': 2.0}, {'hydrogen': 0.2, 'oxygen': 1.8}, 'it holds 1 kg'),
            ({'water': math.nan}, {'hydrogen': 0.0}, 'finite'),
            ({'water': 0.5}, {'plasma': 0.5}, "unknown species 'plasma'")]:
        before = ledger.totals()
        with pytest.raises(LedgerError, match=reason):
            ledger.react('drill', consumed, produced)
        assert ledger.totals() == before
    with pytest.raises(LedgerError, match="unknown account 'nowhere'"):
        ledger.react('nowhere', {'water': 0.5}, {'hydrogen': hydrogen, 'oxygen': oxygen})


def test_books_pickled_before_reactions_existed_load_with_none():
    import pickle
    ledger = new_ledger()
    ledger.excavate('drill', {'water': 1.0})
    state = ledger.__getstate__()
    del state['reacted']
    state['checkpoint'] = state['checkpoint'][:2]
    old = Ledger.__new__(Ledger)
    old.__setstate__(state)
    old.check()
    hydrogen, oxygen = water_split(1.0)
    old.react('drill', {'water': 1.0}, {'hydrogen': hydrogen, 'oxygen': oxygen})
    again = pickle.loads(pickle.dumps(old))
    again.check()
    assert again.reacted['oxygen'] == oxygen and again.replay().accounts == again.accounts
