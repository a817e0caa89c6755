"""The edge: FastAPI app factory, routers, settings, CLI, error-to-status mapping."""
