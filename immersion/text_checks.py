"""One check for text that someone types and others read: names, notes, titles, the words of
an actor's consent.

Control and format characters (bidi overrides, zero-width), private-use, unassigned and
lone-surrogate code points, and line or paragraph separators can make a text read as something
else on another person's screen: a note whose end shows first, a name with a hidden part.
Each caller keeps its own bounds and its own one-line error.
"""

from __future__ import annotations

import unicodedata

# Unicode general categories refused: Cc control, Cf format, Cs surrogate, Co private use,
# Cn unassigned, Zl line separator, Zp paragraph separator.
INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def hidden(text: str, allowed: str = "") -> bool:
    """True when ``text`` holds a control or invisible character other than those in
    ``allowed`` (a paragraph allows "\\n")."""
    return any(c not in allowed and unicodedata.category(c) in INVISIBLE for c in text)
