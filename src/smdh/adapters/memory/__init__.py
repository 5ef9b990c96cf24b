"""adapters.memory."""
