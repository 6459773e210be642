"""The mass ledger: where every kilogram excavated is, at every instant.

Material enters the ledger only by excavation (from the ground into a tool) and then
moves between accounts (tools, conveyor, separator, hoppers, furnace, products, slag,
volatiles, lost) by transfers. Every transfer is appended to an immutable record, so
the ledger can be persisted or replayed. The record in memory is bounded (a rig runs
for weeks): it keeps the latest record_limit transfers and folds older ones into a
checkpoint of the balances, from which replay() starts; on_transfer, if given,
receives every entry as it is made (to persist the whole history). A transfer that
would break an invariant (a negative, non-finite or unknown quantity, more than the
source holds, more than the destination can take) is refused with a reason and changes nothing.

Quantities are kept per species (e.g. metal, silicate, water) so that a separator's
split and a furnace's yield follow composition. A reaction (water split into hydrogen and
oxygen) turns species into others within one account, the products' mass the reactants';
the ledger keeps what reactions made and consumed per species. After every change it
checks, per species, that what was excavated plus what reactions made of it equals the
sum over all accounts; a violation raises LedgerViolation with the numbers.
"""

from collections import deque
from dataclasses import dataclass
import math

GROUND = 'ground'  # the source of excavation; not an account
REL_TOLERANCE = 1e-9  # conservation is checked to floating-point tolerance
ABS_TOLERANCE = 1e-9  # kg: rounding between two books of the same flows stays below this
MAX_MASS = 1e9  # kg: no single transfer on a rig comes near this; larger is a bad value
RECORD_LIMIT = 10_000  # transfers kept in memory (older ones fold into the checkpoint)


class LedgerError(ValueError):
    """A transfer was refused; nothing changed."""


class LedgerViolation(RuntimeError):
    """The ledger's books do not balance (a bug or corrupted state)."""


@dataclass(frozen=True)
class Transfer:
    """One entry of the append-only record."""

    sequence: int
    time: float  # s
    source: str  # an account, or GROUND for excavation
    destination: str
    masses: tuple  # (species, kg) pairs, all > 0 (a reaction's: what it consumed)
    note: str = ''
    produced: tuple = ()  # a reaction's products (source and destination its account)

    @property
    def mass(self):
        """Total mass moved (or turned into the products) [kg]."""
        return math.fsum(m for _, m in self.masses)


