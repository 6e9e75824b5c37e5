#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server on 127.0.0.1, then stop it whatever the outcome.
#
#   .ci/postgres.sh [--install] COMMAND [ARGS...]
#
# The server lives in a temporary directory (data, socket, log) on a free loopback port and is
# stopped and deleted on exit.  COMMAND sees XPZ_TEST_POSTGRES_URL=postgresql://xpz@127.0.0.1:PORT/xpz
# (the tests marked `postgres` use it).  When no server can be started, COMMAND still runs, with
# XPZ_TEST_POSTGRES_SKIP set to the reason (those tests then skip with it), unless
# XPZ_REQUIRE_POSTGRES=1, which makes that an error.  --install installs the distribution's
# `postgresql` package (apt-get, as root) when no PostgreSQL binaries are found.
# The exit status is COMMAND's.
set -uo pipefail

install=0
if [[ "${1:-}" == "--install" ]]; then
    install=1
    shift
fi
if [[ $# -eq 0 ]]; then
    echo "usage: $0 [--install] COMMAND [ARGS...]" >&2
    exit 2
fi

log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
    local dir
    if command -v pg_config >/dev/null 2>&1; then
        dir="$(pg_config --bindir 2>/dev/null)"
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return 0
        fi
    fi
    # Debian/Ubuntu keep the server binaries off PATH; take the newest version.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return 0
        fi
    done
    dir="$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")"
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
        echo "$dir"
        return 0
    fi
    return 1
}

workdir=""
pg_ctl_cmd=()
cleanup() {
    if [[ ${#pg_ctl_cmd[@]} -gt 0 && -f "$workdir/data/postmaster.pid" ]]; then
        "${pg_ctl_cmd[@]}" -D "$workdir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 \
            || log "could not stop the server in $workdir"
    fi
    if [[ -n "$workdir" ]]; then
        rm -rf "$workdir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts the server and sets pg_url; on failure sets pg_error and returns 1.
pg_url=""
pg_error=""
start_server() {
    local bindir port as_user=()
    if ! bindir="$(find_bindir)"; then
        if [[ $install -eq 1 ]]; then
            if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
                pg_error="PostgreSQL is not installed and cannot be installed here (needs root and apt-get): sudo apt-get install postgresql"
                return 1
            fi
            log "installing PostgreSQL from the distribution's packages"
            if ! (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq \
                && apt-get install -y -qq postgresql) >&2; then
                pg_error="apt-get install postgresql failed"
                return 1
            fi
            bindir="$(find_bindir)" || { pg_error="postgresql installed but no initdb/pg_ctl found"; return 1; }
        else
            pg_error="PostgreSQL is not installed (no initdb/pg_ctl; 'make test-servers' installs it)"
            return 1
        fi
    fi
    local tmp="${TMPDIR:-/tmp}"
    [[ $(id -u) -eq 0 ]] && tmp=/tmp  # the postgres user must reach it
    workdir="$(mktemp -d "$tmp/xpz-postgres.XXXXXX")" || { pg_error="mktemp failed"; return 1; }
    if [[ $(id -u) -eq 0 ]]; then
        # initdb and postgres refuse to run as root: run them as the `postgres` user.
        if ! id postgres >/dev/null 2>&1; then
            useradd --system --no-create-home --shell /usr/sbin/nologin postgres >&2 \
                || { pg_error="no 'postgres' user and useradd failed"; return 1; }
        fi
        chown postgres "$workdir"
        chmod 700 "$workdir"
        as_user=(runuser -u postgres --)
    fi
    pg_ctl_cmd=("${as_user[@]}" "$bindir/pg_ctl")
    if ! "${as_user[@]}" "$bindir/initdb" -D "$workdir/data" -U xpz -A trust -E UTF8 \
        --no-sync >"$workdir/initdb.log" 2>&1; then
        pg_error="initdb failed: $(tail -n 3 "$workdir/initdb.log" | tr '\n' ' ')"
        return 1
    fi
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')" \
        || { pg_error="no free port found"; return 1; }
    # -w -t 60: wait at most 60 s for the server to accept connections.
    if ! "${pg_ctl_cmd[@]}" -D "$workdir/data" -l "$workdir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $workdir -c fsync=off -c full_page_writes=off -c max_connections=50" \
        start >/dev/null 2>&1; then
        pg_error="the server did not start within 60 s: $(tail -n 3 "$workdir/server.log" 2>/dev/null | tr '\n' ' ')"
        return 1
    fi
    if ! "${as_user[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U xpz xpz >"$workdir/createdb.log" 2>&1; then
        pg_error="createdb failed: $(tail -n 3 "$workdir/createdb.log" | tr '\n' ' ')"
        return 1
    fi
    pg_url="postgresql://xpz@127.0.0.1:$port/xpz"
}

if start_server; then
    export XPZ_TEST_POSTGRES_URL="$pg_url"
    unset XPZ_TEST_POSTGRES_SKIP
    log "server at $XPZ_TEST_POSTGRES_URL (data in $workdir)"
else
    log "no PostgreSQL server: $pg_error"
    if [[ "${XPZ_REQUIRE_POSTGRES:-0}" == "1" ]]; then
        exit 1
    fi
    unset XPZ_TEST_POSTGRES_URL
    export XPZ_TEST_POSTGRES_SKIP="$pg_error"
fi

"$@"
