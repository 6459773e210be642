"""Operators' keys and signed commands (core.mission.operators), without ROS."""

import os

import pytest

from spacemine_ros.core.mission.mission_store import MissionStore
from spacemine_ros.core.mission.operators import (
    AuthorisedOperators, AuthorityError, CommandGate, OperatorKey, make_sim_operator,
    OPERATORS_FILE)

RIG = '/rig1'
ISSUED = (120, 500_000_000)


@pytest.fixture
def rig(tmp_path):
    """Make an operators file with alice authorised and bob revoked; yield the gate."""
    alice = OperatorKey.generate(str(tmp_path / 'alice.key'))
    bob = OperatorKey.generate(str(tmp_path / 'bob.key'))
    operators = AuthorisedOperators()
    operators.add('alice', alice.public_key)
    operators.add('bob', bob.public_key)
    operators.revoke('bob')
    path = str(tmp_path / OPERATORS_FILE)
    operators.save(path)
    store = MissionStore(str(tmp_path / 'mission.sqlite'))
    gate = CommandGate(RIG, path, store.claim_nonce)
    yield alice, bob, gate, path
    store.close()


def signed(key, command='start', arguments=None, issued_at=ISSUED, valid_for=60.0,
           rig=RIG):
    arguments = arguments or {}
    key_id, nonce, signature = key.sign(rig, command, arguments, issued_at, valid_for)
    return dict(command=command, arguments=arguments, issued_at=issued_at,
                valid_for=valid_for, key=key_id, nonce=nonce, signature=signature)


def check(gate, request, **changes):
    fields = {**request, **changes}
    return gate.check(fields['command'], fields['arguments'], fields['issued_at'],
                      fields['valid_for'], fields['key'], fields['nonce'],
                      fields['signature'])


def test_an_authorised_operators_signed_command_is_taken_once(rig):
    alice, _, gate, _ = rig
    request = signed(alice, 'load_plan', {'plan': 'bennu_shift'})
    assert check(gate, request) == (True, 'signed by alice', 'alice')
    accepted, reason, _ = check(gate, request)
    assert not accepted and reason.startswith('replayed')


@pytest.mark.parametrize('change, expected', [
    ({'command': 'abort'}, 'bad signature'),
    ({'arguments': {'plan': 'other_plan'}}, 'bad signature'),
    ({'issued_at': (121, 500_000_000)}, 'bad signature'),
    ({'issued_at': (120, 500_000_001)}, 'bad signature'),
    ({'valid_for': 600.0}, 'bad signature'),
    ({'nonce': '0' * 32}, 'bad signature'),
    ({'signature': b'\0' * 64}, 'bad signature'),
    ({'signature': b'\0' * 63}, 'signature must be 64 bytes'),
    ({'nonce': 'xyz'}, 'nonce must be 32 lowercase hex digits'),
    ({'key': '0123456789abcdef'}, "is not an authorised operator's"),
    ({'key': '', 'nonce': '', 'signature': b''}, 'unsigned'),
    ({'valid_for': float('nan')}, 'valid_for must be finite'),
])
def test_a_changed_or_missing_field_is_refused_with_its_reason(rig, change, expected):
    alice, _, gate, _ = rig
    request = signed(alice, 'load_plan', {'plan': 'bennu_shift'})
    accepted, reason, _ = check(gate, request, **change)
    assert not accepted and expected in reason, reason
    assert check(gate, request)[0], 'a refused copy does not use up the nonce'


def test_a_command_signed_for_another_rig_is_refused(rig):
    alice, _, gate, _ = rig
    accepted, reason, _ = check(gate, signed(alice, rig='/rig2'))
    assert not accepted and 'bad signature' in reason and RIG in reason


def test_a_revoked_or_unknown_key_is_refused(rig, tmp_path):
    alice, bob, gate, path = rig
    accepted, reason, _ = check(gate, signed(bob))
    assert not accepted and 'was revoked' in reason and 'bob' in reason
    mallory = OperatorKey.generate(str(tmp_path / 'mallory.key'))
    accepted, reason, _ = check(gate, signed(mallory))
    assert not accepted and mallory.id in reason and 'not an authorised' in reason


def test_a_revocation_takes_effect_at_the_next_command(rig):
    alice, _, gate, path = rig
    assert check(gate, signed(alice))[0]
    operators = AuthorisedOperators.load(path)
    operators.revoke(alice.id)
    operators.save(path)
    accepted, reason, _ = check(gate, signed(alice))
    assert not accepted and 'alice' in reason and 'revoked' in reason


