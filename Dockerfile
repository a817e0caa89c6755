# Site-availability and planning service for Kongsbergregionen.
# Build: docker build -t geo-service .   Run: docker run -p 8000:8000 -v geo-data:/data geo-service
# Map assets (Leaflet, Leaflet.VectorGrid) from the npm lock file, at build time: the service serves them itself.
FROM node:20-bookworm-slim AS map-assets
WORKDIR /build/maps
COPY maps/package.json maps/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --omit=dev

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    GEO_SERVICE_WORKSPACE=/data/workspace \
    GEO_SERVICE_TILE_RENDER_PROCESSES=2

WORKDIR /app
COPY pyproject.toml README.md ./
COPY layers ./layers
COPY constraints ./constraints
COPY sites ./sites
COPY programme ./programme
COPY maps ./maps
COPY geo_service ./geo_service
COPY --from=map-assets /build/maps/node_modules ./maps/node_modules
# Pango for WeasyPrint (the PDF reports); fonts so the PDFs print Norwegian letters the same everywhere
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir ".[postgis]" \
 && useradd --system --uid 10001 --home-dir /data --create-home geo \
 && mkdir -p /data/workspace && chown -R geo /data

USER geo
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/conformance', timeout=4)"
# Cold tiles render in 2 processes per worker (README "Tiles, round 3"); 0 renders in the worker's threads.
# Configuration by environment: GEO_SERVICE_WORKSPACE, GEO_SERVICE_SEED_DEMO, GEO_SERVICE_DATABASE_URL, ...
CMD ["geo-service", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
