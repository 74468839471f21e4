"""Cross-cutting parts that know no domain."""
