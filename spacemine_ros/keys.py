"""spacemine-keys: operators' keys and a rig's authorised-operators file.

    spacemine-keys new ~/.config/spacemine/alice.key      a new Ed25519 key (owner-only)
    spacemine-keys public ~/.config/spacemine/alice.key   its public key, to authorise
    spacemine-keys authorise alice --public <base64>      (or --key FILE) on the rig
    spacemine-keys list                                   authorised and revoked keys
    spacemine-keys revoke alice                           (a name or a key id)

The operators file is the rig's (--operators; default: authorised_operators.yaml in the
rig's data directory, --data-dir or the default for --namespace). The supervisor re-reads
it when it changes: a revocation holds from the next command. Key and operators files
are the owner's alone; one open to other users is refused. Exit status 0 when done, 1
with the reason in one line otherwise.
"""

import argparse
import os
import sys

from spacemine_ros.core.mission.operators import (
    AuthorisedOperators, AuthorityError, OperatorKey, OPERATORS_FILE, public_from_text,
    public_text)
from spacemine_ros.paths import default_data_dir


def operators_path(args):
    """Return the operators file the options name."""
    if args.operators:
        return args.operators
    namespace = args.namespace.strip().strip('/')
    return os.path.join(args.data_dir or default_data_dir(namespace), OPERATORS_FILE)


def _load_operators(path, create=False):
    if create and not os.path.exists(path):
        return AuthorisedOperators()
    return AuthorisedOperators.load(path)


def run(args):
    """Do what the parsed options say; return the lines to print (AuthorityError)."""
    if args.action == 'new':
        key = OperatorKey.generate(args.file)
        return [f'key {key.id} in {args.file}', f'public key: {public_text(key.public_key)}']
    if args.action == 'public':
        return [public_text(OperatorKey.load(args.file).public_key)]
    path = operators_path(args)
    if args.action == 'list':
        rows = _load_operators(path).rows()
        return [f'{status:10} {name:20} {ident} {when}' for status, name, ident, when in rows] \
            or [f'no operators in {path}']
    if args.action == 'authorise':
        if bool(args.key) == bool(args.public):
            raise AuthorityError('authorise needs one of --key FILE or --public KEY')
        public_key = (OperatorKey.load(args.key).public_key if args.key
                      else public_from_text(args.public))
        operators = _load_operators(path, create=True)
        ident = operators.add(args.name, public_key)
        operators.save(path)
        return [f'authorised {args.name} (key {ident}) in {path}']
    operators = _load_operators(path)
    entry = operators.revoke(args.who)
    operators.save(path)
    return [f'revoked {entry["name"]} in {path}']


def main(argv=None):
    """Entry point of spacemine-keys."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument('--operators', default='', help="the rig's authorised-operators file")
    where.add_argument('--data-dir', default='', help="the rig's data directory")
    where.add_argument('--namespace', default='', help="the rig's namespace")
    actions = parser.add_subparsers(dest='action', required=True)
    new = actions.add_parser('new', help='make an operator key')
    new.add_argument('file')
    public = actions.add_parser('public', help="print a key's public half")
    public.add_argument('file')
    authorise = actions.add_parser('authorise', parents=[where],
                                   help='let an operator command the rig')
    authorise.add_argument('name')
    authorise.add_argument('--key', default='', help='their key file')
    authorise.add_argument('--public', default='', help='their public key (base64)')
    actions.add_parser('list', parents=[where], help='authorised and revoked keys')
    revoke = actions.add_parser('revoke', parents=[where], help="revoke an operator's key")
    revoke.add_argument('who', help='a name or a key id')
    args = parser.parse_args(argv)
    try:
        lines = run(args)
    except (AuthorityError, OSError) as error:
        print(f'spacemine-keys: {error}', file=sys.stderr)
        return 1
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
