"""adapters.aws."""
