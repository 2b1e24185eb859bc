#!/usr/bin/env bash
# `npm start`: install what is missing, start (or reuse) local PostgreSQL and Temporal, run the node.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-tools.sh
# The POS page (/pos) is served from its bundle: build it before the node or the tests start.
npx tsx scripts/build-pos.ts
# Likewise the operators' dashboard (/dashboard).
npx tsx scripts/build-dashboard.ts
# Exports DATABASE_URL / TEMPORAL_ADDRESS for the local services (or keeps the ones already set).
# Assigned first so that a failing `up` stops this script (set -e ignores failures inside eval "$(...)").
service_env="$(npx tsx scripts/services.ts up --print-env)"
eval "$service_env"

# A random admin secret per checkout, reused on later runs; only its location is ever printed.
if [ -z "${ADMIN_SECRET:-}" ]; then
  if [ ! -s .data/admin-secret ]; then
    (umask 077 && node -e "process.stdout.write(require('crypto').randomBytes(32).toString('base64url'))" >.data/admin-secret)
    echo "ADMIN_SECRET: generated a local one in .data/admin-secret"
  else
    echo "ADMIN_SECRET: using the local one in .data/admin-secret"
  fi
  ADMIN_SECRET="$(cat .data/admin-secret)"
  export ADMIN_SECRET
fi

port="${PORT:-3000}"
echo "API              http://localhost:$port"
echo "OpenAPI UI       http://localhost:$port/docs"
echo "Temporal Web UI  ${TEMPORAL_UI_URL:-http://localhost:${TEMPORAL_UI_PORT:-8233}}"
exec node --import tsx bin/node.ts
