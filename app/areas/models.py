"""Areas and grids in one table, with the grid workers assigned to each grid."""
from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.columns import link_key
from app.core.extensions import db

LEVELS = ("city", "district", "street", "community", "grid", "micro_grid")
# Code length per level, after DB11/T 2157: 6 region + 3 street + 3 community + 3 grid (+3 micro-grid).
# A city (4 digits, the GB/T 2260 prefix of its districts, e.g. 6201 Lanzhou) may sit on top so that
# one planner can span several districts.
CODE_LENGTH = {"city": 4, "district": 6, "street": 9, "community": 12, "grid": 15, "micro_grid": 18}

grid_workers = Table("grid_workers", db.metadata, link_key("area_id", "areas.id"), link_key("user_id", "users.id"))


class Area(db.Model):
    """A node of the governance hierarchy, with its polygon and code."""
    __tablename__ = "areas"
    __table_args__ = (
        CheckConstraint(f"level IN {LEVELS}", name="ck_areas_level"),
        CheckConstraint("code ~ '^[0-9]+$'", name="ck_areas_code_digits"),
        CheckConstraint(
            "length(code) = CASE level WHEN 'city' THEN 4 WHEN 'district' THEN 6 WHEN 'street' THEN 9 "
            "WHEN 'community' THEN 12 WHEN 'grid' THEN 15 ELSE 18 END", name="ck_areas_code_length"),
        CheckConstraint("ST_IsValid(geom)", name="ck_areas_geom_valid"),
        Index("ix_areas_code_pattern", "code", postgresql_ops={"code": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(16), index=True)
    code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)

    parent = relationship("Area", remote_side=[id], lazy="select")
    workers = relationship("User", secondary=grid_workers, lazy="select")

    def __repr__(self) -> str:
        return f"<Area {self.level} {self.code} {self.name}>"
