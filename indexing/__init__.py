"""ALTO parsing, IIIF fetching, ingest, and the Elasticsearch index (mapping, alias, local node)."""
