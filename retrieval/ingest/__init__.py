"""Ingest: loading files and URLs, near-duplicate detection, chunking and document references."""
