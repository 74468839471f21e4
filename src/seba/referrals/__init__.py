"""Admission requests, central referral, bed reservations, admissions, discharges."""
