#!/usr/bin/env bash
# Installs schemathesis (the OpenAPI fuzzer of `npm run test:fuzz` and of the short profile in
# `npm test`) into a Python venv under .tools/ (git-ignored), idempotently and without prompts.
# Pinned: its CLI flags changed between major versions, and a new release must not change what CI
# generates. Prints the venv's python on the last line: run it as `python -m schemathesis.cli`, which
# works wherever the venv is reached from (the `st` script's shebang names the path it was built at).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
venv=".tools/schemathesis-venv"
python_bin="$PWD/$venv/bin/python"

installed() {
  [ -x "$python_bin" ] &&
    [ "$("$python_bin" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" = "$SCHEMATHESIS_VERSION" ]
}
if installed; then
  echo "$python_bin"
  exit 0
fi

mkdir -p .tools
# Two runs at once (a jest file and `npm run test:fuzz`) must not build the venv over each other.
if command -v flock >/dev/null 2>&1; then
  exec 9>.tools/schemathesis.lock
  flock 9
fi
# Another run may have installed it while this one waited for the lock.
if installed; then
  echo "$python_bin"
  exit 0
fi

python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "ensure-schemathesis: $python is missing; install Python 3.9+ (with venv and pip) or set PYTHON" >&2
  exit 1
fi
echo "ensure-schemathesis: installing schemathesis $SCHEMATHESIS_VERSION into $venv" >&2
# A half-made venv (interrupted install, other Python) is rebuilt rather than patched.
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
  "schemathesis==$SCHEMATHESIS_VERSION" >&2
echo "$python_bin"
