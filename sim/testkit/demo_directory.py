"""A realistic demo site directory, in the site CSV format (`hotline demo`, benchmarks).

Deterministic for a seed: provinces, cities, counties and townships with Chinese
organisation and site names, 2-5 contacts per site (fixed lines with area codes and
mobiles, written with and without +86 / 0086 / trunk 0 / extensions), equipment, service
contracts, engineers and distances from the service centre. A few sites of one
organisation share a switchboard number, as in real life (their callers are ambiguous).

Site `234567` (湖北省水利厅, contact 027-87654321 and 13800138000) is always present: it
is the site of the recorded Asterisk transcripts.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from routing.numbers import normalise
from routing.site_rows import COLUMNS

CST = timezone(timedelta(hours=8), "CST")

# (province, short, capital, capital area code, [(city, area code, [counties])])
GEOGRAPHY: tuple[tuple[str, str, str, str, tuple[tuple[str, str, tuple[str, ...]], ...]], ...] = (
    (
        "湖北省",
        "HB",
        "武汉市",
        "027",
        (
            ("宜昌市", "0717", ("远安县", "兴山县", "秭归县", "长阳县", "五峰县")),
            ("襄阳市", "0710", ("南漳县", "谷城县", "保康县", "老河口市")),
            ("荆州市", "0716", ("公安县", "监利县", "江陵县", "石首市", "洪湖市")),
            ("黄冈市", "0713", ("团风县", "红安县", "罗田县", "英山县", "浠水县")),
        ),
    ),
    (
        "湖南省",
        "HN",
        "长沙市",
        "0731",
        (
            ("岳阳市", "0730", ("华容县", "湘阴县", "平江县", "汨罗市")),
            ("常德市", "0736", ("安乡县", "汉寿县", "澧县", "临澧县", "桃源县")),
            ("衡阳市", "0734", ("衡南县", "衡山县", "衡东县", "祁东县")),
            ("郴州市", "0735", ("桂阳县", "宜章县", "永兴县", "嘉禾县")),
        ),
    ),
    (
        "河南省",
        "HA",
        "郑州市",
        "0371",
        (
            ("洛阳市", "0379", ("孟津县", "新安县", "栾川县", "嵩县", "汝阳县")),
            ("开封市", "0371", ("杞县", "通许县", "尉氏县", "兰考县")),
            ("信阳市", "0376", ("罗山县", "光山县", "新县", "商城县", "固始县")),
            ("南阳市", "0377", ("南召县", "方城县", "西峡县", "镇平县")),
        ),
    ),
    (
        "四川省",
        "SC",
        "成都市",
        "028",
        (
            ("绵阳市", "0816", ("三台县", "盐亭县", "梓潼县", "北川县", "平武县")),
            ("宜宾市", "0831", ("江安县", "长宁县", "高县", "珙县")),
            ("南充市", "0817", ("南部县", "营山县", "蓬安县", "仪陇县")),
            ("乐山市", "0833", ("犍为县", "井研县", "夹江县", "沐川县")),
        ),
    ),
    (
        "江西省",
        "JX",
        "南昌市",
        "0791",
        (
            ("九江市", "0792", ("武宁县", "修水县", "永修县", "德安县", "都昌县")),
            ("赣州市", "0797", ("信丰县", "大余县", "上犹县", "崇义县")),
            ("上饶市", "0793", ("铅山县", "横峰县", "弋阳县", "余干县")),
            ("吉安市", "0796", ("吉水县", "峡江县", "新干县", "永丰县")),
        ),
    ),
    (
        "安徽省",
        "AH",
        "合肥市",
        "0551",
        (
            ("芜湖市", "0553", ("南陵县", "无为市", "湾沚区")),
            ("安庆市", "0556", ("怀宁县", "太湖县", "宿松县", "望江县", "岳西县")),
            ("阜阳市", "0558", ("临泉县", "太和县", "阜南县", "颍上县")),
            ("六安市", "0564", ("霍邱县", "舒城县", "金寨县", "霍山县")),
        ),
    ),
    (
        "广东省",
        "GD",
        "广州市",
        "020",
        (
            ("韶关市", "0751", ("始兴县", "仁化县", "翁源县", "乳源县", "新丰县")),
            ("梅州市", "0753", ("大埔县", "丰顺县", "五华县", "平远县")),
            ("肇庆市", "0758", ("广宁县", "怀集县", "封开县", "德庆县")),
            ("清远市", "0763", ("佛冈县", "阳山县", "连山县", "连南县")),
        ),
    ),
    (
        "陕西省",
        "SN",
        "西安市",
        "029",
        (
            ("宝鸡市", "0917", ("凤翔县", "岐山县", "扶风县", "眉县", "陇县")),
            ("汉中市", "0916", ("南郑县", "城固县", "洋县", "西乡县", "勉县")),
            ("榆林市", "0912", ("府谷县", "靖边县", "定边县", "绥德县")),
            ("安康市", "0915", ("汉阴县", "石泉县", "宁陕县", "紫阳县")),
        ),
    ),
)

TOWNSHIP_SUFFIXES = ("城关镇", "新集镇", "河口镇", "白沙镇", "石桥乡", "高桥镇", "龙泉镇", "平安乡")

# (sector, name at province / city / county level, township name or None)
ORGANISATIONS: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("water_resources", "水利厅", "水利局", "水利局", "水利站"),
    ("government", "人民政府办公厅", "人民政府办公室", "人民政府办公室", "人民政府"),
    ("emergency", "应急管理厅", "应急管理局", "应急管理局", None),
    ("public_security", "公安厅", "公安局", "公安局", "派出所"),
    ("meteorology", "气象局", "气象局", "气象局", None),
    ("natural_resources", "自然资源厅", "自然资源和规划局", "自然资源局", None),
    ("court", "高级人民法院", "中级人民法院", "人民法院", "人民法庭"),
    ("power", "电力公司", "供电公司", "供电公司", "供电所"),
)

SITE_ROOMS = {
    "province": ("视频会议中心", "指挥中心", "数据机房"),
    "city": ("视频会议室", "监控中心", "机房"),
    "county": ("视频会议室", "机房"),
    "township": ("会议室",),
}

EQUIPMENT_CATALOGUE = {
    "MCU": ("Huawei RM8000", "ZTE ZXV10 M900", "Polycom RMX 2000"),
    "terminal": ("Huawei TE40", "Huawei Box600", "ZTE ZXV10 ET312", "Polycom Group 500"),
    "camera": ("Hikvision DS-2CD3T46", "Dahua IPC-HFW4433", "Huawei C3220"),
    "UPS": ("APC SRT3KXLI", "Eaton 9SX 3000", "Huawei UPS2000-A-3KTTL"),
    "recorder": ("Hikvision DS-9632NI", "Dahua NVR5432"),
}

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌辉鹏宇浩凯健俊帆"
    "晨阳林波宁欣颖婷雪琳梅兵海峰亮"
)
STREETS = ("人民路", "解放路", "建设路", "中山路", "滨江大道")
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "177",
    "180",
    "181",
    "182",
    "185",
    "186",
    "187",
    "188",
    "189",
    "198",
    "199",
)
CONTRACT_TIERS = ("gold", "silver", "standard")
ROLES = ("信息科", "办公室", "值班室", "技术科", "网络管理员", "机房管理员")


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _fixed(rng: random.Random, area: str) -> tuple[str, str]:
    """(area code, subscriber) of a valid fixed line."""
    for attempt in range(100):
        # Areas differ in subscriber length (7 or 8 digits): try both.
        length = 8 if len(area) == 3 or attempt % 2 == 0 else 7
        subscriber = str(rng.randint(2, 8)) + "".join(
            str(rng.randint(0, 9)) for _ in range(length - 1)
        )
        if normalise(area + subscriber).valid:
            return area, subscriber
    raise ValueError(f"no valid fixed line found for area code {area}")


def _write_fixed(rng: random.Random, area: str, subscriber: str) -> str:
    trunkless = area[1:]
    style = rng.randrange(8)
    if style == 0:
        return f"+86 {trunkless} {subscriber[:4]} {subscriber[4:]}"
    if style == 1:
        return f"{area}{subscriber}"
    if style == 2:
        return f"0086{trunkless}{subscriber}"
    if style == 3:
        return f"({area}){subscriber}"
    if style == 4:
        return f"{area}-{subscriber}-{rng.randint(800, 8999)}"  # switchboard extension
    return f"{area}-{subscriber}"


def _mobile(rng: random.Random) -> str:
    while True:
        number = rng.choice(MOBILE_PREFIXES) + "".join(str(rng.randint(0, 9)) for _ in range(8))
        if normalise(number).valid:
            return number


def _write_mobile(rng: random.Random, number: str) -> str:
    style = rng.randrange(5)
    if style == 0:
        return f"+86{number}"
    if style == 1:
        return f"+86 {number[:3]} {number[3:7]} {number[7:]}"
    if style == 2:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    return number


def _equipment(rng: random.Random, tier: str, around: date) -> str:
    kinds = ["terminal", "camera", "UPS"]
    if tier in ("province", "city"):
        kinds = ["MCU", "recorder", *kinds]
    items = []
    for kind in kinds:
        for _ in range(rng.randint(1, 2) if kind in ("terminal", "camera") else 1):
            model = rng.choice(EQUIPMENT_CATALOGUE[kind])
            serial = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(12))
            warranty = around + timedelta(days=rng.randint(-900, 1500))
            items.append(f"{kind}|{model}|{serial}|{warranty.isoformat()}")
    return ";".join(items)


def generate(
    seed: int, sites: int = 2000, *, around: date = date(2026, 11, 21)
) -> list[dict[str, str]]:
    """CSV rows (one per contact) describing `sites` sites; ≥3 contacts per site on average.

    `around` anchors warranty dates and guard windows (pass today for a live demo).
    """
    rng = random.Random(seed)
    candidates: list[dict[str, str]] = []
    for province, short, capital, capital_area, cities in GEOGRAPHY:
        for sector_index, (sector, at_province, at_city, at_county, at_township) in enumerate(
            ORGANISATIONS
        ):
            customer = f"C-{short}-{sector_index + 1:02d}"

            def add(
                tier: str,
                org: str,
                place: str,
                area: str,
                km: tuple[int, int],
                customer: str = customer,
                sector: str = sector,
            ) -> None:
                for room in SITE_ROOMS[tier]:
                    candidates.append(
                        {
                            "tier": tier,
                            "organisation": org,
                            "site_name": f"{org}{room}",
                            "address": f"{place}{rng.choice(STREETS)}{rng.randint(1, 399)}号",
                            "area": area,
                            "distance_km": f"{rng.uniform(*km):.1f}",
                            "customer_id": customer,
                            "sector": sector,
                        }
                    )

            org = f"{province}{at_province}"
            add("province", org, f"{province}{capital}", capital_area, (3, 40))
            add("city", f"{capital}{at_city}", f"{province}{capital}", capital_area, (5, 45))
            for city, area, counties in cities:
                add("city", f"{city}{at_city}", f"{province}{city}", area, (60, 420))
                for county in counties:
                    add(
                        "county",
                        f"{county}{at_county}",
                        f"{province}{city}{county}",
                        area,
                        (80, 600),
                    )
                    if at_township:
                        for town in rng.sample(TOWNSHIP_SUFFIXES, 2):
                            add(
                                "township",
                                f"{county}{town}{at_township}",
                                f"{province}{city}{county}{town}",
                                area,
                                (90, 900),
                            )
    rng.shuffle(candidates)
    chosen = candidates[:sites]
    while len(chosen) < sites:  # more sites than places: numbered extra rooms
        extra = dict(rng.choice(candidates))
        extra["site_name"] = f"{extra['site_name']}{len(chosen) - len(candidates) + 2}号"
        chosen.append(extra)

    codes = rng.sample(range(100000, 1000000), sites + 1)
    codes = [c for c in codes if c != 234567][:sites]
    engineers = [(_person(rng), _mobile(rng)) for _ in range(80)]
    customer_engineers: dict[str, list[int]] = {}
    switchboards: dict[str, str] = {}  # organisation → shared switchboard ("" = none)
    rows: list[dict[str, str]] = []

    def emit(site: dict[str, str], code: str, contacts: Sequence[tuple[str, str]]) -> None:
        team = customer_engineers.setdefault(
            site["customer_id"], rng.sample(range(len(engineers)), 2)
        )
        contract = rng.choice(CONTRACT_TIERS)
        warranty = around + timedelta(days=rng.randint(-400, 1200))
        guard = ""
        if rng.random() < 0.03:
            start = datetime.combine(
                around + timedelta(days=rng.randint(-2, 10)), datetime.min.time(), CST
            ) + timedelta(hours=8)
            end = start + timedelta(hours=rng.choice((4, 8, 48)))
            guard = f"{start.isoformat()}/{end.isoformat()}/重要会议保障"
        for index, (name, phone) in enumerate(contacts):
            engineer_index = team[index % len(team)] if index < 2 else None
            row = {
                "site_code": code,
                "organisation": site["organisation"],
                "site_name": site["site_name"],
                "contact_phone": phone,
                "contact_name": name,
                "customer_id": site["customer_id"],
                "tier": site["tier"],
                "address": site["address"] if index == 0 else "",
                "distance_km": site["distance_km"],
                "engineer": engineers[engineer_index][0] if engineer_index is not None else "",
                "engineer_phone": engineers[engineer_index][1]
                if engineer_index is not None
                else "",
                "engineer_interface": "",
                "contract_tier": contract if index == 0 else "",
                "warranty_end": warranty.isoformat() if index == 0 else "",
                "sector": site["sector"],
                "network_notes": (
                    f"专线 {rng.choice(('电子政务外网', 'MSTP 10M', 'SDH 2M', '4G 备份'))}, "
                    f"网关 10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.1"
                    if index == 0
                    else ""
                ),
                "equipment": _equipment(rng, site["tier"], around) if index == 0 else "",
                "guard_windows": guard if index == 0 else "",
            }
            rows.append(row)

    emit(
        {
            "tier": "province",
            "organisation": "湖北省水利厅",
            "site_name": "湖北省水利厅视频会议中心",
            "address": "湖北省武汉市武昌区中南路",
            "distance_km": "8.5",
            "customer_id": "C-HB-01",
            "sector": "water_resources",
        },
        "234567",
        (("值班室", "027-87654321"), ("张伟", "13800138000"), ("李娜", "+86 139 0013 9000")),
    )
    for site, code in zip(chosen[: sites - 1], codes, strict=False):
        contacts: list[tuple[str, str]] = []
        area, subscriber = _fixed(rng, site["area"])
        contacts.append((rng.choice(ROLES), _write_fixed(rng, area, subscriber)))
        org = site["organisation"]
        if org not in switchboards:
            # One organisation in ten lists one switchboard for all its rooms (ambiguous).
            switchboards[org] = f"{area}-{subscriber}" if rng.random() < 0.1 else ""
        if switchboards[org]:
            contacts.append(("总机", switchboards[org]))
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.7:
                contacts.append((_person(rng), _write_mobile(rng, _mobile(rng))))
            else:
                a, s = _fixed(rng, site["area"])
                contacts.append((rng.choice(ROLES), _write_fixed(rng, a, s)))
        emit(site, str(code), contacts)
    # Give the first demo engineers phones on the PBX so preferred routing can be seen.
    for row in rows:
        if row["engineer"]:
            for number, (name, _) in enumerate(engineers[:4]):
                if row["engineer"] == name:
                    row["engineer_interface"] = f"PJSIP/10{number + 1:02d}"
    return rows


def write_csv(rows: Sequence[dict[str, str]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
