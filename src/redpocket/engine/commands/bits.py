"""bits commands (to be written)."""
