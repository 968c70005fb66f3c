"""OneRoster 1.2 CSV: a bulk export's schools, sessions, people and classes into a `Batch`."""

from homeroom.ingest.adapters.oneroster.reader import read_oneroster

__all__ = ["read_oneroster"]
