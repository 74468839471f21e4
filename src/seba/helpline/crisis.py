"""Words that signal a crisis, in Bengali, Banglish and English: a request that holds one is
called back first, and the page shows the emergency numbers at once.

Matched on folded search words (``helpline.text``), so spellings, Unicode forms and the Latin
spelling of a Bengali phrase all match. A phrase matches when its words appear in order, next to
each other. Better a false alarm (a counsellor calls sooner) than a missed one.
"""

from __future__ import annotations

from seba.helpline.text import tokens

_PHRASES = (
    "আত্মহত্যা",
    "আত্মহত্যার",
    "মরে যেতে চাই",
    "মরতে চাই",
    "বাঁচতে ইচ্ছে করে না",
    "বাঁচতে চাই না",
    "নিজের ক্ষতি",
    "atmohotya",
    "marte chai",
    "more jete chai",
    "bachte chai na",
    "suicide",
    "suicidal",
    "kill myself",
    "end my life",
    "self harm",
    "harm myself",
    "want to die",
)
CRISIS_PHRASES: tuple[tuple[str, ...], ...] = tuple(
    phrase for phrase in (tuple(tokens(p, drop_stop_words=False)) for p in _PHRASES) if phrase
)
# Shown at once beside a crisis: the national mental-health line and the emergency number.
EMERGENCY_NUMBERS = (("KIRAN mental health helpline", "1800-599-0019"), ("Emergency number", "112"))


def signals_crisis(text: str) -> bool:
    words = tokens(text or "", drop_stop_words=False)
    for phrase in CRISIS_PHRASES:
        n = len(phrase)
        if any(tuple(words[i : i + n]) == phrase for i in range(len(words) - n + 1)):
            return True
    return False