def test_nonces_outlive_a_restart_of_the_store(tmp_path):
    alice = OperatorKey.generate(str(tmp_path / 'alice.key'))
    operators = AuthorisedOperators()
    operators.add('alice', alice.public_key)
    operators.save(str(tmp_path / OPERATORS_FILE))
    request = signed(alice)
    store = MissionStore(str(tmp_path / 'mission.sqlite'))
    assert check(CommandGate(RIG, str(tmp_path / OPERATORS_FILE), store.claim_nonce),
                 request)[0]
    store.close()
    store = MissionStore(str(tmp_path / 'mission.sqlite'))
    accepted, reason, _ = check(
        CommandGate(RIG, str(tmp_path / OPERATORS_FILE), store.claim_nonce), request)
    store.close()
    assert not accepted and 'replayed' in reason


def test_key_and_operators_files_open_to_others_are_refused(rig):
    alice, _, gate, path = rig
    key_path = os.path.join(os.path.dirname(path), 'alice.key')
    assert os.stat(key_path).st_mode & 0o777 == 0o600
    os.chmod(key_path, 0o644)
    with pytest.raises(AuthorityError, match='chmod 600'):
        OperatorKey.load(key_path)
    os.chmod(path, 0o664)
    accepted, reason, _ = check(gate, signed(alice))
    assert not accepted and 'no authorised operators' in reason and 'chmod 600' in reason


@pytest.mark.parametrize('text, expected', [
    ('operators: [{name: eve}]', 'Ed25519 public key'),
    ('operators: [{key: AAAA}]', 'needs a name'),
    ('operators: {name: eve}', 'must be a list'),
    ('[1, 2]', 'a mapping'),
    ('operators: [', 'cannot be read'),
])
def test_a_bad_operators_file_is_refused_in_one_line(tmp_path, text, expected):
    path = tmp_path / OPERATORS_FILE
    path.write_text(text)
    os.chmod(path, 0o600)
    with pytest.raises(AuthorityError, match=expected) as raised:
        AuthorisedOperators.load(str(path))
    assert '\n' not in str(raised.value)


def test_keys_are_not_overwritten_and_names_not_reused(rig, tmp_path):
    alice, bob, _, path = rig
    with pytest.raises(AuthorityError, match='exists already'):
        OperatorKey.generate(str(tmp_path / 'alice.key'))
    operators = AuthorisedOperators.load(path)
    with pytest.raises(AuthorityError, match='authorised already'):
        operators.add('alice', OperatorKey.generate(str(tmp_path / 'x.key')).public_key)
    with pytest.raises(AuthorityError, match='was revoked'):
        operators.add('robert', bob.public_key)
    with pytest.raises(AuthorityError, match='no authorised operator'):
        operators.revoke('carol')
    assert [row[:3] for row in operators.rows()] == [
        ('authorised', 'alice', alice.id), ('revoked', 'bob', bob.id)]


def test_a_sim_rig_makes_its_own_operator_once(tmp_path):
    key_path = make_sim_operator(str(tmp_path))
    key = OperatorKey.load(key_path)
    operators = AuthorisedOperators.load(str(tmp_path / OPERATORS_FILE))
    assert operators.authorised(key.id)[1] == 'sim-operator'
    assert make_sim_operator(str(tmp_path)) == key_path
    assert OperatorKey.load(key_path).id == key.id


def test_spacemine_keys_makes_authorises_lists_and_revokes(tmp_path, capsys):
    from spacemine_ros.keys import main
    key_file, operators = str(tmp_path / 'alice.key'), str(tmp_path / OPERATORS_FILE)
    assert main(['new', key_file]) == 0
    made = capsys.readouterr().out
    key = OperatorKey.load(key_file)
    assert f'key {key.id}' in made
    assert main(['public', key_file]) == 0
    public = capsys.readouterr().out.strip()
    assert main(['authorise', 'alice', '--public', public, '--operators', operators]) == 0
    assert os.stat(operators).st_mode & 0o777 == 0o600
    assert main(['authorise', 'bob', '--key', key_file, '--operators', operators]) == 1
    assert 'authorised already' in capsys.readouterr().err
    assert main(['list', '--data-dir', str(tmp_path)]) == 0
    assert 'authorised' in capsys.readouterr().out
    assert main(['revoke', key.id, '--operators', operators]) == 0
    assert AuthorisedOperators.load(operators).revoked_entry(key.id)['name'] == 'alice'
    os.chmod(key_file, 0o640)
    assert main(['public', key_file]) == 1
    error = capsys.readouterr().err
    assert 'chmod 600' in error and error.count('\n') == 1
    assert main(['new', key_file]) == 1  # never overwritten
