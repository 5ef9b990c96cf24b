"""domain.tenancy."""
