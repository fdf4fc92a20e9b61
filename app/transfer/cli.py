"""``flask --app app import LAYER FILE`` and ``flask --app app export LAYER FILE``."""

import contextlib
import os

import click
from flask import current_app
from flask_login import login_user

from app.auth import policy
from app.auth.services import find_user
from app.basemap.layers import LAYERS, get_layer
from app.core.errors import ApiError
from app.transfer.services import export_layer, import_layer
from gis import fileio


def _layer(name: str):
    layer = get_layer(name)
    if layer is None:
        raise click.ClickException(f"no layer {name!r}; layers: {', '.join(sorted(LAYERS))}")
    return layer


@contextlib.contextmanager
def _acting_as(username: str | None):
    """The scope to work in: a user's area (and audit entries in their name), or everything."""
    if not username:
        yield policy.Scope(everything=True)
        return
    user = find_user(username)
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    with current_app.test_request_context():
        login_user(user)
        yield policy.scope_of(user)


def _fail(e: ApiError):
    report = getattr(e, "report", None)
    lines = [e.message]
    if report:
        lines += [f"  row {r['row']}: {r['message']}" for r in report["errors"][:50]]
        if len(report["errors"]) > 50:
            lines.append(f"  … and {len(report['errors']) - 50} more")
    elif e.fields:
        lines += [f"  {k}: {v}" for k, v in e.fields.items()]
    raise click.ClickException("\n".join(lines))


@click.command("import")
@click.argument("layer_name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", default=None, help="geojson, gpkg, shp (zip), csv or kml; default from the extension.")
@click.option("--as", "username", default=None, help="Import as this user: their area bounds the rows.")
def import_cmd(layer_name, file, fmt, username):
    """Import a GIS file into a layer: every row is checked, and nothing is stored unless all pass."""
    layer = _layer(layer_name)
    with open(file, "rb") as fh:
        data = fh.read()
    try:
        with _acting_as(username) as scope:
            if username:
                policy.require("layers.import")
            report = import_layer(layer, scope, data, os.path.basename(file), fmt)
    except ApiError as e:
        _fail(e)
    click.echo(
        f"imported {report['imported']} of {report['rows']} feature(s) into {layer.name} "
        f"from {os.path.basename(file)} ({report['format']})"
    )
    if report["ignored_columns"]:
        click.echo("ignored columns: " + ", ".join(report["ignored_columns"]))


@click.command("export")
@click.argument("layer_name")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--format", "fmt", default=None, help="geojson, gpkg, shp (zip), csv or kml; default from the extension.")
@click.option("--area", "area_code", default=None, help="Only rows under this area code.")
@click.option("--as", "username", default=None, help="Export what this user may see.")
def export_cmd(layer_name, file, fmt, area_code, username):
    """Export a layer to a GIS file."""
    layer = _layer(layer_name)
    try:
        fmt = fileio.detect_format(file, fmt)
    except fileio.UnknownFormatError as e:
        raise click.ClickException(str(e)) from None
    if area_code is not None and not area_code.isdecimal():
        raise click.ClickException("--area must be an area code (digits)")
    try:
        with _acting_as(username) as scope:
            data = export_layer(
                layer, scope, fmt, filters={"area": area_code} if area_code else {}, limit=10**9, offset=0
            )
    except ApiError as e:
        _fail(e)
    with open(file, "wb") as fh:
        fh.write(data)
    click.echo(f"exported {layer.name} to {file} ({fmt}, {len(data)} bytes)")
