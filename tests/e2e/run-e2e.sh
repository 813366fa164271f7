#!/bin/sh
# run-e2e.sh - the end-to-end tests (test_e2e.py): real programs under the
# built heapscope command in a detached tmux pane, driven with send-keys.
# make check runs it with PYTHON, HEAPSCOPE_SRCDIR and HEAPSCOPE_BUILDDIR
# set; without tmux it skips (77, automake's SKIP).  It must not need a
# terminal of its own, nor touch any tmux server but the ones it starts.
set -e
: "${PYTHON:?PYTHON is not set}"
: "${HEAPSCOPE_SRCDIR:?}" "${HEAPSCOPE_BUILDDIR:?}"
if ! command -v tmux >/dev/null 2>&1; then
    echo "SKIP: tmux is not installed (apt-get install tmux)"
    exit 77
fi
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
if [ "${HEAPSCOPE_SANITIZERS:-no}" = yes ]; then
    # Only the program under test loads the sanitized module: the tests
    # hand it the runtime to preload, tmux and sh run without it.
    HEAPSCOPE_E2E_PRELOAD=$(${CC:-clang} -print-file-name=libclang_rt.asan-x86_64.so)
    export HEAPSCOPE_E2E_PRELOAD
fi
cd "$HEAPSCOPE_SRCDIR/tests/e2e"
exec "$PYTHON" -m unittest -v test_e2e
