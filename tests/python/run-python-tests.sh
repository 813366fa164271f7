#!/bin/sh
# run-python-tests.sh - the unittest suite against the build tree's package.
# make check runs it with PYTHON, HEAPSCOPE_SRCDIR and HEAPSCOPE_BUILDDIR set.
set -e
: "${PYTHON:?PYTHON is not set}"
: "${HEAPSCOPE_SRCDIR:?}" "${HEAPSCOPE_BUILDDIR:?}"
PYTHONPATH="$HEAPSCOPE_BUILDDIR/pkg:$HEAPSCOPE_BUILDDIR/tests/ext/.libs${PYTHONPATH:+:$PYTHONPATH}"
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
if [ "${HEAPSCOPE_SANITIZERS:-no}" = yes ]; then
    # The interpreter is not sanitized: preload the runtime for the module.
    asan=$(${CC:-clang} -print-file-name=libclang_rt.asan-x86_64.so)
    LD_PRELOAD="$asan${LD_PRELOAD:+:$LD_PRELOAD}"
    ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export LD_PRELOAD ASAN_OPTIONS
fi
cd "$HEAPSCOPE_SRCDIR/tests/python"
exec "$PYTHON" -m unittest discover -v -s . -t .
