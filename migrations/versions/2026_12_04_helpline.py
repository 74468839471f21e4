"""helpline: its numbers (seeded), answers to common questions with their history and a
full-text index, the callback queue, counsellors and their bookings

The answers' full-text index is the database's own: an FTS5 table kept by triggers on SQLite,
a generated ``tsvector`` column (weighted ``to_tsvector('simple', …)``) with a GIN index on
PostgreSQL (the ORM does not map it: the database writes it). Both read the folded
search words the service writes (``seba.helpline.text``), never the raw text.

Revision ID: 5e0a11a7e015
Revises: 5e0a11a7e014
Create Date: 2026-12-04 02:30:00
"""

from collections.abc import Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "5e0a11a7e015"
down_revision: str | None = "5e0a11a7e014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The weighted document PostgreSQL keeps for each answer.
PG_DOCUMENT = (
    "setweight(to_tsvector('simple', search_title), 'A') || "
    "setweight(to_tsvector('simple', search_body), 'D')"
)

# The numbers as the state published them (DOMAIN.md §1.1); admins edit them from here on. The
# seed article's 1800-313-888-222 is taken for a misprint of the helpline's 1800-313-444-222.
NUMBERS = [
    # code, name_en, name_bn, purpose_en, purpose_bn, hours_en, hours_bn, number, footer
    ("integrated", "Integrated helpline", "সমন্বিত হেল্পলাইন",
     "Covid information, ambulance, doctor on the phone (menu 1 ambulance, 2 Covid information, 3 doctor)",
     "কোভিড তথ্য, অ্যাম্বুলেন্স, ফোনে ডাক্তার (১ অ্যাম্বুলেন্স, ২ কোভিড তথ্য, ৩ ডাক্তার)",
     "24 hours, toll-free", "২৪ ঘণ্টা, বিনামূল্যে", "1800-313-444-222", True),
    ("toll_free", "Health department toll-free line", "স্বাস্থ্য দপ্তরের টোল-ফ্রি লাইন",
     "Covid questions and complaints", "কোভিড নিয়ে প্রশ্ন ও অভিযোগ",
     "24 hours", "২৪ ঘণ্টা", "033 2341 2600", False),
    ("control_room_1", "Health department control room", "স্বাস্থ্য দপ্তরের কন্ট্রোল রুম",
     "Beds and referral help", "শয্যা ও রেফারেল নিয়ে সাহায্য",
     "24 hours", "২৪ ঘণ্টা", "033 2357 1075", False),
    ("control_room_2", "Health department control room", "স্বাস্থ্য দপ্তরের কন্ট্রোল রুম",
     "Beds and referral help", "শয্যা ও রেফারেল নিয়ে সাহায্য",
     "24 hours", "২৪ ঘণ্টা", "033 2357 1083", False),
    ("control_room_3", "Health department control room", "স্বাস্থ্য দপ্তরের কন্ট্রোল রুম",
     "Beds and referral help", "শয্যা ও রেফারেল নিয়ে সাহায্য",
     "24 hours", "২৪ ঘণ্টা", "033 2357 3636", False),
    ("ambulance", "Ambulance", "অ্যাম্বুলেন্স",
     "Free ambulance for Covid patients", "কোভিড রোগীর জন্য বিনামূল্যে অ্যাম্বুলেন্স",
     "24 hours", "২৪ ঘণ্টা", "033-4090-2929", True),
    ("telemedicine", "Telemedicine", "টেলিমেডিসিন",
     "Talk to a doctor on the phone", "ফোনে ডাক্তারের সঙ্গে কথা",
     "24 hours", "২৪ ঘণ্টা", "033-2357-6001", False),
    ("counselling", "Psychological counselling", "মানসিক স্বাস্থ্য পরামর্শ",
     "Someone to talk to about worry, grief or stress (through the integrated helpline)",
     "দুশ্চিন্তা, শোক বা চাপ নিয়ে কথা বলার মানুষ (সমন্বিত হেল্পলাইনের মাধ্যমে)",
     "9 am to 9 pm", "সকাল ৯টা থেকে রাত ৯টা", "1800-313-444-222", False),
]  # fmt: skip


