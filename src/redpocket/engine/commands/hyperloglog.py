"""hyperloglog commands (to be written)."""
