import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from geoalchemy2 import alembic_helpers

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


def get_engine():
    # Flask-SQLAlchemy >= 3 has ``engine``; ``get_engine()`` is deprecated there.
    return current_app.extensions["migrate"].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace("%", "%%")
    except AttributeError:
        return str(get_engine().url).replace("%", "%%")


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option("sqlalchemy.url", get_engine_url())
target_db = current_app.extensions["migrate"].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, "metadatas"):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=get_metadata(), literal_binds=True)

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        # GeoAlchemy2's rewriter turns geometry columns into its own ops, so
        # autogenerate neither drops PostGIS tables nor duplicates GiST indexes.
        alembic_helpers.writer.process_revision_directives(context, revision, directives)
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    def include_object(obj, name, type_, reflected, compare_to):
        # PostGIS's own tables (spatial_ref_sys, tiger, topology) and partitions
        # made at run time are not ours to manage.
        if type_ == "table" and reflected and compare_to is None:
            return False
        return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)

    conf_args = current_app.extensions["migrate"].configure_args
    conf_args.setdefault("include_object", include_object)
    conf_args.setdefault("render_item", alembic_helpers.render_item)
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=get_metadata(), **conf_args)

        with context.begin_transaction():
            _relabel_renumbered(connection)
            context.run_migrations()


# Revision ids before the chain was renumbered into one honest sequence (0001 … 0008). A local
# database migrated before then is relabelled so that `upgrade head` finds its place; nothing else
# changes. There is no production database from before the renumbering.
RENUMBERED = {
    "0005_households": "0004_households",
    "0006_hardening_regrid": "0005_hardening_regrid",
    "0004_patrols": "0006_patrols",
    "0006_heatmaps": "0007_heatmaps",
    "0007_dashboard_covering": "0008_dashboard_covering",
}


def _relabel_renumbered(connection) -> None:
    from sqlalchemy import inspect, text

    if not inspect(connection).has_table("alembic_version"):
        return
    current = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(current) == 1 and current[0] in RENUMBERED:
        connection.execute(text("UPDATE alembic_version SET version_num = :new"), {"new": RENUMBERED[current[0]]})


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
