"""spacemine-preflight: GO / NO-GO before a shift, from the rig's supervisor.

Asks the supervisor's ~/preflight: every node alive and every watched sensor stream
coming, anchors stowed or holding, no controller in FAULT, the e-stop clear and power for
the plan's first step. Prints GO, or NO-GO with the reasons; exit 0 on GO, 1 on NO-GO, 2
if the supervisor does not answer. Works the same on the sim, hil and hardware backends.
"""

import argparse
import sys

from spacemine_ros import command


def main(argv=None):
    """Entry point of spacemine-preflight."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--namespace', default='', help='namespace of the rig')
    parser.add_argument('--timeout', type=float, default=20.0,
                        help='wall seconds to wait for the supervisor (default: 20)')
    args = parser.parse_args(argv)
    return command.main(['preflight', '--namespace', args.namespace,
                         '--timeout', str(args.timeout)])


if __name__ == '__main__':
    sys.exit(main())
