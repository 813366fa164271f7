#!/usr/bin/env bash
# test-all.sh - Quick start, second command: the whole test suite.
#
# Builds out of tree once per interpreter (every pyenv CPython 3.9-3.13 and
# Debian's python3) and runs `make check` (cmocka + unittest + the tmux
# end-to-end tests) in each, then
# the sanitizer build and valgrind when clang and valgrind are there.  Ends
# with one line "N passed, N failed".
#   --quick        only Debian's python3
#   --python PATH  only that interpreter
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
. scripts/deps.sh
hs_install_deps || exit 1
hs_bootstrap || exit 1

only=""
quick=0
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --python) only="$2"; shift ;;
        *) echo "usage: $0 [--quick] [--python PATH]" >&2; exit 2 ;;
    esac
    shift
done

# label=interpreter pairs
pythons=()
if [ -n "$only" ]; then
    pythons+=("custom=$only")
else
    if [ $quick = 0 ]; then
        root=${PYENV_ROOT:-}
        [ -z "$root" ] && command -v pyenv >/dev/null 2>&1 && root=$(pyenv root)
        [ -z "$root" ] && root=$HOME/.pyenv
        for d in $(ls -d "$root"/versions/3.* 2>/dev/null | sort -V); do
            [ -x "$d/bin/python3" ] || continue
            v=$(basename "$d")
            case "$v" in 3.9.*|3.10.*|3.11.*|3.12.*|3.13.*) ;; *) continue ;; esac
            case "$v" in *[!0-9.]*) continue ;; esac     # no -dev, t builds
            pythons+=("py$v=$d/bin/python3")
        done
    fi
    pythons+=("debian-python3=/usr/bin/python3")
fi

passed=0
failed=0
summary=()
jobs=$(nproc 2>/dev/null || echo 2)

# Count the cases of one build's test logs into passed/failed.
count_build() {
    local dir=$1 p=0 f=0 s=0 trs log ran bad skip
    for trs in "$dir"/tests/unit/*.trs; do
        [ -f "$trs" ] || continue
        p=$((p + $(grep -c '^:test-result: PASS' "$trs")))
        f=$((f + $(grep -Ec '^:test-result: (FAIL|ERROR|XPASS)' "$trs")))
    done
    # unittest logs: the Python suite, and the tmux suite (which skips
    # as a whole, 77, without tmux)
    for log in "$dir"/tests/python/run-python-tests.log \
               "$dir"/tests/e2e/run-e2e.log; do
        [ -f "$log" ] || continue
        grep -q '^SKIP: ' "$log" && continue
        ran=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\}.*/\1/p' "$log" | tail -1)
        bad=$(grep -Eo '(failures|errors)=[0-9]+' "$log" | tail -2 |
              awk -F= '{s += $2} END {print s + 0}')
        skip=$(grep -Eo 'skipped=[0-9]+' "$log" | tail -1 | cut -d= -f2)
        if [ -z "$ran" ]; then
            f=$((f + 1))        # the runner itself failed
        else
            p=$((p + ran - bad - ${skip:-0}))
            f=$((f + bad))
            s=$((s + ${skip:-0}))
        fi
    done
    passed=$((passed + p))
    failed=$((failed + f))
    last_res="$p passed, $f failed"
    [ $s = 0 ] || last_res="$last_res ($s skipped)"
}

run_build() {
    local label=$1 py=$2 dir=$top/build/$1 extra=${3:-} res
    shift 3 || true
    if ! "$py" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
        if [ "$py" = /usr/bin/python3 ]; then
            echo "== $label: $py has no headers (python3-dev missing)"
            summary+=("$label: FAILED (no headers)")
            failed=$((failed + 1))
        else
            echo "== $label: skipped, $py has no C headers"
            summary+=("$label: skipped (no headers)")
        fi
        return
    fi
    echo "== $label: $py"
    mkdir -p "$dir"
    (
        cd "$dir" || exit 1
        if [ ! -f Makefile ]; then
            eval "../../configure -q PYTHON=\"$py\" $extra" || exit 1
        fi
        make -s -j"$jobs" >/dev/null || make || exit 1
        make -s check >/dev/null 2>&1
    )
    local rc=$?
    count_build "$dir"
    res=$last_res
    if [ $rc != 0 ]; then
        echo "   make check failed; logs:"
        for log in "$dir"/test-suite.log "$dir"/tests/python/*.log \
                   "$dir"/tests/e2e/*.log; do
            [ -f "$log" ] && tail -40 "$log"
        done
        [ "$res" = "0 passed, 0 failed" ] && { failed=$((failed + 1)); res="build failed"; }
        summary+=("$label: FAILED ($res)")
    else
        summary+=("$label: ok ($res)")
    fi
    echo "   $res"
}

for entry in "${pythons[@]}"; do
    run_build "${entry%%=*}" "${entry#*=}" ""
done

# Sanitizers (ASan + UBSan, clang) and valgrind on the unit tests, with
# Debian's python3, when the tools are installed.
if [ -z "$only" ] && command -v clang >/dev/null 2>&1 &&
   [ -f "$(clang -print-file-name=libclang_rt.asan-x86_64.so)" ]; then
    run_build sanitizers /usr/bin/python3 "CC=clang --enable-sanitizers"
else
    echo "== sanitizers: skipped (clang with its ASan runtime not installed)"
fi
if [ -z "$only" ] && command -v valgrind >/dev/null 2>&1; then
    echo "== valgrind: cmocka suite"
    if (cd "$top/build/debian-python3" && make -s check-valgrind); then
        summary+=("valgrind: ok")
        passed=$((passed + 1))
    else
        summary+=("valgrind: FAILED")
        failed=$((failed + 1))
    fi
fi

echo
echo "Summary:"
for s in "${summary[@]}"; do echo "  $s"; done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
