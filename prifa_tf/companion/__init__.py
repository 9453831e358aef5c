"""The companion studies of seeds 002-004, on the same engine and data."""
