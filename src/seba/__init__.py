"""Seba: West Bengal public-health service platform."""
