"""Who may command the rig: operators' Ed25519 keys, signed commands, replays refused.

An operator command is signed over one canonical byte string: a context tag, then the
JSON (sorted keys, no spaces) of the rig's name (the supervisor's namespace), the command,
its arguments, the issue time as [sec, nanosec] on the rig's clock, how long it stays
valid [s], a random nonce and the signing key's id. Change any of them and the signature
no longer verifies; a rig named otherwise, or a copy of a command already taken, is
refused. The rig keeps the public keys it accepts in its authorised-operators file (YAML;
revoked keys stay listed so a refusal can say so), re-read whenever it changes, so a
revocation takes effect at the next command without a restart.

Key files and operators files are the owner's alone (no group or other access): a key
another user could read, or an operators file another user could write, is refused. No
rclpy; the `cryptography` library does the signing.
"""

import base64
import binascii
import datetime
import hashlib
import json
import math
import os
import secrets
import stat
import tempfile

import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey, Ed25519PublicKey)

CONTEXT = b'spacemine-operator-command/1\n'
NONCE_BYTES = 16
SIGNATURE_BYTES = 64
OPERATORS_FILE = 'authorised_operators.yaml'  # in the rig's data directory
SIM_KEY_FILE = 'operator.key'  # a sim rig's own operator key, in its data directory
SIM_OPERATOR = 'sim-operator'


class AuthorityError(ValueError):
    """A key or operators file that cannot be used (unreadable, bad, or too open)."""


def key_id(public_key):
    """Return a public key's id: the first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_text(public_key):
    """Return a public key as text: base64 of its 32 raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode('ascii')


