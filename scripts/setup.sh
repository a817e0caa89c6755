#!/usr/bin/env bash
# Create .venv (if missing) and install the service with its development extras. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
# Browser assets of the maps (Leaflet, Leaflet.VectorGrid), pinned by maps/package-lock.json and served by the
# service itself (offline-first: no CDN at run time). Re-run only when the lock file changed.
if [ ! -f maps/node_modules/.package-lock.json ] || [ maps/package-lock.json -nt maps/node_modules/.package-lock.json ]; then
  command -v npm >/dev/null || { echo "setup: npm is needed for the map assets (apt-get install -y npm)" >&2; exit 1; }
  (cd maps && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
