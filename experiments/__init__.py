"""absl binaries, one per experiment (also installed as prifa-* commands)."""
