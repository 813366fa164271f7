#!/usr/bin/env bash
# demo.sh - Quick start, first command: install what is missing, build
# heapscope for Debian's python3 (or $PYTHON), and run the bundled demo
# program under it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
hs_install_deps
hs_bootstrap
PYTHON=${PYTHON:-/usr/bin/python3}
mkdir -p build/demo
cd build/demo
if [ ! -f Makefile ]; then
    ../../configure -q PYTHON="$PYTHON"
fi
make -s -j2 >/dev/null
exec ./heapscope demo "$@"
