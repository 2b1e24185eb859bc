#!/usr/bin/env bash
# Manual, thorough check of the README's two commands as a new user gets them: a clean `git clone` of
# HEAD inside a mode-0700 folder (as root, one the postgres user cannot enter, like a clone under
# /root), the real `npm start` in the background until /healthz answers 200, then `npm test` on one
# small test file against the services `npm start` brought up, then the node stopped,
# `npm run services:down`, and a check that nothing is left running.
#
#   bash scripts/check-two-commands.sh [test file or jest args]   (default: test/integration/prepared-statements.test.ts)
#
# Takes minutes (the clone gets its own `npm ci`). Uncommitted changes are not in the clone: commit
# first. Own free ports for everything; the services of this checkout are not touched.
# Env: TEMPORAL_CLI (default: this checkout's, from .tools/temporal-path; with none the clone builds
# the CLI with Go, 2-3 minutes), CHECK_SHARE_NODE_MODULES=1 links this checkout's node_modules instead
# of `npm ci`, CHECK_KEEP=1 keeps the clone and its logs.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd -P)"
cd "$here"

if [ $# -eq 0 ]; then set -- test/integration/prepared-statements.test.ts; fi
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "check: note: uncommitted changes are not in the clone (it checks HEAD $(git rev-parse --short HEAD))"
fi

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
# The clone must use only its own local services.
unset DATABASE_URL TEMPORAL_ADDRESS TEMPORAL_UI_URL TEMPORAL_NAMESPACE ADMIN_SECRET PEERS ROLES HOST
PORT="$(free_port)" PGPORT_LOCAL="$(free_port)" TEMPORAL_PORT="$(free_port)" TEMPORAL_UI_PORT="$(free_port)"
export PORT PGPORT_LOCAL TEMPORAL_PORT TEMPORAL_UI_PORT
if [ -z "${TEMPORAL_CLI:-}" ] && [ -s .tools/temporal-path ]; then TEMPORAL_CLI="$(cat .tools/temporal-path)"; fi
[ -n "${TEMPORAL_CLI:-}" ] && export TEMPORAL_CLI

parent="$(mktemp -d "${TMPDIR:-/tmp}/velox-two-commands.XXXXXX")"
chmod 700 "$parent"
clone="$parent/velox"
start_log="$parent/npm-start.log"
start_pid=""

cleanup() {
  local rc=$?
  set +e
  if [ -n "$start_pid" ] && kill -0 "$start_pid" 2>/dev/null; then
    kill -TERM -- "-$start_pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$start_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$start_pid" 2>/dev/null
  fi
  if [ -d "$clone/node_modules" ]; then (cd "$clone" && npx tsx scripts/services.ts down >/dev/null 2>&1); fi
  if [ "${CHECK_KEEP:-}" = 1 ]; then
    echo "check: kept $parent"
  else
    rm -rf "$parent"
    # The relocated cluster (scripts/services.ts relocatedHome: sha1 of the clone's real path).
    if [ "$(id -u)" = 0 ]; then rm -rf "/var/lib/velox-dev/$(printf %s "$clone" | sha1sum | cut -c1-12)"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT

step() { echo "check: $*"; }
fail() {
  echo "check: FAILED: $*" >&2
  exit 1
}

step "cloning HEAD into $clone (parent mode 0700)"
git clone --quiet "$here" "$clone"
git -C "$clone" checkout --quiet --detach "$(git rev-parse HEAD)"
clone="$(cd "$clone" && pwd -P)"
if [ "${CHECK_SHARE_NODE_MODULES:-}" = 1 ]; then ln -s "$(cd node_modules && pwd -P)" "$clone/node_modules"; fi

step "npm start (PORT $PORT, PGPORT_LOCAL $PGPORT_LOCAL, TEMPORAL_PORT $TEMPORAL_PORT), log in $start_log"
# Its own session: the node (exec'd by start.sh under npm) is stopped with its whole process group.
setsid bash -c 'cd "$1" && exec npm start' _ "$clone" </dev/null >"$start_log" 2>&1 &
start_pid=$!
deadline=$((SECONDS + 900))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" = 200 ]; do
  kill -0 "$start_pid" 2>/dev/null || { tail -n 30 "$start_log" >&2; fail "npm start exited"; }
  [ $SECONDS -lt $deadline ] || { tail -n 30 "$start_log" >&2; fail "no /healthz 200 within 15 minutes"; }
  sleep 1
done
step "npm start: /healthz 200 after ${SECONDS} s"
if [ "$(id -u)" = 0 ]; then
  grep -q "/var/lib/velox-dev/" "$start_log" || fail "expected the cluster relocated out of the 0700 clone"
fi

step "npm test -- $*"
(cd "$clone" && npm test -- "$@") || fail "npm test"

step "stopping the node and the services"
kill -TERM -- "-$start_pid"
for _ in $(seq 1 100); do kill -0 "$start_pid" 2>/dev/null || break; sleep 0.2; done
kill -0 "$start_pid" 2>/dev/null && fail "the node did not stop on SIGTERM"
start_pid=""
down="$(cd "$clone" && npm run --silent services:down)"
echo "$down"
grep -q '^temporal: stopped' <<<"$down" || fail "services:down did not stop Temporal"
grep -q '^postgres: stopped' <<<"$down" || fail "services:down did not stop PostgreSQL"
for port in "$PGPORT_LOCAL" "$TEMPORAL_PORT" "$PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then fail "port $port still open"; fi
done
step "OK: npm start and npm test from a clean clone below a mode-0700 folder (${SECONDS} s)"
