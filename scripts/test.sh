#!/usr/bin/env bash
# Set up and run the whole test suite, including the import-direction contract.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh   # PostGIS and Chromium from Debian when run as root (CI does)
bash scripts/setup.sh
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