def public_from_text(text):
    """Return the Ed25519 public key of public_text's form; AuthorityError if it is not one."""
    try:
        raw = base64.b64decode(str(text).strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as error:
        raise AuthorityError(f'not an Ed25519 public key (base64 of 32 bytes): {error}') \
            from None


def command_bytes(rig, command, arguments, issued_at, valid_for, nonce, key):
    """Return the bytes an operator signs for one command.

    rig: the rig's name (its supervisor's namespace, '/' at the root); arguments: a dict of
    strings; issued_at: (sec, nanosec) on the rig's clock; valid_for [s]; nonce: hex text;
    key: the signing key's id.
    """
    sec, nanosec = (int(part) for part in issued_at)
    body = {'rig': str(rig), 'command': str(command),
            'arguments': {str(k): str(v) for k, v in arguments.items()},
            'issued_at': [sec, nanosec], 'valid_for': float(valid_for),
            'nonce': str(nonce), 'key_id': str(key)}
    return CONTEXT + json.dumps(body, sort_keys=True, separators=(',', ':'),
                                allow_nan=True).encode('utf-8')


def check_owner_only(path, what):
    """Refuse (AuthorityError) a file that is missing, not regular, or open to others."""
    try:
        info = os.stat(path)
    except OSError as error:
        raise AuthorityError(f'{what} {path}: {error.strerror}') from None
    if not stat.S_ISREG(info.st_mode):
        raise AuthorityError(f'{what} {path}: not a regular file')
    if info.st_mode & 0o077:
        raise AuthorityError(f'{what} {path}: mode {stat.S_IMODE(info.st_mode):04o} lets '
                             "other users at it; make it the owner's alone (chmod 600)")
    if hasattr(os, 'getuid') and info.st_uid != os.getuid():
        raise AuthorityError(f'{what} {path}: owned by another user')


def _write_owner_only(path, data):
    """Write a file atomically, readable and writable by its owner alone."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix='.tmp-')
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, 'wb') as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


class OperatorKey:
    """An operator's private key, from a PEM file only its owner can read."""

    def __init__(self, private_key):
        self.private_key = private_key
        self.public_key = private_key.public_key()
        self.id = key_id(self.public_key)

    @classmethod
    def generate(cls, path):
        """Make a new key in a new file (owner-only); AuthorityError if the file exists."""
        if os.path.lexists(path):
            raise AuthorityError(f'key file {path}: exists already (not overwritten)')
        key = cls(Ed25519PrivateKey.generate())
        _write_owner_only(path, key.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        return key

    @classmethod
    def load(cls, path):
        """Read a key file; AuthorityError if missing, open to others, or not an Ed25519 key."""
        check_owner_only(path, 'key file')
        try:
            with open(path, 'rb') as stream:
                private_key = serialization.load_pem_private_key(stream.read(), password=None)
        except (OSError, ValueError, TypeError) as error:
            raise AuthorityError(f'key file {path}: cannot be read: {error}') from None
        if not isinstance(private_key, Ed25519PrivateKey):
            raise AuthorityError(f'key file {path}: not an Ed25519 key')
        return cls(private_key)

    def sign(self, rig, command, arguments, issued_at, valid_for, nonce=None):
        """Return (key id, nonce, signature bytes) of a command (see command_bytes)."""
        nonce = nonce or secrets.token_hex(NONCE_BYTES)
        message = command_bytes(rig, command, arguments, issued_at, valid_for, nonce, self.id)
        return self.id, nonce, self.private_key.sign(message)


def _today():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


class AuthorisedOperators:
    """A rig's authorised-operators file: who may command it, and whose keys were revoked.

    In YAML: `operators`, a list of {name, key (base64 of the 32-byte public key), added
    (UTC time)}, and `revoked`, a list of {name, key, revoked}.
    """

    def __init__(self, operators=(), revoked=()):
        self.operators = list(operators)  # dicts: name, key, added
        self.revoked = list(revoked)  # dicts: name, key, revoked

    @classmethod
    def load(cls, path):
        """Read the file (owner-only); AuthorityError, with the reason, if it cannot be used."""
        check_owner_only(path, 'operators file')
        try:
            with open(path, encoding='utf-8') as stream:
                data = yaml.safe_load(stream)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            reason = ' '.join(str(error).split())  # YAML's message spans lines
            raise AuthorityError(f'operators file {path}: cannot be read: {reason}') from None
        data = {} if data is None else data
        if not isinstance(data, dict) or set(data) - {'operators', 'revoked'}:
            raise AuthorityError(f'operators file {path}: a mapping of operators and revoked '
                                 'lists is expected')
        lists = {}
        for section in ('operators', 'revoked'):
            entries = data.get(section) or []
            if not isinstance(entries, list):
                raise AuthorityError(f'operators file {path}: {section} must be a list')
            for entry in entries:
                if not (isinstance(entry, dict) and isinstance(entry.get('name'), str)
                        and entry['name'].strip()):
                    raise AuthorityError(f'operators file {path}: {section}: every entry '
                                         'needs a name and a key')
                try:
                    public_from_text(entry.get('key', ''))
                except AuthorityError as error:
                    raise AuthorityError(f'operators file {path}: {section} {entry["name"]}: '
                                         f'{error}') from None
            lists[section] = [dict(entry) for entry in entries]
        return cls(lists['operators'], lists['revoked'])

    def save(self, path):
        """Write the file atomically, owner-only."""
        text = yaml.safe_dump({'operators': self.operators, 'revoked': self.revoked},
                              sort_keys=False)
        _write_owner_only(path, text.encode('utf-8'))

    def _find(self, entries, key):
        for entry in entries:
            if key_id(public_from_text(entry['key'])) == key:
                return entry
        return None

    def authorised(self, key):
        """Return the public key and operator name of an authorised key id, else None."""
        entry = self._find(self.operators, key)
        return None if entry is None else (public_from_text(entry['key']), entry['name'])

    def revoked_entry(self, key):
        """Return the revoked entry of a key id, else None."""
        return self._find(self.revoked, key)

    def add(self, name, public_key):
        """Authorise a public key under an operator's name (AuthorityError if taken/revoked)."""
        name = str(name).strip()
        if not name or any(c.isspace() for c in name):
            raise AuthorityError(f'operator name {name!r}: one word, not empty')
        ident = key_id(public_key)
        if self.revoked_entry(ident) is not None:
            raise AuthorityError(f'key {ident} was revoked; make a new key')
        for entry in self.operators:
            if entry['name'] == name or key_id(public_from_text(entry['key'])) == ident:
                raise AuthorityError(f'operator {entry["name"]} (key '
                                     f'{key_id(public_from_text(entry["key"]))}) is '
                                     'authorised already')
        self.operators.append({'name': name, 'key': public_text(public_key), 'added': _today()})
        return ident

    def revoke(self, who):
        """Revoke an operator by name or key id; return the revoked entry (AuthorityError)."""
        for entry in self.operators:
            if who in (entry['name'], key_id(public_from_text(entry['key']))):
                self.operators.remove(entry)
                revoked = {'name': entry['name'], 'key': entry['key'], 'revoked': _today()}
                self.revoked.append(revoked)
                return revoked
        raise AuthorityError(f'no authorised operator or key {who!r}')

    def rows(self):
        """Return (status, name, key id, date) per key, for listing."""
        return ([('authorised', e['name'], key_id(public_from_text(e['key'])),
                  e.get('added', '')) for e in self.operators]
                + [('revoked', e['name'], key_id(public_from_text(e['key'])),
                    e.get('revoked', '')) for e in self.revoked])


def make_sim_operator(data_dir):
    """Give a sim rig its own operator: a key and an operators file authorising it.

    Does nothing if the operators file exists. Returns the key file's path.
    """
    key_path = os.path.join(data_dir, SIM_KEY_FILE)
    operators_path = os.path.join(data_dir, OPERATORS_FILE)
    if os.path.exists(operators_path):
        return key_path
    key = (OperatorKey.load(key_path) if os.path.exists(key_path)
           else OperatorKey.generate(key_path))
    operators = AuthorisedOperators()
    operators.add(SIM_OPERATOR, key.public_key)
    operators.save(operators_path)
    return key_path


class CommandGate:
    """Checks an operator command's signature before the mission sees it.

    rig: the rig's name; operators_path: its authorised-operators file (re-read when it
    changes); claim_nonce(nonce, expires) -> bool records a nonce and says whether it was
    new (the mission store keeps them, so a restart does not forget them).
    """

    def __init__(self, rig, operators_path, claim_nonce):
        self.rig = rig
        self.path = operators_path
        self.claim_nonce = claim_nonce
        self._loaded = None  # (mtime_ns, size, inode) of the file as read
        self._operators = None
        self._problem = ''

    def operators(self):
        """Return (AuthorisedOperators or None, why none): the file as it is now."""
        try:
            info = os.stat(self.path)
            signature = (info.st_mtime_ns, info.st_size, info.st_ino)
        except OSError:
            signature = None
        if signature is None or signature != self._loaded:
            self._loaded = signature
            try:
                self._operators, self._problem = AuthorisedOperators.load(self.path), ''
            except AuthorityError as error:
                self._operators, self._problem = None, str(error)
        return self._operators, self._problem

    def check(self, command, arguments, issued_at, valid_for, key, nonce, signature):
        """Return (accepted, reason, operator name): the signature, the key, the nonce.

        issued_at: (sec, nanosec). Freshness and order are the mission's to judge.
        """
        if not key and not nonce and not len(signature):
            return False, 'unsigned: an operator command must be signed with an ' \
                'authorised key (spacemine-command --key)', ''
        operators, problem = self.operators()
        if operators is None:
            return False, f'no authorised operators: {problem}', ''
        if operators.revoked_entry(key) is not None:
            entry = operators.revoked_entry(key)
            return False, f'key {key} ({entry["name"]}) was revoked {entry.get("revoked", "")}'\
                .rstrip(), ''
        found = operators.authorised(key)
        if found is None:
            return False, f'key {key or "(none)"} is not an authorised operator\'s', ''
        public_key, name = found
        if not (isinstance(nonce, str) and len(nonce) == 2 * NONCE_BYTES
                and all(c in '0123456789abcdef' for c in nonce)):
            return False, f'nonce must be {2 * NONCE_BYTES} lowercase hex digits', name
        if len(signature) != SIGNATURE_BYTES:
            return False, f'signature must be {SIGNATURE_BYTES} bytes, not {len(signature)}', \
                name
        if not math.isfinite(valid_for):
            return False, 'valid_for must be finite', name
        message = command_bytes(self.rig, command, arguments, issued_at, valid_for, nonce, key)
        try:
            public_key.verify(bytes(signature), message)
        except InvalidSignature:
            return False, (f'bad signature from {name}: the command, its arguments, the rig '
                           f'({self.rig}), the time or the nonce differ from what was '
                           'signed'), name
        expires = issued_at[0] + issued_at[1] * 1e-9 + valid_for
        if not self.claim_nonce(nonce, expires):
            return False, f'replayed: nonce {nonce} was taken already', name
        return True, f'signed by {name}', name
