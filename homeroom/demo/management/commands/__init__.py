"""`homeroom generate` and the other demo commands."""
