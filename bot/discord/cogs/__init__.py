"""One cog per feature: asking (slash command and mentions) and the library (sources, ingest, forget)."""
