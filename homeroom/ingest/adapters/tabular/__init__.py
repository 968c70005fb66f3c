"""CSV and XLSX exports, read into a `Batch` as a mapping profile describes them."""

from homeroom.ingest.adapters.tabular.files import display_names
from homeroom.ingest.adapters.tabular.mappings import Profile
from homeroom.ingest.adapters.tabular.profiles import ProfileError, load_profile, shipped_profiles
from homeroom.ingest.adapters.tabular.reader import matches, read_tabular

__all__ = [
    "Profile",
    "ProfileError",
    "display_names",
    "load_profile",
    "matches",
    "read_tabular",
    "shipped_profiles",
]
