"""The demo users: one login per role, and a grid worker for every demo grid (``flask seed logins``)."""

from app.areas.demo import COMMUNITY_PREFIX
from app.areas.services import get_area_by_code, set_grid_workers
from app.auth.services import create_user, find_user
from app.core.extensions import db

# The demo logins are published in the README on purpose: they exist only in the demo data.
_FIELDS = ("username", "password", "role", "area", "name")
DEMO_USERS = [dict(zip(_FIELDS, row, strict=True)) for row in (
    ("admin", "wuwei-admin", "admin", None, "系统管理员"),
    ("planner", "wuwei-planner", "planner", "6201", "街道规划 王规划"),
    ("leader", "wuwei-leader", "leader", "6201", "领导 陈主任"),
    ("xiyuan", "wuwei-leader", "leader", "620103002", "西园街道 赵书记"),
    ("staff", "wuwei-staff", "staff", "620103002001", "华林山社区 周干事"),
    ("liailan", "wuwei-staff", "staff", "620103002001", "调解员 李爱兰"),
    ("zjystaff", "wuwei-staff", "staff", "620102005003", "张家园社区 秦琛"),
    ("gridworker", "wuwei-grid", "grid_worker", "620103002001001", "网格员 马丽"),
    ("patrol", "wuwei-patrol", "patrol", "620102011002", "巡查队员 李子琴"),
    # 处置端: the people of a department and of a property company (their organisation: app.incidents.demo)
    ("paishui", "wuwei-dept", "department", "620103", "区排水管理所 赵师傅"),
    ("shenghe", "wuwei-dept", "department", "620102010", "兰州晟合物业 孙经理"),
)]  # fmt: skip
GRID_WORKER_PASSWORD = "wuwei-grid"  # nosec B105 (the demo grid workers' published password)


def seed_users() -> int:
    """The demo users, and one grid worker per grid: <community prefix><n>, e.g. hls1 … hls4."""
    added = 0
    for u in DEMO_USERS:
        if find_user(u["username"]) is None:
            create_user(u["username"], u["password"], u["role"], u["area"], u["name"])
            added += 1
    for ccode, prefix in COMMUNITY_PREFIX.items():
        for i in range(1, 5):
            gcode = f"{ccode}{i:03d}"
            username = "gridworker" if gcode == "620103002001001" else f"{prefix}{i}"
            user = find_user(username)
            if user is None:
                user = create_user(username, GRID_WORKER_PASSWORD, "grid_worker", gcode, f"网格员 {prefix.upper()}{i}")
                added += 1
            grid = get_area_by_code(gcode)
            if user not in grid.workers:
                set_grid_workers(grid, list(grid.workers) + [user])
    db.session.flush()
    return added
