"""The patient registry: one record per person (ABHA optional), duplicate warnings, and
reads audited for every staff member who looks."""
