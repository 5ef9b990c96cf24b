"""The pure domain: attrs, returns and the standard library only; no I/O, no clock reads."""
