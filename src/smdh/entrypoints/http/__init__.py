"""entrypoints.http."""
