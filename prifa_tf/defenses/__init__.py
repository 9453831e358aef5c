"""Non-private defenses against membership inference (PAST, L1, L2)."""
