"""Hybrid search: dense neighbours from Chroma fused with keyword (FTS5) matches."""
