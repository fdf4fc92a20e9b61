"""A recurrence rule said in words, in the reader's language: ``FREQ=MONTHLY;BYMONTHDAY=4,14,24`` →
"每月4日、14日、24日" / "monthly on the 4th, 14th and 24th".

Pure functions over the rule's parts (RFC 5545: FREQ, INTERVAL, BYDAY with an optional ordinal,
BYMONTHDAY, BYMONTH, COUNT, UNTIL). A part not covered here leaves the rule as written, in ``<code>``.
"""

import calendar
import re

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
ZH_DAYS = dict(zip(DAYS, "一二三四五六日", strict=True))
EN_DAYS = dict(zip(DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), strict=True))
ZH_UNIT = {"DAILY": "天", "WEEKLY": "周", "MONTHLY": "月", "YEARLY": "年"}
EN_UNIT = {
    "DAILY": ("daily", "day"),
    "WEEKLY": ("weekly", "week"),
    "MONTHLY": ("monthly", "month"),
    "YEARLY": ("yearly", "year"),
}
ZH_NUM = "零一二两三四五六七八九十"
KNOWN = {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "COUNT", "UNTIL", "WKST"}
_BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")


def parts(rule: str) -> dict[str, str] | None:
    """The rule's NAME=value parts, or None when a part is not one this module can say."""
    text = rule.strip().upper()
    text = text.removeprefix("RRULE:")
    try:
        found = dict(p.split("=", 1) for p in text.split(";") if p)
    except ValueError:
        return None
    if not set(found) <= KNOWN or found.get("FREQ") not in ZH_UNIT:
        return None
    if any(not _BYDAY.match(d) for d in found.get("BYDAY", "MO").split(",")):
        return None
    if not all(
        re.fullmatch(r"-?\d{1,2}", d) for key in ("BYMONTHDAY", "BYMONTH") for d in found.get(key, "1").split(",")
    ):
        return None
    if not re.fullmatch(r"\d{1,3}", found.get("INTERVAL", "1")) or not re.fullmatch(r"\d{0,4}", found.get("COUNT", "")):
        return None
    return found


def _zh_ordinal(n: int) -> str:
    return "最后一个" if n == -1 else f"倒数第{-n}个" if n < 0 else f"第{n}个"


def _zh_number(n: int) -> str:
    return ZH_NUM[n] if 0 <= n <= 10 and n != 2 else "两" if n == 2 else str(n)


def zh(rule: str) -> str | None:
    """The rule in Chinese, or None when it can't be said."""
    p = parts(rule)
    if p is None:
        return None
    freq, every = p["FREQ"], int(p.get("INTERVAL", "1"))
    out = "每" + ("" if every == 1 else _zh_number(every) + ("个" if freq == "MONTHLY" else "")) + ZH_UNIT[freq]
    if p.get("BYMONTH"):
        out += "、".join(f"{m}月" for m in p["BYMONTH"].split(","))
    if p.get("BYMONTHDAY"):
        out += "、".join(
            "最后一天" if d == "-1" else f"倒数第{d[1:]}天" if d.startswith("-") else f"{d}日"
            for d in p["BYMONTHDAY"].split(",")
        )
    if p.get("BYDAY"):
        days = []
        for d in p["BYDAY"].split(","):
            n, day = _BYDAY.match(d).groups()
            days.append((_zh_ordinal(int(n)) if n else "") + "周" + ZH_DAYS[day])
        if out.endswith("周") and days[0].startswith("周"):
            days[0] = days[0][1:]  # 每周三, not 每周周三
        out += "、".join(days)
    if p.get("COUNT"):
        out += f"，共{p['COUNT']}次"
    if p.get("UNTIL"):
        u = p["UNTIL"]
        out += f"，至{u[:4]}年{int(u[4:6])}月{int(u[6:8])}日" if re.match(r"\d{8}", u) else ""
    return out


def _en_ordinal(n: int) -> str:
    if n < 0:
        return "last" if n == -1 else f"{_en_ordinal(-n)} last"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _en_join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def en(rule: str) -> str | None:
    """The rule in English, or None when it can't be said."""
    p = parts(rule)
    if p is None:
        return None
    freq, every = p["FREQ"], int(p.get("INTERVAL", "1"))
    adverb, unit = EN_UNIT[freq]
    out = adverb if every == 1 else f"every {every} {unit}s"
    if p.get("BYMONTH"):
        out += " in " + _en_join([calendar.month_name[int(m)] for m in p["BYMONTH"].split(",")])
    if p.get("BYMONTHDAY"):
        out += " on the " + _en_join([_en_ordinal(int(d)) for d in p["BYMONTHDAY"].split(",")])
        out += " day" if p["BYMONTHDAY"].startswith("-") else ""
    if p.get("BYDAY"):
        days = []
        for d in p["BYDAY"].split(","):
            n, day = _BYDAY.match(d).groups()
            days.append((f"the {_en_ordinal(int(n))} " if n else "") + EN_DAYS[day])
        out += " on " + _en_join(days)
    if p.get("COUNT"):
        out += f", {p['COUNT']} times"
    if p.get("UNTIL") and re.match(r"\d{8}", p["UNTIL"]):
        u = p["UNTIL"]
        out += f", until {u[:4]}-{u[4:6]}-{u[6:8]}"
    return out[0].upper() + out[1:]


def in_words(rule: str | None, lang: str) -> str | None:
    """``rule`` said in ``lang`` ("zh" or "en"); None for a rule this module can't say."""
    if not rule:
        return None
    return en(rule) if lang == "en" else zh(rule)
