"""vignett: image search for digitised library collections (ALTO + IIIF -> Elasticsearch -> GraphQL)."""

__version__ = "0.1.0"
