"""Sweeps: directories of resumable runs, trained then evaluated."""
