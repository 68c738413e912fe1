"""The parser of the JPQL engine: tokens -> a :class:`~.syntax.QueryAst`."""

from __future__ import annotations

from typing import Any, NoReturn

from .errors import QueryError
from .lexer import KEYWORDS, Token, tokenize
from .syntax import (
    Between,
    BoolOp,
    Compare,
    Func,
    IncludeClause,
    InList,
    IsNull,
    JoinClause,
    Like,
    Literal,
    NotOp,
    Param,
    PathExpr,
    QueryAst,
    SelectItem,
)

__all__ = ["parse"]

_AGGREGATES = frozenset({"COUNT", "MIN", "MAX", "AVG", "SUM"})
_FUNCTIONS = frozenset({"UPPER", "LOWER", "LENGTH", "TRIM", "ABS"})


class _Parser:
    """Recursive-descent parser over the token list."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    # -- token helpers ----------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept_kw(self, *words: str) -> bool:
        if self.tok.is_kw(*words):
            self.index += 1
            return True
        return False

    def expect_kw(self, word: str) -> Token:
        if not self.tok.is_kw(word):
            self.fail(f"Expected {word}")
        return self.advance()

    def accept_punct(self, text: str) -> bool:
        if self.tok.kind == "punct" and self.tok.text == text:
            self.index += 1
            return True
        return False

    def expect_punct(self, text: str) -> None:
        if not self.accept_punct(text):
            self.fail(f"Expected '{text}'")

    def fail(self, what: str) -> NoReturn:
        token = self.tok
        raise QueryError(f"{what} but found '{token.text}' at offset {token.pos}")

    def name(self, what: str) -> Token:
        if self.tok.kind != "name" or self.tok.is_kw(*KEYWORDS):
            self.fail(f"Expected {what}")
        return self.advance()

    def simple_name(self, what: str) -> Token:
        token = self.name(what)
        if "." in token.text:
            raise QueryError(f"Expected {what} but found '{token.text}' at offset {token.pos}")
        return token

    def optional_alias(self) -> Token | None:
        self.accept_kw("AS")
        token = self.tok
        if token.kind == "name" and "." not in token.text and not token.is_kw(*KEYWORDS):
            return self.advance()
        return None

    # -- clauses ----------------------------------------------------------

    def parse(self) -> QueryAst:
        if self.tok.is_kw("SELECT"):
            ast = self.parse_select_from()
        else:
            ast = self.parse_short_from()
        self.parse_joins(ast)
        if self.accept_kw("WHERE"):
            ast.where = self.parse_or()
        if self.accept_kw("ORDER"):
            self.expect_kw("BY")
            ast.order = self.parse_order()
        self.parse_tail(ast)
        if self.tok.kind != "end":
            self.fail("Expected end of query")
        return ast

    def parse_select_from(self) -> QueryAst:
        self.advance()  # SELECT
        distinct = self.accept_kw("DISTINCT")
        items = [self.parse_select_item()]
        while self.accept_punct(","):
            items.append(self.parse_select_item())
        self.expect_kw("FROM")
        entity = self.simple_name("an entity name")
        alias = self.optional_alias()
        ast = QueryAst(entity.text, entity.pos, alias.text if alias else entity.text)
        ast.select, ast.distinct = items, distinct
        return ast

    def parse_select_item(self) -> SelectItem:
        token = self.tok
        if token.is_kw(*_AGGREGATES) and self.tokens[self.index + 1].text == "(":
            self.index += 2
            distinct = self.accept_kw("DISTINCT")
            path = self.parse_paren_path()
            self.expect_punct(")")
            return SelectItem(path, token.text.upper(), distinct)
        return SelectItem(self.parse_paren_path())

    def parse_paren_path(self) -> PathExpr:
        # python-icat renders DISTINCT(o.name) and COUNT(DISTINCT(o)).
        if self.accept_punct("("):
            path = self.parse_paren_path()
            self.expect_punct(")")
            return path
        token = self.name("a path")
        return PathExpr(token.text, token.pos)

    def parse_short_from(self) -> QueryAst:
        entity = self.simple_name("SELECT or an entity name")
        alias = self.optional_alias()
        # Without an alias, ICAT lets paths start with the entity name.
        return QueryAst(entity.text, entity.pos, alias.text if alias else entity.text)

    def parse_joins(self, ast: QueryAst) -> None:
        while True:
            left = False
            if self.accept_kw("LEFT"):
                left = True
                self.accept_kw("OUTER")
                self.expect_kw("JOIN")
            elif self.accept_kw("INNER"):
                self.expect_kw("JOIN")
            elif not self.accept_kw("JOIN"):
                return
            token = self.name("a join path")
            alias = self.optional_alias()
            if alias is None:
                self.fail("Expected an alias after the join path")
            ast.joins.append(JoinClause(PathExpr(token.text, token.pos), alias.text, alias.pos, left))

    def parse_order(self) -> list[tuple[Any, bool]]:
        items = []
        while True:
            expr = self.parse_operand()
            descending = False
            if self.accept_kw("DESC"):
                descending = True
            else:
                self.accept_kw("ASC")
            items.append((expr, descending))
            if not self.accept_punct(","):
                return items

    def parse_tail(self, ast: QueryAst) -> None:
        # python-icat renders INCLUDE before LIMIT; accept both orders.
        seen: set[str] = set()
        while self.tok.is_kw("INCLUDE", "LIMIT"):
            word = self.advance().text.upper()
            if word in seen:
                raise QueryError(f"Duplicate {word} clause at offset {self.tokens[self.index - 1].pos}")
            seen.add(word)
            if word == "INCLUDE":
                self.parse_include(ast)
            else:
                ast.limit = self.parse_limit()

    def parse_include(self, ast: QueryAst) -> None:
        if self.tok.kind == "number":
            if self.tok.value != 1:
                self.fail("Expected INCLUDE 1")
            self.advance()
            ast.include_one = True
            return
        while True:
            token = self.name("an include path")
            alias = self.optional_alias()
            ast.includes.append(IncludeClause(PathExpr(token.text, token.pos), alias.text if alias else None))
            if not self.accept_punct(","):
                return

    def parse_limit(self) -> tuple[int, int]:
        first = self.integer()
        if self.accept_punct(","):
            return first, self.integer()
        return 0, first

    def integer(self) -> int:
        if self.tok.kind != "number" or not isinstance(self.tok.value, int):
            self.fail("Expected a non-negative integer")
        value: int = self.advance().value
        return value

    # -- conditions -------------------------------------------------------

    def parse_or(self) -> Any:
        items = [self.parse_and()]
        while self.accept_kw("OR"):
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def parse_and(self) -> Any:
        items = [self.parse_not()]
        while self.accept_kw("AND"):
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def parse_not(self) -> Any:
        if self.accept_kw("NOT"):
            return NotOp(self.parse_not())
        return self.parse_predicate()

    def parse_predicate(self) -> Any:
        if self.tok.text == "(" and self._paren_holds_condition():
            self.advance()
            inner = self.parse_or()
            self.expect_punct(")")
            return inner
        left = self.parse_operand()
        if self.tok.kind == "op":
            op = self.advance().text
            return Compare("<>" if op == "!=" else op, left, self.parse_operand())
        if self.accept_kw("IS"):
            negate = self.accept_kw("NOT")
            self.expect_kw("NULL")
            return IsNull(left, negate)
        negate = self.accept_kw("NOT")
        if self.accept_kw("LIKE"):
            return Like(left, self.parse_operand(), negate)
        if self.accept_kw("IN"):
            return InList(left, self.parse_in_values(), negate)
        if self.accept_kw("BETWEEN"):
            low = self.parse_operand()
            self.expect_kw("AND")
            return Between(left, low, self.parse_operand(), negate)
        self.fail("Expected a comparison operator, LIKE, IN, IS or BETWEEN")

    def _paren_holds_condition(self) -> bool:
        # "(" opens a condition unless it wraps a bare operand, e.g. "(o.a) = 1".
        depth = 0
        for token in self.tokens[self.index :]:
            if token.text == "(":
                depth += 1
            elif token.text == ")":
                depth -= 1
                if depth == 0:
                    return False
            elif depth == 1 and (token.kind == "op" or token.is_kw("AND", "OR", "NOT", "LIKE", "IN", "IS", "BETWEEN")):
                return True
            elif token.kind == "end":
                return True
        return True

    def parse_in_values(self) -> tuple[Any, ...]:
        self.expect_punct("(")
        values = [self.parse_operand()]
        while self.accept_punct(","):
            values.append(self.parse_operand())
        self.expect_punct(")")
        return tuple(values)

    def parse_operand(self) -> Any:
        token = self.tok
        if token.kind == "string":
            self.advance()
            return Literal(token.value, "String")
        if token.kind == "number":
            self.advance()
            return Literal(token.value, "Long" if isinstance(token.value, int) else "Double")
        if token.kind == "punct" and token.text == "-":
            self.advance()
            if self.tok.kind != "number":
                self.fail("Expected a number after '-'")
            number = self.advance()
            return Literal(-number.value, "Long" if isinstance(number.value, int) else "Double")
        if token.kind == "ts":
            self.advance()
            return Literal(token.value, "Date")
        if token.kind == "param":
            self.advance()
            return Param(token.text[1:], token.pos)
        if token.is_kw("TRUE", "FALSE"):
            self.advance()
            return Literal(token.text.upper() == "TRUE", "Boolean")
        if token.is_kw("NULL"):
            self.advance()
            return Literal(None, "Null")
        if token.is_kw(*_FUNCTIONS) and self.tokens[self.index + 1].text == "(":
            self.index += 2
            arg = self.parse_operand()
            self.expect_punct(")")
            return Func(token.text.upper(), arg, token.pos)
        if self.accept_punct("("):
            inner = self.parse_operand()
            self.expect_punct(")")
            return inner
        name = self.name("a value")
        return PathExpr(name.text, name.pos)


def parse(text: str) -> QueryAst:
    """Parse one query.

    Args:
        text: The query, as python-icat renders it (or an ICAT short form).

    Returns:
        Its syntax tree, aliases not yet resolved.

    Raises:
        QueryError: The query is empty or malformed.
    """
    if not isinstance(text, str) or not text.strip():
        raise QueryError("Empty query")
    return _Parser(text).parse()
