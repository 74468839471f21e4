"""Answer search on the database's own full-text index.

The question is folded into search words exactly as the answers were (``helpline.text``), so
"কোথায় পাবো অক্সিজেন", "কোথায় পাব অক্সিজেন" typed with a ZWNJ, and "oxygen kothay pabo" ask
the index the same thing. Any word may match (people type whole sentences; an AND of every word
finds nothing), each as a prefix from four letters on (Bengali inflects: "হাসপাতালে"); the
index ranks:

- SQLite: FTS5 ``bm25`` with the question and its aliases weighing ``TITLE_WEIGHT`` times the
  answer's text (lower is better).
- PostgreSQL: first how many of the question's words an answer has, then ``ts_rank`` over the
  generated column ``search_vector`` (``setweight(question, 'A') || setweight(answer, 'D')``,
  GIN-indexed; higher is better). ``ts_rank`` has no inverse document frequency, so the
  folding drops the words every question shares (``text.STOP_WORDS``).

Ties go to the lower id (the seeded order puts the general answer before the special one).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from seba.helpline import text as search_text

MAX_WORDS = 12
PREFIX_FROM = 4
TITLE_WEIGHT = 4.0
# The stored, GIN-indexed ``tsvector`` the migration generates from the search words.
PG_DOCUMENT = "search_vector"

# ts_rank divides by 1 + log(document length): a long answer mentioning a word in passing
# ranks below a short one about it (measured on the held-out queries: 40/45 first, against 39
# without).
PG_NORMALISATION = 1
_SQLITE = text(
    "SELECT a.id FROM answer_fts JOIN answer a ON a.id = answer_fts.rowid "
    "WHERE answer_fts MATCH :match "
    f"ORDER BY bm25(answer_fts, {TITLE_WEIGHT}, 1.0), a.id LIMIT :limit"
)


def _postgres_query(words: list[str]) -> tuple[str, dict[str, object]]:
    """Rank first by how many of the question's words an answer has (``ts_rank`` alone, having
    no inverse document frequency, lets an answer that repeats one common word beat the one
    that has both), then by ``ts_rank``."""
    params: dict[str, object] = {"match": " | ".join(_pg_word(w) for w in words)}
    matched = []
    for i, word in enumerate(words):
        params[f"w{i}"] = _pg_word(word)
        matched.append(f"(CASE WHEN doc @@ to_tsquery('simple', :w{i}) THEN 1 ELSE 0 END)")
    sql = (
        f"SELECT id FROM (SELECT id, doc, q FROM (SELECT id, {PG_DOCUMENT} AS doc FROM answer) "
        "AS a, to_tsquery('simple', :match) AS q WHERE doc @@ q) AS found "
        f"ORDER BY {' + '.join(matched)} DESC, ts_rank(doc, q, {PG_NORMALISATION}) DESC, id "
        "LIMIT :limit"
    )
    return sql, params


def query_words(query: str) -> list[str]:
    """The distinct search words of a question, at most ``MAX_WORDS``."""
    seen: dict[str, None] = {}
    for word in search_text.tokens(query):
        seen.setdefault(word, None)
    return list(seen)[:MAX_WORDS]


def _sqlite_match(words: list[str]) -> str:
    # Words are [0-9a-z] only (``text.tokens``): quoting cannot be broken out of.
    return " OR ".join(f'"{w}"*' if len(w) >= PREFIX_FROM else f'"{w}"' for w in words)


def _pg_word(word: str) -> str:
    return f"{word}:*" if len(word) >= PREFIX_FROM else word


async def find(session: AsyncSession, query: str, *, limit: int = 10) -> list[int]:
    """Ids of the answers that best match ``query``, best first (empty for no search words)."""
    words = query_words(query)
    if not words:
        return []
    if session.bind.dialect.name == "postgresql":
        sql, params = _postgres_query(words)
        rows = await session.execute(text(sql), {**params, "limit": limit})
    else:
        rows = await session.execute(_SQLITE, {"match": _sqlite_match(words), "limit": limit})
    return [row.id for row in rows]
