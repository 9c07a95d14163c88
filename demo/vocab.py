"""Word lists for the fictional company 星海科技 (Xinghai Technology), a B2B seller of IT equipment,
software and services in mainland China. Tuples, never sets: iteration order must be stable."""

from __future__ import annotations

COMPANY_DOMAIN = "xinghai-tech.cn"
REPORTING_CURRENCY = "CNY"

# (region, cities); a team belongs to one region, its accounts sit in that region's cities.
REGIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("华东", ("上海", "杭州", "南京", "苏州", "宁波", "合肥")),
    ("华北", ("北京", "天津", "石家庄", "济南", "青岛")),
    ("华南", ("广州", "深圳", "厦门", "东莞", "佛山")),
    ("华中", ("武汉", "长沙", "郑州", "南昌")),
    ("西南", ("成都", "重庆", "昆明", "贵阳")),
    ("东北", ("沈阳", "大连", "哈尔滨", "长春")),
)

# Surnames and given names with their pinyin, for names and e-mail addresses.
SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("高", "gao"),
    ("林", "lin"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
)
GIVEN_NAMES: tuple[tuple[str, str], ...] = (
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("磊", "lei"),
    ("强", "qiang"),
    ("洋", "yang"),
    ("艳", "yan"),
    ("勇", "yong"),
    ("军", "jun"),
    ("杰", "jie"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀英", "xiuying"),
    ("丽", "li"),
    ("俊杰", "junjie"),
    ("志强", "zhiqiang"),
    ("晓东", "xiaodong"),
    ("海燕", "haiyan"),
    ("建华", "jianhua"),
    ("文博", "wenbo"),
    ("子涵", "zihan"),
    ("欣怡", "xinyi"),
    ("浩然", "haoran"),
    ("佳琪", "jiaqi"),
    ("宇航", "yuhang"),
)

# (industry, name fragments that fit it)
INDUSTRIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("制造业", ("机械", "精密制造", "电子", "汽车零部件")),
    ("零售", ("商贸", "百货", "连锁超市")),
    ("物流", ("物流", "供应链", "快运")),
    ("金融", ("投资", "融资租赁", "保险代理")),
    ("医疗健康", ("医疗器械", "健康科技", "医药")),
    ("教育", ("教育科技", "培训", "文化传媒")),
    ("信息技术", ("信息技术", "软件", "网络科技", "数据服务")),
    ("建筑地产", ("建设工程", "建筑设计", "物业管理")),
    ("能源", ("新能源", "能源科技", "环保科技")),
    ("餐饮酒店", ("餐饮管理", "酒店管理")),
)
BRAND_WORDS: tuple[str, ...] = (
    "华腾",
    "鼎盛",
    "瑞丰",
    "恒通",
    "金桥",
    "宏远",
    "星辰",
    "博达",
    "盛世",
    "天宇",
    "嘉禾",
    "汇通",
    "东方",
    "新华",
    "永信",
    "中联",
    "联创",
    "达利",
    "信诚",
    "正泰",
    "安达",
    "凯旋",
    "明辉",
    "锦程",
    "华信",
    "万邦",
    "立德",
    "同创",
    "海纳",
    "佳和",
    "卓越",
    "远航",
    "德润",
    "启明",
    "兴业",
    "银河",
)
COMPANY_SUFFIXES: tuple[str, ...] = ("有限公司", "股份有限公司", "集团有限公司")

CONTACT_TITLES: tuple[str, ...] = (
    "采购经理",
    "总经理",
    "IT主管",
    "财务总监",
    "行政经理",
    "运营总监",
    "技术负责人",
    "副总裁",
)

# (category, low list price, high list price, mean quantity per line of a repeat order,
#  unit cost share low/high)
PRODUCT_CATEGORIES: tuple[tuple[str, float, float, float, float, float], ...] = (
    ("笔记本电脑", 4_000, 12_000, 2.0, 0.70, 0.82),
    ("台式机", 3_000, 8_000, 2.0, 0.70, 0.82),
    ("显示器", 800, 3_000, 3.0, 0.65, 0.78),
    ("打印机", 1_500, 9_000, 1.2, 0.62, 0.75),
    ("网络设备", 500, 20_000, 2.0, 0.55, 0.70),
    ("服务器", 15_000, 80_000, 1.05, 0.68, 0.80),
    ("软件许可", 500, 30_000, 4.0, 0.20, 0.40),
    ("云服务", 1_000, 20_000, 1.5, 0.35, 0.55),
    ("办公耗材", 20, 300, 15.0, 0.50, 0.70),
    ("技术服务", 2_000, 50_000, 1.0, 0.40, 0.60),
)
PRODUCT_SERIES: tuple[str, ...] = ("星海", "星耀", "云帆", "启航", "智联", "锐捷", "擎天", "灵犀")

