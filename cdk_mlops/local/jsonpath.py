"""JSONPath as AWS Step Functions evaluates it (Jayway semantics), for the local engine.

AWS documents its JSONPath as the Jayway implementation ("Paths" / "Reference paths" in the Step
Functions developer guide; <https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html>).
Three rules matter for our workflows and differ from moto 5.2.5's vendored interpreter (getmoto/moto
issue 10078):

* an *indefinite* path (a filter ``[?(...)]``, a wildcard ``*``, a deep scan ``..``, a slice or a
  union) always yields a list, and ``[]`` when nothing matches (moto raised ``States.Runtime``);
* a filter accepts ``&&`` and ``||`` (and parentheses, ``!``); moto rejected them;
* a *definite* path (``$.a.b[0]``) yields its value, and a path that does not exist fails the state
  with ``States.Runtime`` (:class:`PathNotFoundError` here), as on AWS.

Plain segments are evaluated by ``jsonpath-ng`` (the library moto uses); filters are evaluated here.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

import jsonpath_ng.ext as jsonpath_ext

__all__ = ["JsonPathSyntaxError", "PathNotFoundError", "find", "is_indefinite"]


class PathNotFoundError(LookupError):
    """A definite path that does not exist in the data (AWS fails the state with ``States.Runtime``)."""

    def __init__(self, path: str, data: Any) -> None:
        super().__init__(f"The JSONPath {path!r} could not be found in the input {json.dumps(data, default=str)}")
        self.path = path
        self.data = data


class JsonPathSyntaxError(ValueError):
    """A filter expression this evaluator cannot parse (the message names the path and the position)."""


#: A filter, wildcard, deep scan, slice or union makes a path indefinite (its value is a list).
_INDEFINITE: Final = re.compile(r"\[\s*\?|\*|\.\.|\[[^\]'\"]*[:,][^\]'\"]*\]")
_ABSENT: Final = object()


def is_indefinite(path: str) -> bool:
    """True if ``path`` can match several values, so that AWS always gives a list for it."""
    return bool(_INDEFINITE.search(_without_quoted(path)))


def find(path: str, data: Any) -> Any:
    """The value of ``path`` in ``data`` as Step Functions computes it.

    An indefinite path gives a list of the matches in document order (``[]`` if none); a definite path
    gives its one value, or raises :class:`PathNotFoundError`.
    """
    if is_indefinite(path):
        return _matches(path, data, root=data)
    values = _matches(path, data, root=data)
    if not values:
        raise PathNotFoundError(path, data)
    return values[0]


# -- path evaluation -----------------------------------------------------------------------------


def _without_quoted(text: str) -> str:
    """``text`` with the contents of quoted strings blanked (so brackets inside quotes do not count)."""
    return re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", lambda match: "'" + " " * (len(match[0]) - 2) + "'", text)


def _split_first_filter(path: str) -> tuple[str, str, str] | None:
    """``(head, filter expression, tail)`` for the first ``[?(...)]`` in ``path``, or None."""
    masked = _without_quoted(path)
    start = re.search(r"\[\s*\?\s*\(", masked)
    if start is None:
        return None
    depth = 0
    for index in range(start.end() - 1, len(masked)):
        if masked[index] == "(":
            depth += 1
        elif masked[index] == ")":
            depth -= 1
            if depth == 0:
                close = masked.find("]", index)
                if close < 0 or masked[index + 1 : close].strip():
                    break
                return path[: start.start()], path[start.end() : index], path[close + 1 :]
    raise JsonPathSyntaxError(f"unbalanced filter in JSONPath {path!r}")


def _plain(path: str, data: Any) -> list[Any]:
    if path.strip() in {"$", "@"}:
        return [data]
    return [match.value for match in jsonpath_ext.parse("$" + path.strip()[1:]).find(data)]


def _matches(path: str, data: Any, *, root: Any) -> list[Any]:
    parts = _split_first_filter(path)
    if parts is None:
        return _plain(path, data)
    head, expression, tail = parts
    condition = _FilterParser(expression, path).parse()
    results: list[Any] = []
    for container in _plain(head or "$", data):
        elements = list(container.values()) if isinstance(container, dict) else container
        if not isinstance(elements, list):
            continue
        for element in elements:
            if condition(element, root):
                results.extend(_matches("$" + tail, element, root=root) if tail.strip() else [element])
    return results


# -- filter expressions --------------------------------------------------------------------------

Condition = Callable[[Any, Any], bool]

_TOKEN: Final = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<regex>/(?:[^/\\]|\\.)*/[a-z]*)
      | (?P<op>&&|\|\||==|!=|<=|>=|=~|<|>|!|\(|\))
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<word>true|false|null)\b
      | (?P<path>[@$](?:\.\.?[A-Za-z0-9_\-:]+|\[[^\]]*\]|\.\*)*)
    )""",
    re.VERBOSE,
)


