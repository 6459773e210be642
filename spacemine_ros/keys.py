"""spacemine-keys: operators' keys and a rig's authorised-operators file.

    spacemine-keys new ~/.config/spacemine/alice.key      a new Ed25519 key (owner-only)
    spacemine-keys public ~/.config/spacemine/alice.key   its public key, to authorise
    spacemine-keys authorise alice --public <base64>      (or --key FILE) on the rig
    spacemine-keys list                                   authorised and revoked keys
    spacemine-keys revoke alice                           (a name or a key id)
    spacemine-keys sros2-policy --namespace rig1 > rig1.policy.xml   (the rig running)

The operators file is the rig's (--operators; default: authorised_operators.yaml in the
rig's data directory, --data-dir or the default for --namespace). The supervisor re-reads
it when it changes: a revocation holds from the next command. Key and operators files
are the owner's alone; one open to other users is refused. Exit status 0 when done, 1
with the reason in one line otherwise.

sros2-policy reads the running rig's nodes off the ROS graph (spacemine_ros.security)
and prints the SROS2 policy of their enclaves, for `ros2 security create_permission`.
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


def sros2_policy(args):
    """Return the SROS2 policy of the running rig's nodes (RuntimeError if not all there)."""
    from spacemine_ros import bringup
    from spacemine_ros.nodes.common import init_ros
    from spacemine_ros.security import policy_xml, rig_interfaces, with_supervisor_calls
    import rclpy

    specs = bringup.graph(args.backend, rig=args.rig, recording=args.record)
    names = [spec.name for spec in specs] + ([args.also] if args.also else [])
    controllers = [spec.name for spec in specs if spec.executable in
                   {executable for executable, *_ in bringup.CONTROLLERS.values()}]
    init_ros()
    try:
        observer = rclpy.create_node('sros2_policy_reader')
        interfaces = rig_interfaces(observer, names, args.namespace, timeout=args.timeout)
        return policy_xml(with_supervisor_calls(interfaces, controllers), args.namespace)
    finally:
        rclpy.try_shutdown()


def run(args):
    """Do what the parsed options say; return the lines to print (AuthorityError)."""
    if args.action == 'sros2-policy':
        return [sros2_policy(args).rstrip('\n')]
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
    policy = actions.add_parser('sros2-policy', help="the SROS2 policy of a running rig's "
                                'nodes, an enclave each')
    policy.add_argument('--namespace', default='', help="the rig's namespace")
    policy.add_argument('--backend', default='sim', choices=('sim', 'hil', 'hardware'))
    policy.add_argument('--rig', default='', help='the rig file (default: default.yaml)')
    policy.add_argument('--record', action='store_true', help='the rig runs its recorder')
    policy.add_argument('--also', default='', help='another node of the rig to include, '
                        'e.g. robot_state_publisher (ros2 launch starts it)')
    policy.add_argument('--timeout', type=float, default=30.0,
                        help='wall seconds to wait for every node (default: 30)')
    args = parser.parse_args(argv)
    try:
        lines = run(args)
    except (AuthorityError, OSError, RuntimeError, ValueError) as error:
        print(f'spacemine-keys: {error}', file=sys.stderr)
        return 1
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
