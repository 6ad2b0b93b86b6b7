"""Command-line helpers for a deployed stack: mint client tokens, publish events."""
