"""Sign-in and roles at the edge: OIDC bearer tokens, API keys, browser sessions with CSRF protection.

Identity is decided here and handed to the domain as a plain ``Principal``; domain code never reads headers.
"""

from geo_service.auth.principal import ANONYMOUS, Principal, Role

__all__ = ["ANONYMOUS", "Principal", "Role"]
