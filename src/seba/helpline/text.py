"""Search text: how people type Bengali, English and Banglish, folded to one set of words.

The full-text search of both databases works on what this module makes of a text, never on
the text itself, so an answer and a question meet whatever keyboard typed them:

1. Unicode: NFKC (so ``য়`` typed as one code point or as ``য`` + nukta, and ``ো`` typed as
   ``ে`` + ``া``, are the same), zero-width joiners and non-joiners, soft hyphens and the
   like removed, case folded, Bengali digits as ASCII digits.
2. Bengali is written out in Latin letters the way people type Banglish (``কোথায় পাবো`` →
   ``kothay pabo``): a consonant's inherent vowel is an ``o`` except at the end of a word,
   ``ড়`` is ``r``, ``য়`` is ``y``. So a Bengali question, its Banglish spelling and an
   English loanword (``বেড``, "bed") land on the same token.
3. Both scripts then pass the same spelling folds, since people disagree about them: long and
   short vowels (``ি``/``ী``, ``ু``/``ূ``: one letter each), the three sibilants (``শ ষ স``),
   ``ণ``/``ন``, ``জ``/``য``, the aspirated consonants (``থ`` is ``t``, ``kh`` is ``k``), a
   conjunct typed with or without its hasanta, doubled letters, ``v``/``b``, ``ph``/``f``,
   ``y``/``i``, ``z``/``j``, ``ee``/``i``, ``oo``/``u``.
4. Words that carry no meaning (``ki``, ``amar``, "what", "the") are dropped, and a few
   endings (Bengali ``-er``, ``-e``, ``-te``, ``-ke``, ``-gulo``; English ``-s``, ``-ing``,
   ``-ed``) cut from longer words, so "হাসপাতালে" finds "হাসপাতাল".

The result is plain ASCII words separated by spaces: SQLite's FTS5 ``unicode61`` tokenizer and
PostgreSQL's ``simple`` configuration split it identically, so ranking on the two engines sees
the same tokens.
"""

from __future__ import annotations

import re
import unicodedata

# Code points people's keyboards leave in text that change nothing they see.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_DIGITS = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")

HASANTA = "\u09cd"
NUKTA = "\u09bc"
# Consonants (after NFKC a nukta follows ড, ঢ, য as its own code point).
_CONSONANTS = {
    "ক": "k", "খ": "kh", "গ": "g", "ঘ": "gh", "ঙ": "ng",
    "চ": "ch", "ছ": "ch", "জ": "j", "ঝ": "jh", "ঞ": "n",
    "ট": "t", "ঠ": "th", "ড": "d", "ঢ": "dh", "ণ": "n",
    "ত": "t", "থ": "th", "দ": "d", "ধ": "dh", "ন": "n",
    "প": "p", "ফ": "ph", "ব": "b", "ভ": "bh", "ম": "m",
    "য": "j", "র": "r", "ল": "l", "শ": "s", "ষ": "s",
    "স": "s", "হ": "h", "ৎ": "t",
}  # fmt: skip
_WITH_NUKTA = {"ড": "r", "ঢ": "rh", "য": "y"}
_VOWEL_SIGNS = {
    "া": "a", "ি": "i", "ী": "i", "ু": "u", "ূ": "u", "ৃ": "ri",
    "ে": "e", "ৈ": "oi", "ো": "o", "ৌ": "ou", "ৗ": "ou",
}  # fmt: skip
_VOWELS = {
    "অ": "o", "আ": "a", "ই": "i", "ঈ": "i", "উ": "u", "ঊ": "u", "ঋ": "ri",
    "এ": "e", "ঐ": "oi", "ও": "o", "ঔ": "ou",
}  # fmt: skip
# Marks that change how a word sounds, not which word it is: chandrabindu, visarga; the
# anusvara is written as people type it in Latin letters.
_SIGNS = {"ঁ": "", "ঃ": "", "ং": "ng"}

