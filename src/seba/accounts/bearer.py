"""Who is asking an API route: the staff member behind the request's bearer token.

The token is resolved on every request (``account_service.principal_for_token``): from the
worker's principal cache when it has checked it lately (``accounts/principals.py``), else from
the database. A logout or an account change ends API access at once, on every worker.
"""

from __future__ import annotations

from fastapi import Request

from seba.accounts import service as account_service
from seba.core.access import Principal
from seba.core.errors import NotAuthenticated
from seba.core.http import bearer_token, runtime_of


async def current_principal(request: Request) -> Principal:
    """Route dependency: the signed-in staff member. Raises NotAuthenticated (401)."""
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated()
    principal = await account_service.principal_for_token(runtime_of(request), token)
    request.state.principal = principal
    return principal
