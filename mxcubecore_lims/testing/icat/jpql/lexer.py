"""The lexer of the JPQL engine: a query string -> its tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import QueryError

__all__ = ["KEYWORDS", "Token", "tokenize"]

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
    | (?P<ts>\{\s*ts\s+(?P<tsval>[^}]*)\})
    | (?P<string>'(?:[^']|'')*')
    | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
    | (?P<param>:[A-Za-z_][A-Za-z0-9_]*)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<op><>|!=|<=|>=|=|<|>)
    | (?P<punct>[(),\-])
    """,
    re.VERBOSE,
)

#: Words that end an optional alias (never taken as one).
KEYWORDS = frozenset(
    """SELECT DISTINCT FROM WHERE JOIN LEFT INNER OUTER FETCH AS ORDER BY ASC DESC
    INCLUDE LIMIT AND OR NOT LIKE IN IS NULL BETWEEN TRUE FALSE ESCAPE""".split()
)


@dataclass(frozen=True)
class Token:
    """One lexical token; ``pos`` is its character offset in the query."""

    kind: str  # name | string | number | ts | param | op | punct | end
    text: str
    pos: int
    value: Any = None

    def is_kw(self, *words: str) -> bool:
        """Whether this is one of the keywords ``words`` (any case)."""
        return self.kind == "name" and self.text.upper() in words


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token.

    Args:
        text: The query.

    Returns:
        Every token but whitespace, in order.

    Raises:
        QueryError: A character starts no token, or a literal is malformed.
    """
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            if text[pos] == "'":
                raise QueryError(f"Unterminated string literal at offset {pos}")
            raise QueryError(f"Unexpected character {text[pos]!r} at offset {pos}")
        kind = match.lastgroup
        if kind is None:  # unreachable: every alternative of _TOKEN_RE is a named group
            raise AssertionError(f"no token kind at offset {pos}")
        if kind == "tsval":  # lastgroup names the innermost group that matched
            kind = "ts"
        if kind != "ws":
            tokens.append(_make_token(kind, match, pos))
        pos = match.end()
    tokens.append(Token("end", "<end of query>", len(text)))
    return tokens


def _make_token(kind: str, match: re.Match[str], pos: int) -> Token:
    raw = match.group(0)
    if kind == "string":
        return Token(kind, raw, pos, raw[1:-1].replace("''", "'"))
    if kind == "number":
        is_int = raw.isdigit()
        return Token(kind, raw, pos, int(raw) if is_int else float(raw))
    if kind == "ts":
        return Token(kind, raw, pos, _parse_timestamp(match.group("tsval"), pos))
    return Token(kind, raw, pos)


def _parse_timestamp(text: str, pos: int) -> datetime:
    # ICAT timestamps carry no zone: they are local time of the server.
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise QueryError(f"Invalid timestamp literal {text.strip()!r} at offset {pos}") from None
    return value if value.tzinfo else value.astimezone()
