"""strings commands (to be written)."""
