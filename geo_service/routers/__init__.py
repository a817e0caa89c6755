"""HTTP routers: thin handlers over domain functions."""
