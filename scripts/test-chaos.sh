#!/usr/bin/env bash
# `npm run test:chaos`: the full chaos profile (docs/reliability.md) — every fault of the fault matrix
# and the randomised schedules (20 seeds × 10,000 events by default; CHAOS_SEEDS, CHAOS_EVENTS,
# CHAOS_SEED to change or replay). Services as `npm test` sets them up (scripts/test.sh); the suites
# start their own PostgreSQL cluster and Temporal dev server for the nodes they break.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-tools.sh
npx tsx scripts/build-pos.ts
npx tsx scripts/build-dashboard.ts
service_env="$(npx tsx scripts/services.ts up --print-env)"
eval "$service_env"

# One suite at a time: each runs four node processes, a PostgreSQL and a Temporal server.
CHAOS_PROFILE=full npx jest test/chaos --runInBand "$@"
