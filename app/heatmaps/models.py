"""The heat maps' own tables (migration 0018_load): bins made once per source, shape, cell size and local
day (:mod:`app.heatmaps.bins`), and the days made so far, dropped by the stale-bins triggers on writes."""

import sqlalchemy as sa

from app.core.extensions import db

HEAT_BIN_DAYS = sa.Table(
    "heat_bin_days",
    db.metadata,
    sa.Column("tbl", sa.Text, nullable=False),
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("shape", sa.Text, primary_key=True),
    sa.Column("size", sa.Float(precision=53), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
)

HEAT_BINS = sa.Table(
    "heat_bins",
    db.metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("shape", sa.Text, primary_key=True),
    sa.Column("size", sa.Float(precision=53), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("area", sa.Text, primary_key=True),
    sa.Column("i", sa.Integer, primary_key=True),
    sa.Column("j", sa.Integer, primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.ForeignKeyConstraint(
        ["source", "shape", "size", "day"],
        ["heat_bin_days.source", "heat_bin_days.shape", "heat_bin_days.size", "heat_bin_days.day"],
        ondelete="CASCADE",
    ),
)
