"""Text that PostgreSQL and UTF-8 cannot carry.

Python strings can hold U+0000 and lone UTF-16 surrogates (JSON's "\\ud800" decodes to
one); PostgreSQL text refuses the first, and neither can be encoded as UTF-8, so a
string holding one fails wherever it is stored or sent. Inputs refuse them; writers
that must never fail (logs) replace them.
"""

from __future__ import annotations

import re
from typing import Final

REPLACEMENT: Final = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def unstorable_char(text: str) -> str | None:
    """The first character of `text` that cannot be stored or encoded, if any."""
    found = _UNSTORABLE.search(text)
    return found.group() if found else None


def storable(text: str) -> str:
    """`text` with every NUL and lone surrogate replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def encodable(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (NUL is valid UTF-8)."""
    return _SURROGATE.sub(REPLACEMENT, text)


def unstorable_message(char: str) -> str:
    """Why a value holding `char` is refused, in the words a client can act on."""
    if char == "\x00":
        return "Text values cannot contain the NUL character (\\u0000)."
    return (
        f"Text values cannot contain a lone UTF-16 surrogate (\\u{ord(char):04x}); "
        "send the character as one escaped pair or as UTF-8."
    )