@dataclasses.dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokens(expression: str, path: str) -> Iterator[_Token]:
    position = 0
    while position < len(expression):
        if not expression[position:].strip():
            return
        match = _TOKEN.match(expression, position)
        if match is None or match.end() == position:
            raise JsonPathSyntaxError(f"cannot parse the filter of JSONPath {path!r} at {expression[position:]!r}")
        kind = match.lastgroup or ""
        yield _Token(kind, match.group(kind), match.start(kind))
        position = match.end()


def _compare(operator: str, left: Any, right: Any) -> bool:
    """Jayway's comparisons: a missing operand or mismatched types compare false (``!=`` true)."""
    if left is _ABSENT or right is _ABSENT:
        return False
    if operator == "=~":
        return isinstance(left, str) and isinstance(right, re.Pattern) and bool(right.fullmatch(left))
    numeric = all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in (left, right))
    if operator == "==":
        return left == right if numeric or type(left) is type(right) else False
    if operator == "!=":
        return not (left == right if numeric or type(left) is type(right) else False)
    if not (numeric or (isinstance(left, str) and isinstance(right, str))):
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[operator]


class _FilterParser:
    """Recursive descent over ``||`` (lowest), ``&&``, ``!``, comparisons and parentheses."""

    def __init__(self, expression: str, path: str) -> None:
        self._path = path
        self._tokens = list(_tokens(expression, path))
        self._index = 0

    def parse(self) -> Condition:
        condition = self._or()
        if self._index != len(self._tokens):
            raise JsonPathSyntaxError(f"unexpected {self._tokens[self._index].text!r} in the filter of {self._path!r}")
        return condition

    def _peek(self) -> _Token | None:
        return self._tokens[self._index] if self._index < len(self._tokens) else None

    def _take(self, text: str | None = None) -> _Token:
        token = self._peek()
        if token is None or (text is not None and token.text != text):
            raise JsonPathSyntaxError(f"expected {text or 'an operand'} in the filter of {self._path!r}")
        self._index += 1
        return token

    def _or(self) -> Condition:
        terms = [self._and()]
        while (token := self._peek()) is not None and token.text == "||":
            self._take()
            terms.append(self._and())
        return terms[0] if len(terms) == 1 else (lambda item, root: any(term(item, root) for term in terms))

    def _and(self) -> Condition:
        factors = [self._not()]
        while (token := self._peek()) is not None and token.text == "&&":
            self._take()
            factors.append(self._not())
        return factors[0] if len(factors) == 1 else (lambda item, root: all(f(item, root) for f in factors))

    def _not(self) -> Condition:
        token = self._peek()
        if token is not None and token.text == "!":
            self._take()
            inner = self._not()
            return lambda item, root: not inner(item, root)
        if token is not None and token.text == "(":
            self._take()
            inner = self._or()
            self._take(")")
            return inner
        return self._comparison()

    def _comparison(self) -> Condition:
        left = self._operand()
        token = self._peek()
        if token is None or token.kind != "op" or token.text in {"&&", "||", "(", ")", "!"}:
            return lambda item, root: left(item, root) is not _ABSENT  # ``[?(@.key)]``: the key exists
        operator = self._take().text
        right = self._operand()
        return lambda item, root: _compare(operator, left(item, root), right(item, root))

    def _operand(self) -> Callable[[Any, Any], Any]:
        token = self._take()
        if token.kind == "string":
            value: Any = json.loads('"' + token.text[1:-1].replace('"', '\\"').replace("\\'", "'") + '"')
            return lambda item, root: value
        if token.kind == "number":
            number = float(token.text) if re.search(r"[.eE]", token.text) else int(token.text)
            return lambda item, root: number
        if token.kind == "word":
            constant = {"true": True, "false": False, "null": None}[token.text]
            return lambda item, root: constant
        if token.kind == "regex":
            body, _, flags = token.text[1:].rpartition("/")
            pattern = re.compile(body, re.IGNORECASE if "i" in flags else 0)
            return lambda item, root: pattern
        if token.kind == "path":
            text = token.text

            def resolve(item: Any, root: Any) -> Any:
                values = _plain("$" + text[1:], item if text.startswith("@") else root)
                return values[0] if values else _ABSENT

            return resolve
        raise JsonPathSyntaxError(f"unexpected {token.text!r} in the filter of {self._path!r}")
