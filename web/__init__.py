"""The ASGI app: GraphQL (with GraphiQL) at /graphql, /healthz, /readyz, the static client at /."""

from .app import create_app

__all__ = ["create_app"]
