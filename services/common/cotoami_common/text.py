"""What counts as text people may write, for every service. No Falcon here."""

import unicodedata

_NOT_IN_TEXT = frozenset({"Cc", "Cs"})  # control characters, lone surrogates
_NOT_IN_ONE_LINE = _NOT_IN_TEXT | {"Zl", "Zp"}  # and line or paragraph separators


def is_clean_text(value: str, one_line: bool) -> bool:
    """No control characters: tab and newlines are allowed in text, not in one line."""
    refused = _NOT_IN_ONE_LINE if one_line else _NOT_IN_TEXT
    allowed = "" if one_line else "\t\n\r"
    return not any(char not in allowed and unicodedata.category(char) in refused for char in value)
