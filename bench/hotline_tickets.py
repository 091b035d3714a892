"""Synthetic 12345 hotline exports for benchmarks and tests: realistic tickets, realistic mess.

Tickets are written from templates per matter (noise, stalls, wage arrears, straw burning…), with the noise real
exports carry: greetings and sign-offs, caller names and phone numbers, house numbers, dates inside the text,
repeated complaints from the same caller, empty cells, mojibake, binary junk and absurdly long pastes. The column
names follow a typical platform export. Everything is drawn from a seeded generator, so a seed gives one file.
"""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, timedelta
from pathlib import Path

HEADERS = ["工单编号", "受理时间", "诉求类型", "来电人", "联系电话", "所属区域", "诉求标题", "诉求内容", "办理状态"]

VILLAGES = [
    "青石村",
    "桃源村",
    "柳溪村",
    "石桥村",
    "龙井村",
    "新塘村",
    "白沙村",
    "枫林村",
    "东岗村",
    "西坪村",
    "幸福里社区",
    "滨河社区",
    "南门社区",
    "建设路社区",
    "花园社区",
]
ESTATES = [
    "幸福里小区",
    "滨河花园",
    "锦绣华庭",
    "南门新村",
    "阳光家园",
    "翠湖苑",
    "金桂园",
    "明珠小区",
    "建设路宿舍区",
    "colourful国际",
]
STREETS = ["解放路", "建设路", "人民路", "滨河路", "文化街", "集镇老街", "工业园区大道", "迎宾大道"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
COMPANIES = ["某建筑公司", "华兴鞋厂", "新达物流", "某装修队", "宏远电子厂", "镇上一家餐馆", "某劳务派遣公司"]
GOODS = ["水果", "烧烤", "臭豆腐", "衣服", "蔬菜", "小吃"]
TIMES = ["晚上十一点", "凌晨一点", "半夜十二点", "早上五点", "晚上十点多"]

# (matter, titles, bodies). {v} village, {e} estate, {s} street, {c} company, {g} goods, {t} time, {n} number.
MATTERS: list[tuple[str, list[str], list[str]]] = [
    (
        "噪声",
        ["噪音扰民", "夜间施工噪音", "广场舞噪音"],
        [
            "{e}楼下的KTV每天{t}还在唱歌，噪音很大，严重影响休息，请管一管",
            "{s}旁边工地{t}还在施工，打桩声音特别大，孩子没法睡觉",
            "{e}广场舞音响开得太大，从傍晚一直放到{t}，老人心脏受不了",
            "{e}有住户装修天天电钻声不停，周末早上七点就开始了",
        ],
    ),
    (
        "占道",
        ["占道经营", "流动摊贩"],
        [
            "{s}路口每天有流动摊贩占道卖{g}，把人行道全堵了，行人只能走机动车道",
            "{e}门口一到晚上就摆满卖{g}的摊子，垃圾遍地也没人管",
            "集镇{s}商铺把货物堆到店外面占道经营，电动车都过不去",
        ],
    ),
    (
        "油烟",
        ["餐饮油烟", "烧烤油烟"],
        ["{e}底商的烧烤店油烟直接排到居民楼里，窗户都不敢开", "{s}一家饭店没装油烟净化器，油烟熏得整栋楼都是味道"],
    ),
    (
        "垃圾",
        ["垃圾清运不及时", "垃圾堆放"],
        [
            "{v}的垃圾桶已经满了好几天没人清运，天热臭味很大，苍蝇到处飞",
            "{v}河边有人乱倒生活垃圾，堆成小山了，希望村里组织清理",
            "{e}垃圾分类投放点脏乱差，分类桶形同虚设",
        ],
    ),
    (
        "违建",
        ["违章搭建", "私搭乱建"],
        [
            "{e}{n}栋顶楼住户在楼顶私自搭建彩钢棚，存在安全隐患",
            "{v}有人在耕地上违规盖房子，已经打好地基了",
            "{s}沿街商户私自扩建门面，占用公共绿地",
        ],
    ),
    (
        "物业",
        ["物业不作为", "物业服务差"],
        [
            "{e}物业公司收了物业费不办事，楼道灯坏了半个月没人修",
            "{e}物业乱收停车费，业主质问也不给说法",
            "{e}电梯经常坏，物业一拖再拖不维修，老人上下楼很困难",
        ],
    ),
    (
        "无物业",
        ["老旧小区无人管理"],
        ["{e}是老旧小区，没有物业，化粪池堵了污水横流没人管", "我们{e}一直没有物业，楼道堆满杂物，希望社区牵头管理"],
    ),
    (
        "路灯",
        ["路灯不亮"],
        ["{s}一段路灯坏了一个多月，晚上漆黑一片，出行很不安全", "{v}村口的太阳能路灯全坏了，晚上走路摔了好几个人"],
    ),
    (
        "农村公路",
        ["道路破损"],
        ["{v}通组公路坑坑洼洼，下雨天全是泥水，车子没法走", "{v}到镇上的村道塌了一段，很危险，请尽快修复"],
    ),
    (
        "饮水",
        ["停水", "自来水浑浊"],
        ["{v}已经停水三天了，也没有通知，生活用水都成问题", "{v}自来水发黄有异味，不敢喝，请检测一下水质"],
    ),
    (
        "欠薪",
        ["拖欠工资", "讨薪"],
        [
            "本人在{c}打工，老板拖欠我们工人工资三个月共{n}千元，一直推脱不给",
            "{c}拖欠农民工工资，春节前还没结清，请劳动部门帮忙讨薪",
        ],
    ),
    (
        "低保",
        ["低保申请", "低保咨询"],
        ["家里老人瘫痪在床，我一个人没有收入，想咨询怎么申请低保", "{v}有人家里开着小车还吃低保，反映低保评定不公平"],
    ),
    (
        "医保",
        ["医保缴费", "医保参保"],
        ["孩子刚出生上了户口，想给他交城乡居民医保，在哪里办理", "今年的居民医保缴费怎么交，微信上找不到缴费入口"],
    ),
    (
        "养老保险",
        ["养老保险"],
        ["我今年满六十岁了，城乡居民养老保险什么时候开始领，要办什么手续", "母亲的养老金这个月没有到账，想问一下原因"],
    ),
    (
        "秸秆",
        ["焚烧秸秆"],
        ["{v}田里有人焚烧秸秆，浓烟滚滚，呛得人睁不开眼", "{v}附近每天傍晚都有人烧秸秆和垃圾，空气很差"],
    ),
    (
        "河道",
        ["河道污染", "河水发臭"],
        ["{v}小河被排污，河水发黑发臭，鱼都死了", "{s}边上的河沟有企业偷排污水，晚上排得最多"],
    ),
    (
        "养殖",
        ["养猪场污染"],
        ["{v}一家养猪场粪水直排，臭气熏天，周边村民苦不堪言", "{v}养鸡场离住户太近，气味很大，苍蝇很多"],
    ),
    (
        "纠纷",
        ["邻里纠纷", "土地纠纷"],
        ["和邻居因为宅基地边界吵了好几次，想请村里调解一下", "邻居家空调外机对着我家窗户，协商不成，请求调解"],
    ),
    (
        "宅基地",
        ["宅基地审批"],
        ["家里老房子倒了想重建，宅基地审批要准备哪些材料", "我申请宅基地半年了还没批下来，想问问进度"],
    ),
    (
        "建房",
        ["农村建房"],
        ["{v}村民建房需要办什么手续，去哪里申请规划许可", "想在自家宅基地上翻建三层楼房，能不能建，要审批吗"],
    ),
    (
        "入学",
        ["入学咨询", "学位问题"],
        ["孩子今年上一年级，户口在{v}但住在镇上，能在哪个学校读书", "外地务工人员子女入学需要什么材料，学位紧张怎么办"],
    ),
    (
        "培训",
        ["校外培训"],
        ["{s}有一家培训机构周末偷偷给学生补课，收费很高", "孩子报的培训班跑路了，交了{n}千块钱学费退不回来"],
    ),
    (
        "食品",
        ["食品安全"],
        ["在{s}一家小吃店吃完拉肚子，怀疑食材不新鲜，后厨卫生很差", "{v}有人家里办酒席请的流动厨师，没有健康证"],
    ),
    (
        "消费",
        ["消费纠纷", "退费"],
        ["在{s}一家理发店办了卡，现在店关门了，卡里还有{n}百元", "买的电动车刚骑一周就坏了，商家拒绝退换"],
    ),
    (
        "电动车",
        ["电动车充电隐患"],
        ["{e}有人把电动车推进楼道里充电，飞线充电很危险", "{e}没有电动车充电桩，大家只能从楼上拉电线下来充电"],
    ),
    ("燃气", ["燃气安全"], ["{s}一家饭店的液化气瓶放在门口暴晒，很危险", "{e}闻到很大的燃气味，怀疑管道漏气"]),
    (
        "消防通道",
        ["消防通道堵塞"],
        ["{e}消防通道天天被私家车堵着，物业不管，万一着火消防车进不来", "{e}楼道里堆满纸箱杂物，消防栓也被挡住了"],
    ),
    (
        "自建房",
        ["危房", "自建房安全"],
        ["{v}有一栋老房子墙体开裂严重，随时可能倒塌，旁边就是小学", "{s}一栋自建房加盖到五层开了民宿，担心结构不安全"],
    ),
    (
        "残疾",
        ["残疾人补贴"],
        ["家里有二级残疾人，想问一下残疾人两项补贴怎么申请", "残疾人护理补贴停发了两个月，不知道什么原因"],
    ),
    ("高龄", ["高龄津贴"], ["父亲今年八十五岁了，高龄津贴怎么申请，每月有多少"]),
    (
        "退役军人",
        ["退役军人事务"],
        ["我是退役军人，想咨询优待证怎么办理", "退伍回来想找工作，退役军人服务站能提供什么帮助"],
    ),
    ("户籍", ["户口迁移"], ["想把户口从{v}迁到镇上，需要什么材料，在哪里办", "身份证丢了，补办要去哪里，多久能拿到"]),
    ("不动产", ["房产证办理"], ["买的{e}的房子交房三年了还办不了不动产权证", "想咨询不动产登记过户需要什么手续"]),
    (
        "食品许可",
        ["食品经营许可证"],
        ["想在{s}开个小吃店，食品经营许可证去哪里办，要多久", "食品经营许可证到期了，延续要什么材料"],
    ),
    (
        "环保处罚",
        ["环境违法举报"],
        ["举报{c}排放废气刺鼻难闻，请环保部门立案处罚", "{v}石料厂粉尘污染严重，多次举报没结果，要求依法处罚"],
    ),
    ("施工许可", ["施工许可"], ["{s}有一个项目没有施工许可证就开工了，请查处", "厂房扩建需要办建筑工程施工许可证吗"]),
    ("电梯", ["电梯安全"], ["{e}{n}栋电梯经常困人，检验合格证早就过期了", "{e}电梯运行时异响很大，担心出事故"]),
    ("渣土", ["渣土车"], ["{s}渣土车晚上飞驰，沿路撒落泥土，路面全是泥", "渣土车没有覆盖篷布，一路撒漏，扬尘很大"]),
    ("扬尘", ["工地扬尘"], ["{s}工地不洒水不覆盖，刮风时满天灰尘，住户家里全是灰"]),
    (
        "公交",
        ["公交线路"],
        ["{v}到县城的班车取消了，老人出行很不方便，希望恢复", "镇上公交车班次太少，等一个小时都等不到"],
    ),
    (
        "诈骗",
        ["电信诈骗"],
        ["接到自称客服的电话让我转账退款，被骗了{n}千元", "{v}有人冒充公检法打电话，好几个老人差点被骗"],
    ),
    (
        "集资",
        ["非法集资"],
        ["{s}有一家公司在搞养老项目，许诺高额回报，动员老人投钱", "亲戚在一个理财群里投了钱，现在平台关了找不到人"],
    ),
    ("征地", ["征地补偿"], ["{v}修路征了我家的地，补偿款到现在还没发", "房屋征收补偿标准不公开，同样面积补偿差很多"]),
    ("森林防火", ["山林烧纸"], ["{v}后山有人上坟烧纸放鞭炮，山上很干，怕引起山火"]),
    ("防汛", ["积水内涝"], ["下大雨{s}积水到膝盖，排水沟堵了，店里都进水了", "{v}河堤有一段被冲垮了，汛期很危险"]),
    ("渔船", ["渔船登记"], ["家里的小渔船要办检验登记，去哪里办"]),
    # Matters no township duty list covers: the report's out-of-list themes.
    (
        "快递",
        ["快递问题"],
        ["快递一直显示派送中但没收到，快递点电话打不通", "{e}的快递柜超时收费太贵，放几个小时就收钱"],
    ),
    (
        "信号",
        ["手机信号差"],
        ["{v}手机信号很差，打电话经常断，希望运营商加装基站", "家里宽带三天两头断网，运营商一直不上门维修"],
    ),
    (
        "网购",
        ["网购纠纷"],
        ["网上买的衣服申请退款商家一直不处理，平台客服也不管", "直播间买的保健品是假货，主播已经联系不上了"],
    ),
    ("银行", ["银行服务"], ["镇上银行网点只开一个窗口，老人取钱排队两个小时", "银行卡被莫名冻结，去柜台也说不清原因"]),
]

GREETINGS = ["", "", "您好，", "市民来电反映：", "网友留言：", "来电人称：", "你好，我想反映一个问题，", "来电咨询："]
ENDINGS = [
    "",
    "",
    "请尽快处理。",
    "希望有关部门尽快解决，谢谢！",
    "此前已多次反映，至今未解决。",
    "请相关部门核实处理。",
    "麻烦尽快安排人来看一下。",
    "来电人要求回复。",
]
KINDS = ["投诉", "求助", "咨询", "建议", "举报"]
STATES = ["已办结", "已办结", "已办结", "办理中", "已回访"]
OUT_OF_LIST = {"快递", "信号", "网购", "银行"}
EARLY_ONLY = {"渔船"}  # a matter that stopped happening: its last ticket is long before the period's end


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(["先生", "女士", "师傅", "阿姨"])


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randint(0, 9)}****{rng.randint(0, 9999):04d}"


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        v=rng.choice(VILLAGES),
        e=rng.choice(ESTATES),
        s=rng.choice(STREETS),
        c=rng.choice(COMPANIES),
        g=rng.choice(GOODS),
        t=rng.choice(TIMES),
        n=rng.randint(2, 30),
    )


