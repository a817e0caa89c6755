#!/usr/bin/env bash
# Debian packages the whole test suite needs: PostgreSQL 15 + PostGIS 3 (the PostGIS store tests start a
# throwaway server), Chromium (browser tests of the maps), Pango (WeasyPrint PDFs) and poppler-utils (PDF tests). Installs only what is missing; needs root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=()
dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1 || missing+=(postgresql-15-postgis-3)
command -v chromium >/dev/null 2>&1 || missing+=(chromium fonts-dejavu-core)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)  # PDF reports are tested by their text
dpkg -s libpango-1.0-0 >/dev/null 2>&1 || missing+=(libpango-1.0-0 libpangoft2-1.0-0)  # WeasyPrint (PDF)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system packages missing: ${missing[*]} (run as root: bash scripts/system-deps.sh);" \
       "their tests skip locally and fail in CI" >&2
  exit 0
fi
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
