"""The heapscope command: python -m heapscope [--help | --version | demo [N]].

`heapscope demo` builds the bundled pkgcore-like demo heap and prints the
tables a heapy session would show on it.
"""

import argparse
import sys

from . import __version__


def _parser():
    p = argparse.ArgumentParser(
        prog='heapscope',
        description='Explore what is using the memory of a Python program.')
    p.add_argument('--version', action='version',
                   version='heapscope ' + __version__)
    sub = p.add_subparsers(dest='command')
    d = sub.add_parser('demo', help='run the bundled demo program and show '
                                    'its heap')
    d.add_argument('packages', nargs='?', type=int, default=20000,
                   help='number of packages the demo builds (default 20000)')
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.command == 'demo':
        from . import demo
        return demo.main(args.packages)
    _parser().print_help()
    return 2


if __name__ == '__main__':
    sys.exit(main())
