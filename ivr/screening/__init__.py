"""Screening: number checks, call floods, the blank-call policy, machine signs, fingerprints and their commands."""
