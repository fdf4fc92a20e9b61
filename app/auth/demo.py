"""The demo users: one login per role, and a grid worker for every demo grid (``flask seed logins``)."""
from app.areas.demo import COMMUNITY_PREFIX
from app.areas.services import get_area_by_code, set_grid_workers
from app.auth.services import create_user, find_user
from app.core.extensions import db

DEMO_USERS = [
    {"username": "admin", "password": "wuwei-admin", "role": "admin", "area": None, "name": "系统管理员"},
    {"username": "planner", "password": "wuwei-planner", "role": "planner", "area": "6201", "name": "街道规划 王规划"},
    {"username": "leader", "password": "wuwei-leader", "role": "leader", "area": "6201", "name": "领导 陈主任"},
    {"username": "xiyuan", "password": "wuwei-leader", "role": "leader", "area": "620103002", "name": "西园街道 赵书记"},
    {"username": "staff", "password": "wuwei-staff", "role": "staff", "area": "620103002001", "name": "华林山社区 周干事"},
    {"username": "liailan", "password": "wuwei-staff", "role": "staff", "area": "620103002001", "name": "调解员 李爱兰"},
    {"username": "zjystaff", "password": "wuwei-staff", "role": "staff", "area": "620102005003", "name": "张家园社区 秦琛"},
    {"username": "gridworker", "password": "wuwei-grid", "role": "grid_worker", "area": "620103002001001",
     "name": "网格员 马丽"},
    {"username": "patrol", "password": "wuwei-patrol", "role": "patrol", "area": "620102011002", "name": "巡查队员 李子琴"},
    # 处置端: the people of a department and of a property company (their organisation: app.incidents.demo)
    {"username": "paishui", "password": "wuwei-dept", "role": "department", "area": "620103",
     "name": "区排水管理所 赵师傅"},
    {"username": "shenghe", "password": "wuwei-dept", "role": "department", "area": "620102010",
     "name": "兰州晟合物业 孙经理"},
]
GRID_WORKER_PASSWORD = "wuwei-grid"


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
