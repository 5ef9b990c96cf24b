"""domain.scans."""
