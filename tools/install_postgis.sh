#!/usr/bin/env bash
# What the PostGIS tests (tests/test_postgis.py) need, installed if missing:
#   - the PostgreSQL server binaries (initdb, pg_ctl, postgres) and
#   - the PostGIS extension built for that server (Debian: postgresql-<major>-postgis-3).
# The tests start their own throwaway server in a temporary folder (tests/postgis_support.py);
# nothing here creates a cluster or starts a service.
#
# Idempotent: when everything is there it only prints what it found. When the packages cannot be
# installed (no network, not root and no sudo) it says why on stderr, records the reason in
# .cache/postgis-unavailable so the PostGIS tests are skipped with that reason instead of
# failing, and exits 0 so the rest of `make test` still runs. With --strict it exits 1 instead.
set -euo pipefail
cd "$(dirname "$0")/.."

STRICT=0
[ "${1:-}" = "--strict" ] && STRICT=1
MARKER=.cache/postgis-unavailable

pg_bindir() {
    # the newest /usr/lib/postgresql/<major>/bin with initdb and postgres, else pg_config's
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && { echo "$d"; return; }
    done
    if command -v pg_config >/dev/null; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
    fi
    return 0
}

sharedir() {  # the extension folder's parent for the server in $1
    local share=""
    [ -x "$1/pg_config" ] && share="$("$1/pg_config" --sharedir 2>/dev/null || true)"
    [ -z "$share" ] && share="/usr/share/postgresql/$(basename "$(dirname "$1")")"
    echo "$share"
}

ready() {
    local bindir="$1"
    [ -n "$bindir" ] && [ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ] \
        && [ -f "$(sharedir "$bindir")/extension/postgis.control" ]
}

unavailable() {
    echo "install_postgis.sh: $1" >&2
    echo "install_postgis.sh: the PostGIS tests will be skipped (reason in $MARKER)" >&2
    mkdir -p "$(dirname "$MARKER")"
    echo "$1" > "$MARKER"
    [ "$STRICT" = 1 ] && exit 1
    exit 0
}

install() {
    local sudo="" major="" pkgs
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null || ! sudo -n true 2>/dev/null; then
            unavailable "PostgreSQL + PostGIS are missing and this user cannot apt-get install them (not root, no sudo)"
        fi
        sudo="sudo -n"
    fi
    command -v apt-get >/dev/null || unavailable "PostgreSQL + PostGIS are missing and there is no apt-get here"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q || unavailable "apt-get update failed (no network?)"
    # the server major this machine has (or will get), so the PostGIS build matches it
    [ -n "$BINDIR" ] && major="$(basename "$(dirname "$BINDIR")")"
    if [ -z "$major" ]; then
        major="$(apt-cache depends postgresql 2>/dev/null \
                 | sed -n 's/.*Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -1)"
    fi
    if [ -n "$major" ] && apt-cache show "postgresql-$major-postgis-3" >/dev/null 2>&1; then
        pkgs=("postgresql-$major" "postgresql-$major-postgis-3")
    else
        pkgs=(postgresql postgis)
    fi
    # keep apt from starting (and leaving running) the distribution's own cluster
    local policy=/usr/sbin/policy-rc.d made=0
    if [ ! -e "$policy" ] && [ -z "$sudo" ] && [ -w /usr/sbin ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made=1
    fi
    local rc=0
    $sudo apt-get install -y -q --no-install-recommends "${pkgs[@]}" || rc=$?
    [ "$made" = 1 ] && rm -f "$policy"
    [ "$rc" = 0 ] || unavailable "apt-get install ${pkgs[*]} failed (exit $rc)"
}

BINDIR="$(pg_bindir)"
if ! ready "$BINDIR"; then
    install
    BINDIR="$(pg_bindir)"
    ready "$BINDIR" || unavailable "installed PostgreSQL + PostGIS, but initdb or the postgis extension is still missing"
fi
rm -f "$MARKER"
echo "PostGIS tests ready: $("$BINDIR/postgres" --version) in $BINDIR, postgis" \
     "$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$(sharedir "$BINDIR")/extension/postgis.control")"
