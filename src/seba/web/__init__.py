"""Pages: the base layout, shared page helpers and static files."""
