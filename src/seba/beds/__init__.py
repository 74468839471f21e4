"""Bed pools, the bed ledger, census and public availability."""
