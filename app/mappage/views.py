"""Map page (folium) and simple list pages per layer."""
from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("mappage", __name__)


@bp.get("/")
@login_required
def index():
    """The map."""
    return render_template("map.html")
