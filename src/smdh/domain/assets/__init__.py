"""domain.assets."""
