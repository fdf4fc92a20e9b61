"""Does a statement carry the distribution column? (docs/scaling.md, "Sharding by street code")

Statements are parsed by PostgreSQL's own parser (``pglast``). For every reference to a table that
would be distributed by ``street_code`` (``incidents``, ``positions``), at the level of the statement
where it appears (its own SELECT, UPDATE or DELETE, subqueries and CTEs each checked on their own):

* an INSERT names ``street_code`` among its columns (Citus routes a row by it);
* an UPDATE or DELETE has a top-level condition on ``<table>.street_code`` (``=``, ``IN``, ``= ANY``):
  a write goes to the shards it names, not to all of them;
* two distributed tables in one FROM are joined on their street codes (a co-located join) unless each
  is filtered on its own;
* a SELECT made for a street's (or a narrower area's) user filters on the street code: Citus sends it
  to one shard. Without such a user (district and city views, jobs) a SELECT may fan out, as planned.

A condition inside an OR does not count: it does not say which shards can hold the rows.
"""

import re
from dataclasses import dataclass

from pglast import ast, parse_sql
from pglast.enums import A_Expr_Kind, BoolExprType, SubLinkType
from pglast.visitors import Visitor

SHARDED = frozenset({"incidents", "positions"})
COLUMN = "street_code"
_PARAM = re.compile(r"%\(\w+\)s|%s")


@dataclass(frozen=True)
class Finding:
    table: str
    rule: str

    def __str__(self) -> str:
        return f"{self.table}: {self.rule}"


def normalise(sql: str) -> str:
    """psycopg2's placeholders as PostgreSQL's (``$1``), ``%%`` as ``%``: text the parser reads."""
    return _PARAM.sub("$1", sql).replace("%%", "%")


def _conjuncts(node) -> list:
    if node is None:
        return []
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        return [c for arg in node.args for c in _conjuncts(arg)]
    return [node]


def _names(ref) -> tuple[str, ...] | None:
    if not isinstance(ref, ast.ColumnRef):
        return None
    if not all(isinstance(f, ast.String) for f in ref.fields):
        return None
    return tuple(f.sval for f in ref.fields)


def _street_refs(cond) -> list[tuple[str, ...]]:
    """The street-code columns a condition pins: ``x.street_code = …``, ``IN (…)``, ``= ANY(…)``, ``IN (SELECT …)``."""
    if isinstance(cond, ast.SubLink) and cond.subLinkType == SubLinkType.ANY_SUBLINK:
        name = _names(cond.testexpr)
        return [name] if name and name[-1] == COLUMN else []
    if not isinstance(cond, ast.A_Expr):
        return []
    kind = cond.kind
    ops = [getattr(n, "sval", None) for n in cond.name or ()]
    if kind not in (A_Expr_Kind.AEXPR_IN, A_Expr_Kind.AEXPR_OP_ANY) and not (
        kind == A_Expr_Kind.AEXPR_OP and ops == ["="]
    ):
        return []
    if kind != A_Expr_Kind.AEXPR_OP and ops != ["="]:
        return []
    sides = [cond.lexpr] if kind != A_Expr_Kind.AEXPR_OP else [cond.lexpr, cond.rexpr]
    return [n for n in map(_names, sides) if n and n[-1] == COLUMN]


def _relations(items) -> list[ast.RangeVar]:
    """Table references of a FROM list, through joins (a subquery is a level of its own)."""
    found = []
    for item in items or ():
        if isinstance(item, ast.RangeVar):
            found.append(item)
        elif isinstance(item, ast.JoinExpr):
            found.extend(_relations([item.larg, item.rarg]))
    return found


def _join_quals(items) -> list:
    quals = []
    for item in items or ():
        if isinstance(item, ast.JoinExpr):
            quals.extend(_conjuncts(item.quals))
            quals.extend(_join_quals([item.larg, item.rarg]))
    return quals


def _alias(rel: ast.RangeVar) -> str:
    return rel.alias.aliasname if rel.alias is not None else rel.relname


class _Levels(Visitor):
    def __init__(self, routed: bool):
        super().__init__()
        self.routed = routed
        self.findings: list[Finding] = []

    def _level(self, rels, where, from_items, must_filter: bool):
        rels = [r for r in rels if r.relname in SHARDED]
        if not rels:
            return
        conds = _conjuncts(where) + _join_quals(from_items)
        pinned: dict[tuple[str, ...], list] = {}
        for cond in conds:
            for ref in _street_refs(cond):
                pinned.setdefault(ref, []).append(cond)
        only = len(rels) == 1
        for rel in rels:
            alias = _alias(rel)
            mine = [
                c for ref, cs in pinned.items() for c in cs if ref == (alias, COLUMN) or (only and ref == (COLUMN,))
            ]
            if must_filter and not mine:
                self.findings.append(Finding(rel.relname, "no condition on street_code"))
            elif len(rels) > 1 and not mine:
                self.findings.append(Finding(rel.relname, "joined to another distributed table not on street_code"))

    def visit_SelectStmt(self, ancestors, node):
        self._level(_relations(node.fromClause), node.whereClause, node.fromClause, self.routed)

    def visit_UpdateStmt(self, ancestors, node):
        rels = [node.relation, *_relations(node.fromClause)]
        self._level(rels, node.whereClause, node.fromClause, True)

    def visit_DeleteStmt(self, ancestors, node):
        rels = [node.relation, *_relations(node.usingClause)]
        self._level(rels, node.whereClause, node.usingClause, True)

    def visit_InsertStmt(self, ancestors, node):
        named = {c.name for c in node.cols or ()}
        if node.relation.relname in SHARDED and named and COLUMN not in named:
            self.findings.append(Finding(node.relation.relname, "INSERT without street_code"))

    def visit_CopyStmt(self, ancestors, node):
        into = node.relation is not None and node.relation.relname in SHARDED and node.is_from
        if into and COLUMN not in {getattr(c, "sval", None) for c in node.attlist or ()}:
            self.findings.append(Finding(node.relation.relname, "COPY without street_code"))


def check(sql: str, routed: bool = False) -> list[Finding]:
    """What keeps ``sql`` from carrying the distribution column; ``routed``: sent for one street's user."""
    levels = _Levels(routed)
    for stmt in parse_sql(normalise(sql)):
        levels(stmt)
    return levels.findings