LEAD_SOURCES: tuple[str, ...] = (
    "website",
    "referral",
    "trade_show",
    "cold_call",
    "partner",
    "wechat",
    "online_ads",
)
# Relative weights of lead sources among converted and among other leads: referrals and partners
# convert best, online ads worst, so the lead funnel differs by source.
LEAD_SOURCE_WEIGHTS_CONVERTED: tuple[float, ...] = (0.22, 0.20, 0.12, 0.08, 0.16, 0.14, 0.08)
LEAD_SOURCE_WEIGHTS_OTHER: tuple[float, ...] = (0.24, 0.06, 0.12, 0.16, 0.06, 0.14, 0.22)

LOST_REASONS: tuple[str, ...] = (
    "价格过高",
    "选择了竞争对手",
    "预算不足",
    "项目取消",
    "决策延期",
    "产品不匹配",
)
ORDER_CHANNELS: tuple[str, ...] = ("direct_sales", "online_store", "distributor", "wechat_mall")
ORDER_CHANNEL_WEIGHTS: tuple[float, ...] = (0.45, 0.25, 0.20, 0.10)
RETURN_REASONS: tuple[str, ...] = ("质量问题", "发错货", "运输损坏", "客户不再需要", "规格不符")

# activity types as (activity_type, direction, rate per employed working day per rep)
ACTIVITY_KINDS: tuple[tuple[str, str, float], ...] = (
    ("call", "outbound", 0.80),
    ("email", "outbound", 0.40),
    ("email", "inbound", 0.30),
    ("visit", "outbound", 0.25),
    ("meeting", "outbound", 0.18),
    ("demo", "outbound", 0.08),
)
ACTIVITY_OUTCOMES: dict[str, tuple[str, ...]] = {
    "call": ("已接通", "未接听", "约定回访", "有意向"),
    "email": ("已发送", "已回复", "待跟进"),
    "visit": ("拜访顺利", "需求确认", "约定演示"),
    "meeting": ("方案讨论", "商务谈判", "需求确认"),
    "demo": ("演示完成", "客户满意", "需二次演示"),
}

CASE_CATEGORIES: tuple[str, ...] = ("complaint", "inquiry", "return", "technical")
CASE_CATEGORY_WEIGHTS: tuple[float, ...] = (0.22, 0.40, 0.13, 0.25)
CASE_SEVERITIES: tuple[str, ...] = ("low", "medium", "high")
CASE_SEVERITY_WEIGHTS: tuple[float, ...] = (0.50, 0.35, 0.15)
CASE_CHANNELS: tuple[str, ...] = ("phone", "email", "wechat", "web")
CASE_CHANNEL_WEIGHTS: tuple[float, ...] = (0.35, 0.20, 0.35, 0.10)

# Free-text survey comments; some carry a comma or quotes, so files exercise RFC 4180 quoting.
SURVEY_COMMENTS_GOOD: tuple[str, ...] = (
    "服务很好",
    "交货及时, 质量可靠",
    "销售代表很专业",
    '产品"性价比"很高',
    "会推荐给同行",
)
SURVEY_COMMENTS_BAD: tuple[str, ...] = (
    "发货太慢",
    "售后响应不及时",
    "价格偏高, 希望有更多折扣",
    "产品有质量问题",
    "沟通不顺畅",
)

EXPENSE_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "personnel": ("工资及社保",),
    "marketing": ("展会费用", "线上广告投放", "行业峰会赞助", "宣传物料"),
    "incentives": ("销售奖金", "季度激励", "渠道返利"),
    "travel": ("客户拜访差旅", "机票酒店", "市内交通"),
    "training": ("销售技能培训", "产品认证培训"),
    "tools": ("CRM 订阅", "办公软件订阅", "电话系统费用"),
    "other": ("办公杂费", "招待费", "快递费"),
}
# Planned monthly spend per rep by category (CNY); personnel comes from salaries.
EXPENSE_PLAN_PER_REP: dict[str, float] = {
    "marketing": 3_000.0,
    "incentives": 2_500.0,
    "travel": 4_000.0,
    "training": 800.0,
    "tools": 600.0,
    "other": 500.0,
}

# Demand by calendar month: Spring Festival dip in February, Golden Week in October,
# mid-year 618 and Double 11 / year-end peaks.
MONTH_SEASONALITY: tuple[float, ...] = (1.00, 0.70, 1.00, 1.00, 0.95, 1.10, 0.95, 0.90, 1.05, 0.90, 1.15, 1.20)
ANNUAL_GROWTH = 0.12
