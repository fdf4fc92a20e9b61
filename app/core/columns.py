"""Column shapes the features' models share."""
from sqlalchemy import Column, ForeignKey, Integer


def link_key(name: str, target: str, ondelete: str = "CASCADE", type_=Integer, index: bool | None = None) -> Column:
    """One side of a many-to-many table: a foreign key to ``target`` (``"table.id"``), part of the primary key.

    ``ondelete="CASCADE"``: the link goes with the row it points to; ``"RESTRICT"``: that row can't be
    deleted while linked.
    """
    return Column(name, type_, ForeignKey(target, ondelete=ondelete), primary_key=True, index=index)
