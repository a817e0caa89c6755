#!/usr/bin/env bash
# Set up and run the service on the embedded GeoPackage workspace (seeded with the demo data when empty).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/geo-service serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" "$@"
