"""The GraphQL schema (Strawberry types over the resolvers); SDL in schema.graphql."""

from .build import VignettSchema, build_schema
from .context import ApiContext

__all__ = ["ApiContext", "VignettSchema", "build_schema"]
