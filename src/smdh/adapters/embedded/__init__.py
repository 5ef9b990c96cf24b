"""adapters.embedded."""
