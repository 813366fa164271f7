# deps.sh - sourced by the Quick-start scripts: install the Debian packages
# heapscope needs to build and test, when they are missing.
hs_need="autoconf automake libtool pkg-config make gcc libcmocka-dev \
libncurses-dev python3-dev tmux groff-base"
hs_optional="clang libclang-rt-14-dev valgrind mandoc"

hs_install_deps() {
    local missing="" p
    for p in $hs_need $hs_optional; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "heapscope: please install:$missing (e.g. sudo apt-get install$missing)" >&2
        return 1
    fi
    echo "heapscope: installing$missing" >&2
    apt-get update -qq >/dev/null || return 1
    # Optional tools may not exist on every release: install what can be.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $hs_need >/dev/null || return 1
    for p in $hs_optional; do
        dpkg -s "$p" >/dev/null 2>&1 ||
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null 2>&1 ||
            echo "heapscope: optional package $p not available" >&2
    done
    return 0
}

hs_bootstrap() {
    if [ ! -x configure ] || [ configure.ac -nt configure ] ||
       [ Makefile.am -nt Makefile.in ]; then
        autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
    fi
}
