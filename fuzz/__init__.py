"""Fuzzing harness for every reader (see fuzz/run.py for the long campaign, tests/test_fuzz.py for the short run)."""
