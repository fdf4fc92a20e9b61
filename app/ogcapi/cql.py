"""Reading CQL2 filters (OGC API - Features Part 3) with pygeofilter's parsers.

``filter-lang=cql2-text`` (the default) and ``cql2-json`` become a pygeofilter AST;
:mod:`app.ogcapi.cql_sql` turns the AST into SQLAlchemy Core with bound parameters.

pygeofilter 0.4's CQL2 text grammar is used as it is, extended (Lark's ``%extend``) by what the
CQL2 standard spells and it does not: temporal functions in function form (``T_AFTER(a, b)``; it
only reads the infix form), ``S_DWITHIN(a, b, distance, units)``, the ``BBOX(x1, y1, x2, y2)``
literal, and ``INTERVAL`` with dates and ``'..'`` ends. ``T_INTERSECTS``, which its parsers read as
``T_OVERLAPS``, is kept apart. In CQL2 JSON the same operators are picked out before pygeofilter
walks the tree.
"""
import datetime as dt
import json
import os
from dataclasses import dataclass

import lark
from lark import v_args
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parser as json_parser
from pygeofilter.parsers.cql2_text import parser as text_parser

MAX_LENGTH = 20_000
LANGS = ("cql2-text", "cql2-json")
TEMPORAL_OPS = ("t_after", "t_before", "t_contains", "t_disjoint", "t_during", "t_equals", "t_finishedby",
                "t_finishes", "t_intersects", "t_meets", "t_metby", "t_overlappedby", "t_overlaps",
                "t_startedby", "t_starts", "t_begins", "t_begunby", "t_ends", "t_endedby")


class CqlError(ValueError):
    """A filter that cannot be read or applied; ``str()`` says why (a 400 for the client)."""


@dataclass
class Temporal(ast.Predicate):
    """A CQL2 temporal function ``op(lhs, rhs)`` (op in :data:`TEMPORAL_OPS`, lower case)."""
    op: str
    lhs: object
    rhs: object

    def get_sub_nodes(self):
        return [self.lhs, self.rhs]


_EXTENSION = r"""
%extend condition_1: "NOT"i "(" condition "AND"i condition_1 ")" -> not_and
    | "NOT"i "(" condition "OR"i condition_1 ")" -> not_or
%extend spatial_predicate: "S_DWITHIN"i "(" expression "," expression "," full_number "," (attribute | SINGLE_QUOTED) ")" -> s_dwithin
%extend temporal_predicate: _binary_temporal_predicate_func "(" expression "," expression ")" -> t_function
%extend literal: "INTERVAL"i "(" SINGLE_QUOTED "," SINGLE_QUOTED ")" -> interval_text
    | "BBOX"i "(" full_number "," full_number "," full_number "," full_number ")" -> bbox_literal
"""


def _instant(text: str):
    """A CQL2 interval end: '..' (open), a date or a timestamp."""
    if text == "..":
        return None
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise CqlError(f"{text!r} is not a date or a timestamp") from None


@v_args(meta=False, inline=True)
class _Transformer(text_parser.CQLTransformer):
    def s_dwithin(self, lhs, rhs, distance, units):
        return ast.DistanceWithin(lhs, rhs, distance, units.name if isinstance(units, ast.Attribute) else units)

    def not_and(self, lhs, rhs):
        return ast.Not(ast.And(lhs, rhs))

    def not_or(self, lhs, rhs):
        return ast.Not(ast.Or(lhs, rhs))

    def t_function(self, op, lhs, rhs):
        return Temporal(str(op).lower(), lhs, rhs)

    def binary_temporal_predicate(self, lhs, op, rhs):
        return Temporal(str(op).lower(), lhs, rhs)

    def interval_text(self, start, end):
        return values.Interval(_instant(start), _instant(end))

    def bbox_literal(self, minx, miny, maxx, maxy):
        return values.Envelope(minx, maxx, miny, maxy)


def _text_parser() -> lark.Lark:
    grammar_dir = os.path.dirname(text_parser.__file__)
    with open(os.path.join(grammar_dir, "grammar.lark"), encoding="utf-8") as fh:
        grammar = fh.read()
    return lark.Lark(grammar + _EXTENSION, parser="lalr", maybe_placeholders=False, transformer=_Transformer(),
                     import_paths=[os.path.dirname(grammar_dir)])


_TEXT = _text_parser()


def _json_node(node):
    """``node`` with the operators pygeofilter's JSON walker misses replaced by AST nodes."""
    if isinstance(node, list):
        return [_json_node(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _json_node(v) for k, v in node.items()}
    op = node.get("op")
    if isinstance(op, str) and op.lower() in TEMPORAL_OPS:
        lhs, rhs = _two_args(node)
        return Temporal(op.lower(), json_parser.walk_cql_json(lhs), json_parser.walk_cql_json(rhs))
    if op == "s_dwithin":
        args = node.get("args")
        if not isinstance(args, list) or len(args) not in (3, 4) or isinstance(args[2], bool) \
                or not isinstance(args[2], (int, float)):
            raise CqlError("s_dwithin takes [geometry, geometry, distance, units?]")
        units = args[3] if len(args) == 4 else "meters"
        return ast.DistanceWithin(json_parser.walk_cql_json(args[0]), json_parser.walk_cql_json(args[1]),
                                  args[2], units)
    return node


def _two_args(node: dict):
    args = node.get("args")
    if not isinstance(args, list) or len(args) != 2:
        raise CqlError(f"{node['op']} takes two arguments")
    return args


def parse(text: str, lang: str | None):
    """The AST of a ``filter`` in ``filter-lang`` (cql2-text when not given), or :class:`CqlError`."""
    lang = (lang or "cql2-text").lower()
    if lang not in LANGS:
        raise CqlError(f"filter-lang must be one of {', '.join(LANGS)}, not {lang!r}")
    if len(text) > MAX_LENGTH:
        raise CqlError(f"filter is longer than {MAX_LENGTH} characters")
    try:
        if lang == "cql2-json":
            return json_parser.walk_cql_json(_json_node(json.loads(text)))
        return _TEXT.parse(text)
    except CqlError:
        raise
    except lark.exceptions.LarkError as e:
        raise CqlError(f"filter is not valid CQL2 text: {_first_line(e)}") from None
    except RecursionError:
        raise CqlError("filter is nested too deeply") from None
    except Exception as e:  # noqa: BLE001 -- pygeofilter's JSON walker raises bare Exception for a bad tree
        raise CqlError(f"filter is not valid {lang}: {_first_line(e)}") from None


def _first_line(e: Exception) -> str:
    """The exception's message: the first line of Lark's (which goes on with the expected tokens)."""
    text = str(e).strip().splitlines()
    return text[0][:300] if text else type(e).__name__