# Spelling folds on Latin letters, in order (both scripts pass them).
_FOLDS = (
    (re.compile(r"ph"), "f"),
    # English spellings first: "vaccine" sounds "vaksin", "centre" "sentre".
    (re.compile(r"cc"), "ks"),
    (re.compile(r"c([eiy])"), r"s\1"),
    (re.compile(r"([kgcjtdbr])h"), r"\1"),
    (re.compile(r"sh"), "s"),
    (re.compile(r"ch"), "c"),
    (re.compile(r"v"), "b"),
    (re.compile(r"([sdtkj])w"), r"\1"),
    (re.compile(r"w"), "o"),
    (re.compile(r"z"), "j"),
    (re.compile(r"q"), "k"),
    (re.compile(r"x"), "ks"),
    (re.compile(r"ck"), "k"),
    (re.compile(r"ee"), "i"),
    (re.compile(r"oo"), "u"),
    (re.compile(r"y"), "i"),
    (re.compile(r"g([ei])"), r"j\1"),
    (re.compile(r"([a-z])\1+"), r"\1"),
)
_ENDINGS = ("gulo", "guli", "der", "ing", "er", "te", "ke", "ra", "ed", "es", "e", "s")
MIN_STEM = 4
# Words that say nothing about what is asked (after folding): Bengali, Banglish and English.
_STOP_SOURCE = """
ki kno keno kemon kebhabe kobhabe kivabe kibhabe kothai kothay kono koto kokhon
ami amar amake amra amader apni apnar tumi tomar se tar ei oi je ja jodi tahole
ar ebong o ba na nai nei hoy hobe hole kore korbo korte kora korun koren dite pari parbo chai
jonno theke jonyo sathe moddhe diye niye upor kache
what how where when who which why is are am was were be been do does did can could should
would will shall may might i me my we our you your he she it its they their them this that
these those the a an of to in on at for from with by and or not no yes if then so please
get got have has had any some there here about into er e te ke
কী কি কেন কেমন কীভাবে কিভাবে কোথায় কোন কোনো কত কখন আমি আমার আমাকে আমরা আমাদের আপনি আপনার
তুমি তোমার সে তার এই ওই যে যা যদি তাহলে আর এবং ও বা না নেই নাই হয় হবে হলে করে করব করবো
করতে করা করুন করেন দিতে পারি পারব পারবো চাই জন্য থেকে সাথে সঙ্গে মধ্যে দিয়ে নিয়ে উপর কাছে
"""


def _romanise(word: str) -> str:
    """A Bengali word in Latin letters as people type Banglish (other letters as they are).

    The inherent vowel is sounded in a word's first syllable only (``করতে`` is "korte",
    ``কথা`` "kotha", ``হাসপাতাল`` "haspatal"): the common case of Bengali schwa deletion. A
    ``ব`` or ``য`` after a hasanta (``জ্বর``, ``ভ্যাকসিন``) is silent.
    """
    out: list[str] = []
    chars = [c for c in word]
    voiced = False  # a vowel has been sounded in this word
    for i, ch in enumerate(chars):
        nxt = chars[i + 1] if i + 1 < len(chars) else ""
        if ch in _CONSONANTS:
            nukta = nxt == NUKTA
            after = (chars[i + 2] if i + 2 < len(chars) else "") if nukta else nxt
            # ব-phala and য-phala (ভ্যাকসিন "vaksin") change the sound, not the letters typed.
            silent = (
                ch in "বয"
                and not nukta
                and i > 1
                and chars[i - 1] == HASANTA
                and not (ch == "ব" and chars[i - 2] == "ম")  # ম্ব is "mb"
            )
            if not silent:
                out.append(_WITH_NUKTA[ch] if nukta and ch in _WITH_NUKTA else _CONSONANTS[ch])
            if after and (after in _CONSONANTS or after in _VOWELS) and not voiced:
                out.append("o")
                voiced = True
        elif ch == "অ" and nxt == HASANTA:
            continue  # অ্যা is one vowel ("a" as in "ambulance"), written by the া
        elif ch in _VOWEL_SIGNS or ch in _VOWELS:
            out.append(_VOWEL_SIGNS.get(ch) or _VOWELS[ch])
            voiced = True
        elif ch in _SIGNS:
            out.append(_SIGNS[ch])
        elif ch in (HASANTA, NUKTA):
            continue
        else:
            out.append(ch)
            voiced = voiced or ch in "aeiou"
    return "".join(out)


def _fold(word: str) -> str:
    for pattern, replacement in _FOLDS:
        word = pattern.sub(replacement, word)
    return word


def _stem(word: str) -> str:
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
            return word[: -len(ending)]
    return word


def unicode_form(text: str) -> str:
    """Step 1 alone: one Unicode form, no invisible joiners, ASCII digits, folded case."""
    text = unicodedata.normalize("NFKC", text or "").translate(_INVISIBLE)
    return text.translate(_DIGITS).casefold()


_WORD = re.compile(r"[0-9a-z\u0980-\u09ff]+")


def _token(word: str) -> str:
    return _stem(_fold(_romanise(word)))


STOP_WORDS = frozenset(_token(unicode_form(w)) for w in _STOP_SOURCE.split())


def tokens(text: str, *, drop_stop_words: bool = True) -> list[str]:
    """The search words of ``text`` (in order, repeats kept), stop words left out unless
    asked to keep them (a phrase such as "want to die" needs its small words)."""
    found = []
    for word in _WORD.findall(unicode_form(text)):
        token = _token(word)
        if drop_stop_words and token in STOP_WORDS:
            continue
        if token and (len(token) > 1 or token.isdigit()):
            found.append(token)
    return found


def search_text(*parts: str | None) -> str:
    """What is indexed for these parts: their search words joined by spaces."""
    return " ".join(t for part in parts if part for t in tokens(part))