def _noisy(body: str, rng: random.Random) -> str:
    text = rng.choice(GREETINGS) + body
    if rng.random() < 0.3:
        text += f"，地址：{rng.choice(ESTATES)}{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(101, 1802)}室"
    if rng.random() < 0.2:
        text += f"，联系电话{_phone(rng).replace('*', str(rng.randint(0, 9)))}"
    if rng.random() < 0.15:
        text = f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日" + text
    if rng.random() < 0.25:
        text = text.replace("，", ",", rng.randint(1, 3))
    text += "。" + rng.choice(ENDINGS) if not text.endswith("。") else rng.choice(ENDINGS)
    return text


def generate(
    rows: int, seed: int = 12345, start: date = date(2023, 1, 1), months: int = 24, messy: bool = True
) -> list[list[str]]:
    rng = random.Random(seed)
    span = months * 30
    weights = [
        0.5 if m in OUT_OF_LIST else 3.0 if m in ("噪声", "占道", "垃圾", "物业", "欠薪") else 1.0
        for m, _, _ in MATTERS
    ]
    out: list[list[str]] = []
    recent: list[list[str]] = []
    for i in range(rows):
        roll = rng.random()
        if recent and roll < 0.06:
            # The same caller files the same complaint again a few days later, slightly reworded.
            prev = rng.choice(recent)
            day = datetime.strptime(prev[1][:10], "%Y-%m-%d") + timedelta(days=rng.randint(1, 20))
            body = (
                prev[7].replace("请尽快处理。", "").replace("此前已多次反映，至今未解决。", "") + "再次反映，仍未处理。"
            )
            row = [
                f"GD{i + 1:08d}",
                day.strftime("%Y-%m-%d %H:%M:%S"),
                prev[2],
                prev[3],
                prev[4],
                prev[5],
                prev[6],
                body,
                rng.choice(STATES),
            ]
        else:
            matter, titles, bodies = rng.choices(MATTERS, weights=weights)[0]
            offset = rng.randint(0, span // 5 if matter in EARLY_ONLY else span)
            when = datetime.combine(start, datetime.min.time()) + timedelta(days=offset, seconds=rng.randint(0, 86399))
            row = [
                f"GD{i + 1:08d}",
                when.strftime("%Y-%m-%d %H:%M:%S"),
                rng.choice(KINDS),
                _name(rng),
                _phone(rng),
                rng.choice(VILLAGES),
                rng.choice(titles),
                _noisy(_fill(rng.choice(bodies), rng), rng),
                rng.choice(STATES),
            ]
            recent.append(row)
            if len(recent) > 50:
                recent.pop(0)
        if messy:
            mess = rng.random()
            if mess < 0.01:
                row[7] = ""  # the platform exported an empty complaint
            elif mess < 0.013:
                row[7] = "".join(rng.choice("#$%&*@~^") for _ in range(rng.randint(5, 20)))  # junk
            elif mess < 0.015:
                row[7] = "\x00\x01\x02PK\x03\x04" + "".join(chr(rng.randint(0x80, 0xFF)) for _ in range(30))
            elif mess < 0.016:
                row[7] = (row[7] + "附件内容：") * 200  # an attachment pasted into the text box
        out.append(row)
    return out


def write_csv(path: Path, rows: list[list[str]], encoding: str = "gbk") -> Path:
    """GBK by default, as most platform exports are. Characters GBK lacks are replaced, as exporters do."""
    with open(path, "w", encoding=encoding, errors="replace", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADERS)
        w.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet("工单")
    ws.append(HEADERS)
    for r in rows:
        # Excel keeps times as real dates; control characters are not allowed in cells.
        cells: list = list(r)
        cells[1] = datetime.strptime(r[1], "%Y-%m-%d %H:%M:%S")
        cells[7] = "".join(ch for ch in r[7] if ch >= " " or ch in "\t\n")
        ws.append(cells)
    book.save(path)
    return path