class Ledger:
    """Accounts of material by species, with capacities and an append-only record."""

    def __init__(self, accounts, species, capacities=None, record_limit=RECORD_LIMIT,
                 on_transfer=None, check_each=True):
        """Open the books.

        check_each: check the balance after every transfer (ValueError at once); a
        caller that moves material in bursts (the simulation's process step) may check
        once after each burst instead (check()). Each transfer's own amounts are always
        checked as it is made.
        """
        self.species = tuple(species)
        if not self.species or len(set(self.species)) != len(self.species):
            raise ValueError('species must be a non-empty list of unique names')
        names = tuple(accounts)
        if not names or len(set(names)) != len(names) or GROUND in names:
            raise ValueError(f'accounts must be unique names other than {GROUND!r}')
        self.accounts = {name: dict.fromkeys(self.species, 0.0) for name in names}
        self.capacities = {}
        for name, capacity in (capacities or {}).items():
            if name not in self.accounts:
                raise ValueError(f'capacity given for unknown account {name!r}')
            if not (isinstance(capacity, (int, float)) and capacity > 0.0
                    and math.isfinite(capacity)):
                raise ValueError(f'capacity of {name} must be a positive number, got {capacity!r}')
            self.capacities[name] = float(capacity)
        self.excavated = dict.fromkeys(self.species, 0.0)
        self.reacted = dict.fromkeys(self.species, 0.0)  # made by reactions, less consumed
        if not (isinstance(record_limit, int) and record_limit >= 1):
            raise ValueError(f'record_limit must be a positive integer, got {record_limit!r}')
        self.record = deque(maxlen=record_limit)  # the latest transfers
        self.transfer_count = 0  # every transfer ever made (the next sequence number)
        # Balances before the oldest transfer still in the record (replay starts here).
        self.checkpoint = ({name: dict(held) for name, held in self.accounts.items()},
                           dict(self.excavated), dict(self.reacted))
        self.on_transfer = on_transfer
        self.check_each = check_each
        self.rejected = 0
        self.last_rejection = ''

    # Queries -------------------------------------------------------------------------------
    def mass(self, account):
        """Total mass in an account [kg]."""
        return math.fsum(self.accounts[account].values())

    def composition(self, account):
        """Mass fractions by species of an account (empty if it holds nothing)."""
        total = self.mass(account)
        if total <= 0.0:
            return {}
        return {s: m / total for s, m in self.accounts[account].items()}

    def room(self, account):
        """Mass the account can still take [kg] (inf without a capacity)."""
        capacity = self.capacities.get(account, math.inf)
        return max(capacity - self.mass(account), 0.0)

    @property
    def excavated_total(self):
        """Total mass ever excavated [kg]."""
        return math.fsum(self.excavated.values())

    def totals(self):
        """Mass per account, plus 'excavated' [kg]."""
        totals = {name: self.mass(name) for name in self.accounts}
        totals['excavated'] = self.excavated_total
        return totals

    def imbalance(self):
        """Excavated, plus what reactions made, minus the sum over accounts, per species [kg]."""
        return {s: math.fsum([self.excavated[s], self.reacted[s]] +
                             [-a[s] for a in self.accounts.values()])
                for s in self.species}

    # Changes -------------------------------------------------------------------------------
    def excavate(self, destination, masses, time=0.0, note=''):
        """Record material taken from the ground into an account (a tool)."""
        return self._apply(GROUND, destination, masses, time, note)

    def transfer(self, source, destination, masses, time=0.0, note=''):
        """Move masses {species: kg} from one account to another."""
        if source == GROUND:
            raise LedgerError('use excavate() to take material from the ground')
        return self._apply(source, destination, masses, time, note)

    def move(self, source, destination, mass, time=0.0, note='', partial=False):
        """Move a total mass of the source's current mix; return the mass moved [kg].

        With partial=True the move is cut to what the source holds and the destination
        can take (how physical flows behave); otherwise anything more is refused.
        """
        try:
            mass = float(mass)
        except (TypeError, ValueError):
            return self._refuse(f'mass must be a number, got {mass!r}')
        if not math.isfinite(mass) or mass < 0.0 or mass > MAX_MASS:
            return self._refuse(f'mass must be finite and within [0, {MAX_MASS:g}] kg, '
                                f'got {mass}')
        if source not in self.accounts:
            return self._refuse(f'unknown source account {source!r}')
        if destination not in self.accounts:
            return self._refuse(f'unknown destination account {destination!r}')
        available = self.mass(source)
        if partial:
            mass = min(mass, available, self.room(destination))
        if mass <= 0.0:
            return 0.0
        if mass > available * (1.0 + REL_TOLERANCE):
            return self._refuse(f'cannot move {mass:.9g} kg from {source}: it holds '
                                f'{available:.9g} kg')
        fraction = min(mass / available, 1.0)
        masses = {s: m * fraction for s, m in self.accounts[source].items() if m > 0.0}
        if fraction == 1.0:
            masses = {s: m for s, m in self.accounts[source].items() if m > 0.0}
        self._apply(source, destination, masses, time, note)
        return math.fsum(masses.values())

    def react(self, account, consumed, produced, time=0.0, note=''):
        """Turn species into others within an account: {species: kg} consumed and produced.

        The products' total mass must be the reactants' (to the ledger's tolerance) and
        the reactants must be there; otherwise it is refused and nothing changes. Recorded
        like a transfer, its account as source and destination.
        """
        if account not in self.accounts:
            return self._refuse(f'unknown account {account!r}')
        consumed = self._masses(consumed, 'consumed')
        produced = self._masses(produced, 'produced')
        held = self.accounts[account]
        for species, mass in consumed.items():
            if mass > held[species] * (1.0 + REL_TOLERANCE) + ABS_TOLERANCE:
                self._refuse(f'cannot turn {mass:.9g} kg of {species} in {account} into '
                             f'anything: it holds {held[species]:.9g} kg')
        into, out = math.fsum(consumed.values()), math.fsum(produced.values())
        if abs(into - out) > REL_TOLERANCE * max(into, out) + ABS_TOLERANCE:
            self._refuse(f'a reaction in {account} must conserve mass: {into:.9g} kg '
                         f'consumed, {out:.9g} kg produced')
        if not consumed and not produced:
            return None
        for species, mass in consumed.items():
            mass = min(mass, held[species])
            held[species] -= mass
            self.reacted[species] -= mass
            consumed[species] = mass
        for species, mass in produced.items():
            held[species] += mass
            self.reacted[species] += mass
        return self._record(Transfer(self.transfer_count, float(time), account, account,
                                     tuple(sorted(consumed.items())), note,
                                     tuple(sorted(produced.items()))))

    def _refuse(self, reason):
        self.rejected += 1
        self.last_rejection = reason
        raise LedgerError(reason)

    def _validate(self, source, destination, masses):
        if destination not in self.accounts:
            self._refuse(f'unknown destination account {destination!r}')
        if source != GROUND and source not in self.accounts:
            self._refuse(f'unknown source account {source!r}')
        if source == destination:
            self._refuse(f'source and destination are both {source!r}')
        clean = self._masses(masses, 'masses')
        if source != GROUND:
            held = self.accounts[source]
            for species, mass in clean.items():
                if mass > held[species] * (1.0 + REL_TOLERANCE) + ABS_TOLERANCE:
                    self._refuse(f'cannot move {mass:.9g} kg of {species} from {source}: it '
                                 f'holds {held[species]:.9g} kg')
        total = math.fsum(clean.values())
        if total > self.room(destination) * (1.0 + REL_TOLERANCE) + ABS_TOLERANCE:
            self._refuse(f'{destination} is full: {total:.9g} kg offered, room for '
                         f'{self.room(destination):.9g} kg of '
                         f'{self.capacities[destination]:.9g} kg')
        return clean

    def _masses(self, masses, what):
        """Return {species: kg > 0} from a mapping; refused naming the first bad entry."""
        if not isinstance(masses, dict) or not masses:
            self._refuse(f'{what} must be a non-empty mapping of species to kg')
        clean = {}
        for species, mass in masses.items():
            if species not in self.excavated:
                self._refuse(f'unknown species {species!r}')
            try:
                mass = float(mass)
            except (TypeError, ValueError):
                self._refuse(f'{species} mass must be a number, got {mass!r}')
            if not math.isfinite(mass) or mass < 0.0 or mass > MAX_MASS:
                self._refuse(f'{species} mass must be finite and within [0, {MAX_MASS:g}] kg, '
                             f'got {mass}')
            if mass > 0.0:
                clean[species] = mass
        return clean

    def _apply(self, source, destination, masses, time, note):
        clean = self._validate(source, destination, masses)
        if not clean:
            return None
        target = self.accounts[destination]
        for species, mass in clean.items():
            if source == GROUND:
                self.excavated[species] += mass
            else:
                held = self.accounts[source]
                # A move of everything (to tolerance) empties the account exactly, so
                # rounding never leaves a negative or a ghost remainder.
                mass = min(mass, held[species])
                held[species] -= mass
                clean[species] = mass
            target[species] += mass
        return self._record(Transfer(self.transfer_count, float(time), source, destination,
                                     tuple(sorted(clean.items())), note))

    def _record(self, entry):
        self.transfer_count += 1
        if len(self.record) == self.record.maxlen:
            self._fold(self.record[0])
        self.record.append(entry)
        if self.check_each:
            self.check()
        if self.on_transfer is not None:
            self.on_transfer(entry)
        return entry

    def _fold(self, entry):
        # The oldest entry leaves the record: its effect moves into the checkpoint.
        accounts, excavated, reacted = self.checkpoint
        if entry.produced:
            for sign, masses in ((-1.0, entry.masses), (1.0, entry.produced)):
                for species, mass in masses:
                    accounts[entry.source][species] += sign * mass
                    reacted[species] += sign * mass
            return
        for species, mass in entry.masses:
            if entry.source == GROUND:
                excavated[species] += mass
            else:
                accounts[entry.source][species] -= mass
            accounts[entry.destination][species] += mass

    def __getstate__(self):
        """Return the balances to pickle, the record folded into the checkpoint.

        The record is an audit trail kept in memory (transfers that must last go to
        on_transfer's log as they happen): a pickled ledger, a world's checkpoint, carries
        its balances and its count, not up to record_limit transfers.
        """
        state = dict(vars(self))
        state['checkpoint'] = ({name: dict(held) for name, held in self.accounts.items()},
                               dict(self.excavated), dict(self.reacted))
        state['record'] = deque(maxlen=self.record.maxlen)
        state['on_transfer'] = None
        return state

    def __setstate__(self, state):
        """Restore pickled books; those from before reactions had none."""
        state.setdefault('reacted', dict.fromkeys(state['species'], 0.0))
        if len(state['checkpoint']) == 2:
            state['checkpoint'] = (*state['checkpoint'], dict(state['reacted']))
        vars(self).update(state)

    def check(self):
        """Raise LedgerViolation if any quantity is negative or the books do not balance."""
        for name, held in self.accounts.items():
            for species, mass in held.items():
                if not math.isfinite(mass) or mass < 0.0:
                    raise LedgerViolation(f'{name} holds {mass!r} kg of {species}')
        for species, missing in self.imbalance().items():
            scale = max(self.excavated[species], abs(self.reacted[species]), 1e-12)
            if abs(missing) > REL_TOLERANCE * scale + 1e-12:
                located = math.fsum(a[species] for a in self.accounts.values())
                made = f' (reactions {self.reacted[species]:+.9g} kg)' \
                    if self.reacted[species] else ''
                raise LedgerViolation(
                    f'{species}: excavated {self.excavated[species]:.9g} kg{made} but the '
                    f'accounts hold {located:.9g} kg (difference {missing:.3g} kg)')

    def replay(self):
        """Rebuild a ledger from the checkpoint and the record (for persistence and audits)."""
        copy = Ledger(self.accounts, self.species, self.capacities, self.record.maxlen)
        accounts, excavated, reacted = self.checkpoint
        copy.accounts = {name: dict(held) for name, held in accounts.items()}
        copy.excavated = dict(excavated)
        copy.reacted = dict(reacted)
        copy.transfer_count = self.transfer_count - len(self.record)
        copy.capacities = {}  # history already respected capacities at the time
        for entry in self.record:
            if entry.produced:
                copy.react(entry.source, dict(entry.masses), dict(entry.produced), entry.time,
                           entry.note)
            else:
                copy._apply(entry.source, entry.destination, dict(entry.masses), entry.time,
                            entry.note)
        copy.capacities = dict(self.capacities)
        return copy
