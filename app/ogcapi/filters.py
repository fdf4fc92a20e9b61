"""Each collection's items query: :class:`~app.ogcapi.params.ItemsQuery` plus the collection's property
filters, each parsed by the layer's own field (so ``/ogcapi/api`` lists every collection's filters)."""

from typing import Annotated

from pydantic import create_model

from app.basemap.fields import INT_MAX, INT_MIN
from app.basemap.fields import Field as LayerField
from app.basemap.public import PublicLayer
from app.ogcapi.params import COMMA_LIST, ItemsQuery, ParamError, parsed_by, with_schema

_ITEM_SCHEMAS = {
    "str": "string",
    "text": "string",
    "enum": "string",
    "date": "string",
    "datetime": "string",
    "int": "integer",
    "ref": "integer",
    "float": "number",
    "bool": "boolean",
}


def _filter(field: LayerField):
    """A property filter: comma-separated values (or the parameter repeated), each parsed by the layer's field."""

    def parse(values: list[str]) -> list:
        parsed = []
        for part in (p for v in values for p in v.split(",")):
            try:
                parsed.append(field.parse(part))
            except ValueError as e:
                raise ParamError(f"{part!r}: {e}") from None
        return parsed

    item = {"type": _ITEM_SCHEMAS[field.kind]}
    if field.choices:
        item["enum"] = list(field.choices)
    if item["type"] == "integer":
        item |= {
            "minimum": INT_MIN if field.min is None else field.min,
            "maximum": INT_MAX if field.max is None else field.max,
        }
    return Annotated[
        list[str] | None,
        parsed_by(parse),
        with_schema(
            type="array", items=item, minItems=1, description="property filter; comma-separated values", **COMMA_LIST
        ),
    ]


_ITEMS_QUERIES: dict[tuple[str, ...], type[ItemsQuery]] = {}


def items_query(public: PublicLayer) -> type[ItemsQuery]:
    """The query model of a collection's items: :class:`ItemsQuery` plus its property filters."""
    fields = {p.name: public.layer.field(p.name) for p in public.properties if p.filter}
    fields = {name: f for name, f in fields.items() if f is not None}
    key = (public.name, *fields)
    model = _ITEMS_QUERIES.get(key)
    if model is None:
        name = "".join(part.title() for part in public.name.replace("_", "-").split("-")) + "ItemsQuery"
        model = create_model(
            name,
            __base__=ItemsQuery,
            __doc__=f"Features of {public.name}: a page, "
            f"filtered by bbox, datetime and {', '.join(fields) or 'no property'}.",
            **{n: (_filter(f), None) for n, f in fields.items()},
        )
        _ITEMS_QUERIES[key] = model
    return model
