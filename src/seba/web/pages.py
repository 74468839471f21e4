"""HTML routes (filled in by the page modules)."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
