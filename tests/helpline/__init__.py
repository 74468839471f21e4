"""Helpline tests: directory, answers and search, callbacks."""
