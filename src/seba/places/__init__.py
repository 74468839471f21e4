"""Districts and facilities (hospitals, isolation centres)."""