ROLES_OLD = (
    "state_admin", "district_admin", "control_room", "hospital_staff", "viewer", "cho", "doctor",
)  # fmt: skip
ROLES_NEW = (*ROLES_OLD, "counsellor")


@contextmanager
def _foreign_keys_off():
    """SQLite rebuilds staff_user to change its CHECK; with foreign keys on, dropping the old
    table would cascade-delete every login token. The pragma only works outside a transaction.
    """
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("COMMIT")
        op.execute("PRAGMA foreign_keys=OFF")
        op.execute("BEGIN IMMEDIATE")
    yield
    if sqlite:
        op.execute("COMMIT")
        op.execute("PRAGMA foreign_keys=ON")
        op.execute("BEGIN IMMEDIATE")


def _roles(roles: tuple[str, ...]) -> None:
    with _foreign_keys_off(), op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_staff_user_role"), type_="check")
        batch_op.create_check_constraint(
            "role", sa.text(f"role IN ({', '.join(repr(r) for r in roles)})")
        )


def upgrade() -> None:
    # A new staff role: the helpline's counsellors.
    _roles(ROLES_NEW)
    op.create_table(
        "helpline_number",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("name_bn", sa.String(length=120), nullable=False),
        sa.Column("purpose_en", sa.String(length=300), nullable=False),
        sa.Column("purpose_bn", sa.String(length=300), nullable=False),
        sa.Column("hours_en", sa.String(length=80), nullable=False),
        sa.Column("hours_bn", sa.String(length=80), nullable=False),
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("in_footer", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_helpline_number")),
        sa.UniqueConstraint("code", name=op.f("uq_helpline_number_code")),
    )
    op.create_table(
        "answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=60), nullable=False),
        sa.Column("topic", sa.String(length=30), nullable=False),
        sa.Column("question_bn", sa.String(length=300), nullable=False),
        sa.Column("question_en", sa.String(length=300), nullable=False),
        sa.Column("body_bn", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("aliases", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("search_title", sa.Text(), nullable=False),
        sa.Column("search_body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_answer_version")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer")),
        sa.UniqueConstraint("slug", name=op.f("uq_answer_slug")),
    )
    op.create_index("ix_answer_topic", "answer", ["topic"])
    op.create_table(
        "answer_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=120), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["answer.id"],
            name=op.f("fk_answer_revision_answer_id_answer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["staff_user.id"], name=op.f("fk_answer_revision_actor_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer_revision")),
        sa.UniqueConstraint(
            "answer_id", "version", name=op.f("uq_answer_revision_answer_id_version")
        ),
    )
    op.create_table(
        "callback_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("topic", sa.String(length=30), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("taken_by", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_call_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.CheckConstraint(
            "status IN ('waiting', 'taken', 'answered', 'closed')",
            name=op.f("ck_callback_request_status"),
        ),
        sa.CheckConstraint(
            "(status = 'taken') = (taken_by IS NOT NULL)",
            name=op.f("ck_callback_request_taken_by"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_callback_request_attempts")),
        sa.ForeignKeyConstraint(
            ["taken_by"], ["staff_user.id"], name=op.f("fk_callback_request_taken_by_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_request")),
    )
    op.create_index("ix_callback_request_phone", "callback_request", ["phone"])
    op.create_index(
        "ix_callback_request_queue", "callback_request", ["status", "priority", "due_at", "id"]
    )

    op.create_table(
        "counsellor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("name_bn", sa.String(length=120), nullable=False),
        sa.Column("languages", sa.String(length=20), nullable=False),
        sa.Column("day_start", sa.Integer(), nullable=False),
        sa.Column("day_end", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("day_start < day_end", name=op.f("ck_counsellor_hours")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_user.id"], name=op.f("fk_counsellor_user_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counsellor")),
        sa.UniqueConstraint("user_id", name=op.f("uq_counsellor_user_id")),
    )
    op.create_table(
        "counselling_booking",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counsellor_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminder_id", sa.Integer(), nullable=True),
        sa.Column("crisis", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "status IN ('booked', 'cancelled', 'done', 'missed')",
            name=op.f("ck_counselling_booking_status"),
        ),
        sa.ForeignKeyConstraint(
            ["counsellor_id"],
            ["counsellor.id"],
            name=op.f("fk_counselling_booking_counsellor_id_counsellor"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counselling_booking")),
    )
    op.create_index("ix_counselling_booking_phone", "counselling_booking", ["phone"])
    op.create_index(
        "uq_counselling_booking_slot",
        "counselling_booking",
        ["counsellor_id", "starts_at"],
        unique=True,
        sqlite_where=sa.text("status <> 'cancelled'"),
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    op.create_table(
        "counselling_note",
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["counselling_booking.id"],
            name=op.f("fk_counselling_note_booking_id_counselling_booking"),
        ),
        sa.PrimaryKeyConstraint("booking_id", name=op.f("pk_counselling_note")),
    )

    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE answer_fts USING fts5(search_title, search_body, "
            "content='answer', content_rowid='id', tokenize='unicode61')"
        )
        op.execute(
            "CREATE TRIGGER answer_fts_insert AFTER INSERT ON answer BEGIN "
            "INSERT INTO answer_fts(rowid, search_title, search_body) "
            "VALUES (new.id, new.search_title, new.search_body); END"
        )
        op.execute(
            "CREATE TRIGGER answer_fts_delete AFTER DELETE ON answer BEGIN "
            "INSERT INTO answer_fts(answer_fts, rowid, search_title, search_body) "
            "VALUES ('delete', old.id, old.search_title, old.search_body); END"
        )
        op.execute(
            "CREATE TRIGGER answer_fts_update AFTER UPDATE ON answer BEGIN "
            "INSERT INTO answer_fts(answer_fts, rowid, search_title, search_body) "
            "VALUES ('delete', old.id, old.search_title, old.search_body); "
            "INSERT INTO answer_fts(rowid, search_title, search_body) "
            "VALUES (new.id, new.search_title, new.search_body); END"
        )
    else:
        # Stored, not an expression index: ranking reads the vector of every matching row, and
        # computing it per row per query cost ~80 ms at 1,000 answers (bench/answers.py).
        op.execute(
            "ALTER TABLE answer ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS ({PG_DOCUMENT}) STORED"
        )
        op.execute("CREATE INDEX ix_answer_search ON answer USING gin (search_vector)")

    numbers = sa.table(
        "helpline_number",
        *(
            sa.column(name)
            for name in (
                "code", "name_en", "name_bn", "purpose_en", "purpose_bn", "hours_en",
                "hours_bn", "number", "in_footer", "position", "updated_at",
            )
        ),
    )  # fmt: skip
    now = datetime.now(UTC)
    op.bulk_insert(
        numbers,
        [
            dict(
                zip(
                    ("code", "name_en", "name_bn", "purpose_en", "purpose_bn", "hours_en",
                     "hours_bn", "number", "in_footer"),
                    row,
                    strict=True,
                ),
                position=i,
                updated_at=now,
            )
            for i, row in enumerate(NUMBERS)
        ],
    )  # fmt: skip


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("answer_fts_insert", "answer_fts_delete", "answer_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS answer_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_answer_search")
        op.execute("ALTER TABLE answer DROP COLUMN IF EXISTS search_vector")
    _roles(ROLES_OLD)
    op.drop_table("counselling_note")
    op.drop_index("uq_counselling_booking_slot", table_name="counselling_booking")
    op.drop_index("ix_counselling_booking_phone", table_name="counselling_booking")
    op.drop_table("counselling_booking")
    op.drop_table("counsellor")
    op.drop_index("ix_callback_request_queue", table_name="callback_request")
    op.drop_index("ix_callback_request_phone", table_name="callback_request")
    op.drop_table("callback_request")
    op.drop_table("answer_revision")
    op.drop_index("ix_answer_topic", table_name="answer")
    op.drop_table("answer")
    op.drop_table("helpline_number")
