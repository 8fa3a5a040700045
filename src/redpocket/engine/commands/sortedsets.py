"""sortedsets commands (to be written)."""
