"""Source adapters: each reads one format's files into a `Batch` of normalized records."""
