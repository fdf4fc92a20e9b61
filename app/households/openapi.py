"""OpenAPI path items for the households, wishes and volunteers endpoints."""
from app.web.openapi import ERROR, register_paths


def op(summary: str, tag: str, params=(), body: str | None = None, ok: str = "200", public: bool = False,
       content: str = "application/json") -> dict:
    """One operation with the usual error responses."""
    out = {"summary": summary, "tags": [tag],
           "parameters": [{"name": n, "in": "query", "required": False, "description": d,
                           "schema": {"type": "string"}} for n, d in params],
           "responses": {ok: {"description": "ok", "content": {content: {}}}, "400": ERROR, "401": ERROR,
                         "403": ERROR, "404": ERROR}}
    if body:
        out["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{body}"}}}}
        out["responses"].update({"409": ERROR, "415": ERROR, "422": ERROR})
    if public:
        out["security"] = []
    return out


def path_id(name: str = "id") -> list:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}]


STR, INT, BOOL, DATE, DT = ({"type": "string"}, {"type": "integer"}, {"type": "boolean"},
                            {"type": "string", "format": "date"}, {"type": "string", "format": "date-time"})


def obj(required: list, **props) -> dict:
    return {"type": "object", "required": required, "properties": props}


def register() -> None:
    """Document the households endpoints."""
    from app.households.models import GENDERS, VISIT_PURPOSES
    t = "households"
    member = obj(["name"], name=STR, relation=STR, gender={"type": "string", "enum": list(GENDERS)},
                 age={"type": "integer", "minimum": 0, "maximum": 130}, birth_year=INT, birth_date=DATE,
                 phone=STR, party_member=BOOL, health=STR, notes=STR,
                 tags={"type": "array", "items": STR, "description": "tag codes from /api/v1/household-tags"})
    schemas = {
        "household_member": member,
        "household": obj(["building_id", "flat_no", "head_name"], building_id=INT, flat_no=STR, head_name=STR,
                         phone=STR, notes=STR, tags={"type": "array", "items": STR},
                         members={"type": "array", "items": {"$ref": "#/components/schemas/household_member"}}),
        "household_tag": obj(["code", "name"], code=STR, name=STR, name_en=STR, key_group=BOOL, active=BOOL),
        "visit": obj(["purpose"], household_id=INT, building_id=INT, place=STR, visited_at=DT,
                     purpose={"type": "string", "enum": list(VISIT_PURPOSES)}, visitor_ids={"type": "array", "items": INT},
                     visitor_names=STR, notes=STR, follow_up=STR, follow_up_due=DATE,
                     lon={"type": "number"}, lat={"type": "number"}),
        "care_plan": obj(["household_id", "frequency_days"], household_id=INT,
                         frequency_days={"type": "integer", "minimum": 1, "maximum": 366}, worker_id=INT,
                         start_date=DATE, purpose=STR, note=STR, active=BOOL),
    }
    note = " Personal data: grid's own workers, community staff, admins; reads are audited."
    paths = {
        "/api/v1/household-tags": {"get": op("key-group tags (?all=1 with retired)", t, [("all", "1")]),
                                   "post": op("add a tag (admin)", t, body="household_tag", ok="201")},
        "/api/v1/household-tags/{id}": {"parameters": path_id(), "patch": op("rename/retire a tag (admin)", t,
                                                                             body="household_tag")},
        "/api/v1/households": {
            "get": op("household files the user keeps." + note, t,
                      [("tag", "tag code"), ("grid", "area code"), ("building_id", "building"), ("q", "name search"),
                       ("limit", "1..1000"), ("offset", "")]),
            "post": op("create a file with tags and members", t, body="household", ok="201")},
        "/api/v1/households/{id}": {"parameters": path_id(),
                                    "get": op("one file with members and visits (audited)", t),
                                    "patch": op("change a file; tags replace the list", t, body="household"),
                                    "delete": op("delete a file (staff, admin)", t, ok="204")},
        "/api/v1/households/{id}/members": {"parameters": path_id(),
                                            "post": op("add a member", t, body="household_member", ok="201")},
        "/api/v1/members/{id}": {"parameters": path_id(), "patch": op("change a member", t, body="household_member"),
                                 "delete": op("remove a member", t, ok="204")},
        "/api/v1/households/stats": {"get": op("households per grid and tag; counts below 5 are null", t)},
        "/api/v1/households/export.csv": {"get": op("CSV of the files the user keeps (audited)", t,
                                                    content="text/csv")},
        "/api/v1/visits": {"get": op("visits the user may read", t, [("household_id", ""), ("from", "YYYY-MM-DD"),
                                                                     ("to", "YYYY-MM-DD"), ("limit", ""), ("offset", "")]),
                           "post": op("log a visit (household, building or position)", t, body="visit", ok="201")},
        "/api/v1/visits/{id}": {"parameters": path_id(), "get": op("one visit (audited)", t),
                                 "patch": op("notes and follow-up of a visit", t, body="visit")},
        "/api/v1/care-plans": {"post": op("a visit frequency for a household", t, body="care_plan", ok="201")},
        "/api/v1/care-plans/{id}": {"parameters": path_id(), "patch": op("change a care plan", t, body="care_plan")},
        "/api/v1/care-plans/due": {"get": op("households due for a visit, overdue first", t,
                                             [("worker", "'me' or a user id"), ("overdue", "1: overdue only"),
                                              ("within_days", "0..60"), ("on", "YYYY-MM-DD")])},
        "/api/v1/care-plans/counts": {"get": op("plans, due and overdue per grid or building (suppressed for "
                                                "counts-only readers)", t, [("by", "grid|building"), ("on", "")])},
        "/api/v1/overlays/visits-due": {"get": op("map overlay: buildings with visits due (GeoJSON)", t,
                                                  [("bbox", "minLon,minLat,maxLon,maxLat"), ("limit", "")],
                                                  content="application/geo+json")},
    }
    register_paths(paths, schemas)
