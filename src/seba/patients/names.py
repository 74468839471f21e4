"""Patient names: a search key, and a rough likeness test for spotting duplicate registrations.

The same person is often registered twice under one family phone, once as "Reena Das" and once
as "রিনা দাস" (or "Rina Dass"). ``sound_key`` reduces a name, in Bengali or Latin script, to a
consonant skeleton: vowels, ``h`` and ``y``/য় dropped, aspirated pairs merged (খ/ক, "kh"/"k"),
sibilants merged (শ/ষ/স, "sh"/"s"), ``f``→``p`` and ``v``→``b`` as Bengali writes them,
doubled letters collapsed. Both spellings above become ``rn ds``. It is a hint for a warning
that a person confirms, never an identity decision.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

# Bengali consonants → skeleton letters. Vowels, vowel signs, virama, chandrabindu, visarga
# and হ are absent: they are dropped (as Latin vowels and "h" are).
_BENGALI = {
    "ক": "k", "খ": "k", "গ": "g", "ঘ": "g", "ঙ": "ng",
    "চ": "c", "ছ": "c", "জ": "j", "ঝ": "j", "ঞ": "n",
    "ট": "t", "ঠ": "t", "ড": "d", "ঢ": "d", "ণ": "n",
    "ত": "t", "থ": "t", "দ": "d", "ধ": "d", "ন": "n",
    "প": "p", "ফ": "p", "ব": "b", "ভ": "b", "ম": "m",
    "য": "j", "র": "r", "ল": "l", "শ": "s", "ষ": "s", "স": "s",
    "ৎ": "t", "ং": "ng", "ড়": "r", "ঢ়": "r", "ৰ": "r", "ৱ": "b",
}  # fmt: skip
_VIRAMA = "\u09cd"
_NUKTA = "\u09bc"
# After a virama, ব and য are the ba-phala and ya-phala: they double or glide the consonant
# before them (বিশ্বাস "Biswas", জ্যোতি "Jyoti") and Latin spellings show them as w/y or not at all.
_PHALA = {"ব", "য"}

# Latin, longest first: aspirates and digraphs fold into the plain consonant.
_LATIN_DIGRAPHS = (
    ("chh", "c"), ("ch", "c"), ("sh", "s"), ("kh", "k"), ("gh", "g"), ("jh", "j"),
    ("th", "t"), ("dh", "d"), ("ph", "p"), ("bh", "b"),
)  # fmt: skip
_LATIN = {
    "b": "b", "c": "k", "d": "d", "f": "p", "g": "g", "j": "j", "k": "k", "l": "l",
    "m": "m", "n": "n", "p": "p", "q": "k", "r": "r", "s": "s", "t": "t", "v": "b",
    "x": "ks", "z": "j",
}  # fmt: skip
# Honorifics and the like that one registration has and the other may not.
_IGNORED_WORDS = frozenset({"md", "mohd", "sk", "smt", "sri", "shri", "mr", "mrs", "ms", "dr"})

_SPACES = re.compile(r"\s+")


def clean_name(name: str) -> str:
    """The name as it is stored: NFC, single spaces, no ends of whitespace."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", name)).strip()


def name_key(name: str) -> str:
    """Case-folded cleaned name: what searches compare, identically on SQLite and PostgreSQL.

    (SQLite's ``lower()`` folds ASCII only, so the key is computed here and stored.)
    """
    return clean_name(name).casefold()


def _bengali_word(word: str) -> str:
    out: list[str] = []
    chars = unicodedata.normalize("NFD", word)
    after_virama = False
    for i, ch in enumerate(chars):
        nukta = i + 1 < len(chars) and chars[i + 1] == _NUKTA
        if ch == _VIRAMA:
            after_virama = True
            continue
        if nukta and ch in "ডঢ":
            out.append("r")
        elif nukta and ch == "য":
            pass  # য় is a glide, like Latin "y"
        elif after_virama and ch in _PHALA:
            pass
        else:
            out.append(_BENGALI.get(ch, ""))
        after_virama = False
    return "".join(out)


def _latin_word(word: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(word):
        for digraph, sound in _LATIN_DIGRAPHS:
            if word.startswith(digraph, i):
                out.append(sound)
                i += len(digraph)
                break
        else:
            out.append(_LATIN.get(word[i], ""))
            i += 1
    return "".join(out)


def _collapse(skeleton: str) -> str:
    return re.sub(r"(.)\1+", r"\1", skeleton)


def sound_key(name: str) -> list[str]:
    """One consonant skeleton per word of the name (words that reduce to nothing are left out)."""
    words = re.split(r"[\s.,'\-]+", name_key(name))
    keys = []
    for word in words:
        if not word or word in _IGNORED_WORDS:
            continue
        bengali = any("\u0980" <= ch <= "\u09ff" for ch in word)
        skeleton = _collapse(_bengali_word(word) if bengali else _latin_word(word))
        if skeleton:
            keys.append(skeleton)
    return keys


def names_alike(a: str, b: str) -> bool:
    """Could these two names be the same person's? (Used only with the same phone and sex.)

    Alike when the case-folded names are equal; when one name's word skeletons are all among
    the other's ("Rina" / "Rina Das", "Das Rina" / "রিনা দাস"); or when the spellings differ by a
    typo or two in the same script (similarity ratio at least 0.9). "Rina Das" and "Mina Das"
    (twin sisters under one phone) are not alike.
    """
    key_a, key_b = name_key(a), name_key(b)
    if key_a == key_b:
        return True
    sound_a, sound_b = set(sound_key(a)), set(sound_key(b))
    if sound_a and sound_b and (sound_a <= sound_b or sound_b <= sound_a):
        return True
    return SequenceMatcher(None, key_a, key_b).ratio() >= 0.9
