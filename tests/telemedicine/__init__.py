"""Tests for teleconsultation: network, queue, consults, prescriptions."""
