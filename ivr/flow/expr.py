"""A small, safe expression language for `set`, `branch`, http bodies and subflow params.

Python-like syntax parsed with `ast` and evaluated by walking a whitelist of node types: no
attribute access, no subscripts, no imports, no eval. Values are str, int, float, bool or None.

    balance >= 1000 and language == 'en'
    tries + 1
    'vip' if tier in ['gold', 'platinum'] else 'normal'
    len(account) == 8

`true`, `false` and `null` are accepted as well as Python's spellings. Templates (`${name}`) are
for text: prompt ids, URLs, language codes; `render` fills them.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

Value = str | int | float | bool | None

_TEMPLATE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CONSTANTS: dict[str, Value] = {"true": True, "false": False, "null": None,
                                "True": True, "False": False, "None": None}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "int": int, "float": float, "str": str, "abs": abs, "round": round,
    "min": min, "max": max, "lower": lambda s: str(s).lower(), "upper": lambda s: str(s).upper(),
}
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}


class ExpressionError(Exception):
    """The expression is not valid in this language, or failed when evaluated."""


@lru_cache(maxsize=4096)
def parse(text: str) -> ast.expr:
    """Parse and check that only whitelisted constructs are used."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"invalid expression {text!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"{type(node).__name__} is not allowed in {text!r}")
        if isinstance(node, ast.Call) and (
            not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords
        ):
            raise ExpressionError(f"only {sorted(_FUNCTIONS)} may be called in {text!r}")
    return tree


_ALLOWED = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.BoolOp,
    ast.Compare, ast.IfExp, ast.List, ast.Tuple, ast.Call, ast.And, ast.Or, ast.Not, ast.USub,
    ast.UAdd, *_BINARY, *_COMPARE,
)


def variables(text: str) -> set[str]:
    """The variables an expression reads (function names and constants excluded)."""
    tree = parse(text)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {
        n.id for n in ast.walk(tree)
        if isinstance(n, ast.Name) and id(n) not in called and n.id not in _CONSTANTS
    }


def template_variables(text: str) -> set[str]:
    return set(_TEMPLATE.findall(text))


def render(text: str, values: Mapping[str, Value]) -> str:
    """Fill ${name} placeholders; an unset variable renders as the empty string."""
    return _TEMPLATE.sub(lambda m: _text(values.get(m.group(1))), text)


def _text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def evaluate(text: str, values: Mapping[str, Value]) -> Value:
    tree = parse(text)
    try:
        result = _eval(tree, values)
    except ExpressionError:
        raise
    except Exception as exc:
        raise ExpressionError(f"{text!r} failed: {exc}") from None
    if isinstance(result, list | tuple):
        raise ExpressionError(f"{text!r} gives a list; a value is expected")
    return result  # type: ignore[no-any-return]


def truthy(text: str, values: Mapping[str, Value]) -> bool:
    return bool(evaluate(text, values))


def _eval(node: ast.expr, values: Mapping[str, Value]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        if node.id not in values:
            raise ExpressionError(f"variable {node.id!r} is not set")
        return values[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, values), _eval(node.right, values))
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, values)
        if isinstance(node.op, ast.Not):
            return not operand
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            result: Any = True
            for item in node.values:
                result = _eval(item, values)
                if not result:
                    return result
            return result
        result = False
        for item in node.values:
            result = _eval(item, values)
            if result:
                return result
        return result
    if isinstance(node, ast.Compare):
        left = _eval(node.left, values)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, values)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, values) else node.orelse, values)
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(item, values) for item in node.elts]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _FUNCTIONS[node.func.id](*[_eval(arg, values) for arg in node.args])
    raise ExpressionError(f"{type(node).__name__} is not allowed")
