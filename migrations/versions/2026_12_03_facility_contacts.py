"""facility contacts: a hospital's own reception and emergency numbers, its Bengali address,
and staff mobiles (where a facility's referral alerts go)

Revision ID: 5e0a11a7e006
Revises: 5e0a11a7e005
Create Date: 2026-12-03 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e0a11a7e006"
down_revision: str | None = "5e0a11a7e005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no table rebuild on SQLite); existing rows get an empty Bengali
    # address (pages then show the English one) and no numbers until an admin or an import
    # gives them.
    op.add_column(
        "facility",
        sa.Column("address_bn", sa.String(length=400), nullable=False, server_default=""),
    )
    op.add_column("facility", sa.Column("reception_phone", sa.String(length=20), nullable=True))
    op.add_column("facility", sa.Column("emergency_phone", sa.String(length=20), nullable=True))
    op.add_column("staff_user", sa.Column("mobile", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_column("mobile")
    with op.batch_alter_table("facility") as batch:
        batch.drop_column("emergency_phone")
        batch.drop_column("reception_phone")
        batch.drop_column("address_bn")
