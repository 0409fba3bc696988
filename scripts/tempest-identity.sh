#!/usr/bin/env bash
# Run tempest's identity API tests against a fresh `stratus up`.
#
# Tempest lives in its own virtualenv (.venv-tempest) so its dependencies never meet the
# project's pinned constraints. The cloud runs on a temporary state directory and a free
# port, and both are gone when the script ends, pass or fail.
#
#   scripts/tempest-identity.sh                  # the whole identity API suite
#   scripts/tempest-identity.sh REGEX            # a narrower selection
#   TEMPEST_CONCURRENCY=4 scripts/tempest-identity.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
TEMPEST_VENV="${TEMPEST_VENV:-$ROOT/.venv-tempest}"
SYSTEM_PYTHON="${PYTHON:-python3}"  # only to create the tempest venv
REGEX="${1:-^tempest\.api\.identity}"
CONCURRENCY="${TEMPEST_CONCURRENCY:-2}"
EXCLUDE="$ROOT/scripts/tempest-identity-exclude.txt"

if [ ! -x "$TEMPEST_VENV/bin/tempest" ]; then
    echo "== installing tempest into $TEMPEST_VENV"
    "$SYSTEM_PYTHON" -m venv "$TEMPEST_VENV"
    "$TEMPEST_VENV/bin/pip" install -q --upgrade pip
    "$TEMPEST_VENV/bin/pip" install -q tempest
fi
if [ ! -x "$VENV/bin/stratus" ]; then
    echo "no stratus in $VENV: run 'make unit' (or any make target) first" >&2
    exit 2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/stratus-tempest.XXXXXX")"
STATE="$WORK/state"
STRATUS_PID=""

cleanup() {
    if [ -n "$STRATUS_PID" ] && kill -0 "$STRATUS_PID" 2>/dev/null; then
        kill -TERM "$STRATUS_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$STRATUS_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$STRATUS_PID" 2>/dev/null || true
        wait "$STRATUS_PID" 2>/dev/null || true
    fi
    if [ -n "${KEEP_WORKSPACE:-}" ]; then
        echo "workspace kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

# A clean environment: no OS_*/AWS_*/STRATUS_* a developer may have exported.
unset_args() {
    env | sed -n 's/^\(\(OS\|AWS\|STRATUS\)_[A-Za-z0-9_]*\)=.*/-u \1/p'
}
run_clean() {
    env $(unset_args) "$@"
}

echo "== stratus up on 127.0.0.1:$PORT ($STATE)"
mkdir -p "$STATE"
# `exec` makes the background job the stratus process itself, so $! is its pid and the
# cleanup's SIGTERM reaches it (a backgrounded function would leave it orphaned).
(exec env $(unset_args) STRATUS_IDENTITY__PORT="$PORT" "$VENV/bin/stratus" up --state-dir "$STATE" \
    >"$WORK/stratus-up.log" 2>&1) &
STRATUS_PID=$!
for _ in $(seq 1 600); do
    [ -e "$STATE/ready" ] && break
    if ! kill -0 "$STRATUS_PID" 2>/dev/null; then
        echo "stratus up exited before it was ready:" >&2
        cat "$WORK/stratus-up.log" >&2
        exit 1
    fi
    sleep 0.1
done
if [ ! -e "$STATE/ready" ]; then
    echo "stratus up not ready after 60s:" >&2
    tail -50 "$WORK/stratus-up.log" >&2
    exit 1
fi

ADMIN_PASSWORD="$("$VENV/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["admin_password"])' "$STATE/secrets.json")"

cd "$WORK"
# Its own workspace registry, so nothing lands in ~/.tempest/workspace.yaml.
run_clean "$TEMPEST_VENV/bin/tempest" init --name "stratus-identity-$PORT" \
    --workspace-path "$WORK/workspace.yaml" "$WORK/workspace" >/dev/null 2>&1
cd "$WORK/workspace"
cat >etc/tempest.conf <<EOF
[DEFAULT]
log_file = tempest.log

[auth]
admin_username = admin
admin_password = $ADMIN_PASSWORD
admin_project_name = admin
admin_domain_name = Default
use_dynamic_credentials = true
create_isolated_networks = false

[identity]
uri_v3 = http://127.0.0.1:$PORT/v3
auth_version = v3
region = RegionOne
disable_ssl_certificate_validation = true

[identity-feature-enabled]
api_v2 = false
api_v2_admin = false
api_v3 = true
api_extensions = OS-INHERIT,OS-EC2
trust = false
access_rules = false
application_credentials = true
project_tags = true
security_compliance = false
domain_specific_drivers = false
immutable_user_source = false
external_idp = false

[enforce_scope]
keystone = false

[service_available]
nova = false
neutron = false
glance = false
cinder = false
swift = false
horizon = false
heat = false
barbican = false
designate = false
octavia = false
manila = false
ironic = false
EOF

ARGS=(run --config-file etc/tempest.conf --regex "$REGEX" --concurrency "$CONCURRENCY")
if [ -s "$EXCLUDE" ]; then
    ARGS+=(--exclude-list "$EXCLUDE")
fi
echo "== tempest ${ARGS[*]}"
set +e
# stestr runs the tests with ${PYTHON:-python}: make it tempest's own interpreter.
run_clean PYTHON="$TEMPEST_VENV/bin/python" "$TEMPEST_VENV/bin/tempest" "${ARGS[@]}" 2>&1 |
    tee "$WORK/tempest-run.log"
STATUS=${PIPESTATUS[0]}
set -e

summary() {
    local key=$1
    sed -n "s/^ - $key: *\([0-9]*\).*/\1/p" "$WORK/tempest-run.log" | tail -1
}
echo "== tempest identity: passed $(summary Passed) failed $(summary Failed)" \
    "skipped $(summary Skipped) (exit $STATUS)"
exit "$STATUS"
