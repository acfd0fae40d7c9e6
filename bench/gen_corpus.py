#!/usr/bin/env python3
"""bench/gen_corpus.py: a deterministic mail corpus for bench/store.sh, written as a Maildir.

A benchmark helper, not a test (see docs/BENCHMARKS.md). Python standard library only.

    python3 bench/gen_corpus.py --out DIR [--count N] [--seed S] [--manifest FILE]
    python3 bench/gen_corpus.py --queries      # the benchmark queries, tab-separated

The same seed and count give the same bytes (file names, contents and mtimes). What it makes:

- Chinese (about 55 %), English (35 %) and mixed (10 %) messages, the text drawn from a
  built-in list of a few hundred common Chinese words and English words, plus a long tail of
  generated words, with Zipf-like frequencies; whole messages from 2 to 50 KB (log-uniform,
  skewed towards short mail: median about 6 KB);
- Chinese display names and subjects as RFC 2047 encoded words in UTF-8, GB2312 and GB18030
  (B and Q), bodies in UTF-8 (8bit, base64, quoted-printable) and GB18030 (base64);
- HTML bodies (multipart/alternative, some HTML only); about 15 % with base64 attachments of
  PDF-like random bytes, a few with Chinese file names in RFC 2231 form (with continuations);
- threads (In-Reply-To and References up to ten ancestors, "Re:" / "回复:" subjects), Date
  headers spread over 2014-2026 in several zones;
- Maildir flags: about 70 % in cur/ with ":2,S" (a few also R or F), the rest in new/;
  every file's mtime is its date.

The query words are fixed (QUERIES below) and planted at fixed rates, so every system is asked
the same questions; --manifest writes the counts the generator knows (messages whose decoded
subject, text or attachment name holds each query; senders by address, or by display name
where one is shown) next to the size statistics.
"""

import argparse
import base64
import binascii
import bisect
import json
import os
import random
import re
import sys
import time

# ---- the benchmark queries ------------------------------------------------------------------
# name, Yizhan query, notmuch query, what the generator counts (kind, value)
RARE_ZH = "鲲鹏"        # planted in ~0.1 % of messages; neither character occurs elsewhere
COMMON_ZH = "会议"      # a core word at a rank that puts it in roughly a third of Chinese mail
RARE_EN = "zeugma"      # planted in ~0.1 % of messages
COMMON_EN = "project"
PHRASE_ZH = "季度报告"  # planted in ~1 % of Chinese messages (and subjects), also occurs by chance
FROM_ADDR = "zhang.wei@example.cn"  # a frequent sender, display name 张伟
FROM_ZH = "张伟"
SUBJECT_EN = "invoice"
SUBJECT_ZH = "周报"

QUERIES = [
    ("zh-rare", RARE_ZH, RARE_ZH, ("text", RARE_ZH)),
    ("zh-common", COMMON_ZH, COMMON_ZH, ("text", COMMON_ZH)),
    ("en-rare", RARE_EN, RARE_EN, ("word", RARE_EN)),
    ("en-common", COMMON_EN, COMMON_EN, ("word", COMMON_EN)),
    ("zh-phrase4", '"%s"' % PHRASE_ZH, '"%s"' % PHRASE_ZH, ("text", PHRASE_ZH)),
    ("from-addr", "from:" + FROM_ADDR, "from:" + FROM_ADDR, ("from", FROM_ADDR)),
    ("from-zh", "from:" + FROM_ZH, "from:" + FROM_ZH, ("fromname", FROM_ZH)),
    ("subject-en", "subject:" + SUBJECT_EN, "subject:" + SUBJECT_EN, ("subjword", SUBJECT_EN)),
    ("subject-zh", "subject:" + SUBJECT_ZH, "subject:" + SUBJECT_ZH, ("subject", SUBJECT_ZH)),
]

# ---- vocabulary ----------------------------------------------------------------------------
ZH_WORDS = """
我们 你们 他们 今天 明天 昨天 上午 下午 晚上 时间 问题 工作 公司 部门 领导 同事 客户 合同 项目 方案
计划 安排 通知 报告 总结 汇报 讨论 确认 处理 完成 进行 需要 可以 已经 目前 情况 进度 资料 文件 附件
邮件 回复 发送 收到 请查 查收 谢谢 感谢 辛苦 麻烦 尽快 及时 重要 紧急 注意 事项 要求 标准 流程 制度
管理 系统 平台 数据 服务 产品 市场 销售 财务 预算 费用 报销 发票 采购 供应 质量 技术 开发 测试 上线
版本 功能 需求 设计 用户 体验 优化 升级 维护 故障 修复 安全 风险 评估 审核 批准 签字 盖章 合作 伙伴
会议室 培训 学习 交流 分享 活动 组织 参加 出席 地点 北京 上海 广州 深圳 杭州 成都 南京 武汉 西安 天津
季度 年度 月度 第一 第二 第三 第四 目标 业绩 考核 结果 分析 建议 意见 反馈 改进 调整 变更 更新 发布
价格 报价 订单 发货 物流 仓库 库存 付款 收款 账户 银行 税务 法务 人事 招聘 面试 入职 离职 假期 加班
出差 行程 机票 酒店 会面 拜访 接待 联系 电话 微信 方式 地址 办公室 大楼 楼层 会议纪要 议程 主持 记录
整理 提交 审批 通过 驳回 修改 补充 说明 解释 原因 影响 范围 程度 优先级 负责人 团队 成员 小组 支持
协调 沟通 配合 推进 落实 执行 跟进 检查 监督 验收 交付 上线后 运营 推广 品牌 宣传 渠道 合规 政策
规定 法规 条款 协议 授权 权限 账号 密码 登录 注册 网站 应用 手机 电脑 网络 服务器 数据库 备份 恢复
迁移 部署 配置 环境 生产 成本 利润 收入 支出 增长 下降 同比 环比 统计 报表 图表 演示 文档 模板 格式
内容 标题 正文 签名 问候 祝好 此致 敬礼 您好 大家 各位 全体 员工 经理 总监 主管 专员 助理 老师 同学
学校 学院 课程 考试 成绩 论文 研究 实验 报名 截止 日期 延期 提前 推迟 取消 恢复正常 国庆 春节 中秋
元旦 周末 工作日 上班 下班 早上 中午 傍晚 本周 下周 上周 本月 下月 今年 明年 去年 新年 快乐 顺利 愉快
健康 平安 成功 发展 创新 未来 机会 挑战 能力 经验 水平 效率 速度 准确 详细 简单 复杂 主要 基本 具体
"""
ZH_WORDS = ZH_WORDS.split()
ZH_FUNC = "的 了 是 在 和 有 也 就 都 要 与 及 对 将 把 被 从 向 请 为 这个 一下 如果 因为 所以 但是".split()
ZH_PUNCT_MID = ["，"] * 6 + ["、", "："]
ZH_PUNCT_END = ["。"] * 6 + ["！", "？", "；"]

EN_WORDS = """
the of and to in is for that on with as you it be this are we please at by from have will not
or our can an your all has if more about which was but new can one time team meeting report
update review today tomorrow week month year next last thanks thank regards best note attached
file document draft version final plan schedule agenda minutes action items follow up call
email message reply forward send sent received customer client partner vendor supplier order
price quote contract agreement budget cost revenue sales market product service support issue
problem bug fix release build test deploy server database network system user account access
password security policy compliance audit risk quality process workflow approval request
change status progress deadline milestone delivery shipping payment bank transfer tax legal
office building floor room conference travel flight hotel visit trip expense reimbursement
training course workshop event launch campaign brand design feature requirement specification
analysis data chart figure table summary details question answer feedback comment suggestion
proposal option decision priority owner lead manager director engineer developer analyst
department group company board member staff employee holiday leave vacation weekend morning
afternoon evening lunch dinner coffee phone mobile address website portal platform cloud
backup restore migration upgrade maintenance window outage incident ticket escalation root
cause impact scope estimate forecast target goal result performance growth increase decrease
quarter annual monthly weekly daily share discuss confirm check complete finish start begin
continue prepare provide include require receive arrange organize handle manage improve
reduce support deliver approve reject update verify ensure consider recommend remind
important urgent soon asap possible available ready pending open closed resolved again also
just still already only well very much many some any each every other another same different
""".split()
EN_FIRST = ("James John Robert Michael David William Richard Joseph Thomas Charles Mary Patricia "
            "Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Daniel Matthew Anthony "
            "Mark Paul Steven Andrew Kevin Brian Emily Emma Olivia Sophia Laura Anna Grace Helen "
            "Peter Alice Henry").split()
EN_LAST = ("Smith Johnson Williams Brown Jones Garcia Miller Davis Wilson Anderson Taylor Thomas "
           "Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker Young "
           "Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts "
           "Carter Phillips Evans Turner").split()
ZH_SURNAMES = [("张", "zhang"), ("王", "wang"), ("李", "li"), ("刘", "liu"), ("陈", "chen"),
               ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
               ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
               ("郭", "guo"), ("何", "he"), ("高", "gao"), ("林", "lin"), ("罗", "luo"),
               ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"),
               ("许", "xu"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"),
               ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"),
               ("袁", "yuan"), ("潘", "pan"), ("于", "yu"), ("蒋", "jiang"), ("蔡", "cai")]
ZH_GIVEN = [("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
            ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
            ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"),
            ("明", "ming"), ("超", "chao"), ("秀英", "xiuying"), ("霞", "xia"), ("平", "ping"),
            ("刚", "gang"), ("桂英", "guiying"), ("华", "hua"), ("建国", "jianguo"),
            ("文", "wen"), ("斌", "bin"), ("宇", "yu"), ("浩", "hao"), ("凯", "kai"),
            ("晨", "chen"), ("欣", "xin"), ("婷", "ting"), ("雪", "xue"), ("琳", "lin"),
            ("颖", "ying"), ("倩", "qian"), ("鑫", "xin"), ("波", "bo"), ("辉", "hui"),
            ("健", "jian"), ("亮", "liang"), ("红", "hong"), ("玉兰", "yulan"),
            ("志强", "zhiqiang"), ("海燕", "haiyan"), ("晓明", "xiaoming"), ("子涵", "zihan"),
            ("一鸣", "yiming"), ("思远", "siyuan"), ("佳怡", "jiayi")]
DOMAINS = ["example.cn", "corp.example.com", "mail.example.org", "example.net", "dept.example.cn",
           "partner.example.com"]
ZONES = [(480, "+0800")] * 7 + [(0, "+0000"), (-300, "-0500"), (60, "+0100"), (540, "+0900")]
MAILERS = ["Foxmail 7.2.25", "Microsoft Outlook 16.0", "Mozilla Thunderbird 115.5.0",
           "Apple Mail (2.3731)", "Coremail Webmail", None, None]
EN_SUBJECTS = ["{w} {w} update", "Meeting notes: {w} {w}", "Invoice {n} for {w} {w}",
               "Re: {w} schedule", "Question about the {w} {w}", "{W} review for {month}",
               "Action items: {w} and {w}", "Reminder: {w} {w} deadline", "{W} {w} report",
               "FYI: {w} {w}", "Invoice and payment for {w}", "Weekly {w} summary",
               "{W} plan for Q{q}", "Draft {w} proposal", "Follow up on {w} {w}"]
ZH_SUBJECTS = ["关于{z}{z}的通知", "{z}{z}汇报", "【重要】{z}{z}", "{z}{z}安排", "请查收：{z}{z}",
               "{z}{z}会议纪要", "{z}周报（第{n}周）", "第{q}季度报告", "{z}{z}{z}", "{z}{z}进展",
               "转发：{z}{z}", "{z}{z}申请", "周报：{z}{z}", "{z}{z}确认", "{z}{z}的问题"]
MONTHS = "January February March April May June July August September October November December".split()
ATT_NAMES_EN = ["report", "invoice", "contract", "slides", "minutes", "budget", "scan", "quote",
                "plan", "summary", "receipt", "proposal"]
ATT_NAMES_ZH = ["季度报告", "合同扫描件", "会议纪要", "项目计划书", "发票", "报价单", "财务预算表",
                "培训资料", "年度总结", "需求说明书"]
ATT_EXT = [(".pdf", "application/pdf")] * 6 + [(".docx", "application/vnd.openxmlformats-"
           "officedocument.wordprocessingml.document"), (".xlsx", "application/vnd."
           "openxmlformats-officedocument.spreadsheetml.sheet"), (".zip", "application/zip")]


def zipf_cum(n, s):
    acc, out = 0.0, []
    for r in range(1, n + 1):
        acc += 1.0 / r ** s
        out.append(acc)
    return out


class Vocab:
    """Function words first (in their order), then the core words in a shuffled order with
    the common query word at a fixed rank, then the generated tail."""

    def __init__(self, rng, func, core, tail, common, common_rank):
        core = [w for w in core if w != common and w not in func]
        rng.shuffle(core)
        core = list(func) + core
        core.insert(common_rank, common)
        self.words = core + tail
        self.cum = zipf_cum(len(self.words), 1.0)

    def take(self, rng, k):
        return rng.choices(self.words, cum_weights=self.cum, k=k)


def make_zh_tail(rng, n):
    chars = sorted({c for w in ZH_WORDS + ZH_FUNC for c in w})
    out, seen = [], set(ZH_WORDS)
    while len(out) < n:
        w = "".join(rng.choice(chars) for _ in range(rng.choice((2, 2, 2, 3, 4))))
        if w not in seen and RARE_ZH[0] not in w and RARE_ZH[1] not in w:
            seen.add(w)
            out.append(w)
    return out


def make_en_tail(rng, n):
    on = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "br",
          "cr", "st", "tr", "pl", "gr", "sh", "ch", "th"]
    nu = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"]
    co = ["", "n", "r", "s", "t", "l", "m", "nd", "st", "ck", "ng", "rt"]
    out, seen = [], set(EN_WORDS) | {RARE_EN, COMMON_EN, SUBJECT_EN}
    while len(out) < n:
        w = "".join(rng.choice(on) + rng.choice(nu) + rng.choice(co)
                    for _ in range(rng.choice((1, 2, 2, 3))))
        if w not in seen and len(w) > 2:
            seen.add(w)
            out.append(w)
    return out


def zh_sentence(rng, vocab):
    parts = []
    for _ in range(rng.randint(1, 3)):
        parts.append("".join(vocab.take(rng, rng.randint(2, 7))))
        parts.append(rng.choice(ZH_PUNCT_MID))
    parts[-1] = rng.choice(ZH_PUNCT_END)
    return "".join(parts)


def en_sentence(rng, vocab):
    w = vocab.take(rng, rng.randint(5, 22))
    w[0] = w[0].capitalize()
    if rng.random() < 0.15:
        w.insert(rng.randrange(1, len(w)), ",")
    return " ".join(w).replace(" ,", ",") + rng.choice((".", ".", ".", ".", "?", "!"))


# ---- encodings -----------------------------------------------------------------------------
def b_words(text, charset, codec, per):
    """RFC 2047 B encoded words, per characters each, folded with newline-space."""
    words = []
    for i in range(0, len(text), per):
        raw = text[i:i + per].encode(codec)
        words.append("=?%s?B?%s?=" % (charset, base64.b64encode(raw).decode()))
    return "\n ".join(words)


def q_words(text, per=12):
    words = []
    for i in range(0, len(text), per):
        raw = text[i:i + per].encode("utf-8")
        enc = "".join(chr(b) if (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122) else
                      "_" if b == 32 else "=%02X" % b for b in raw)
        words.append("=?utf-8?Q?%s?=" % enc)
    return "\n ".join(words)


def encode_cjk_header(rng, text):
    r = rng.random()
    if r < 0.55:
        return b_words(text, "UTF-8", "utf-8", 14)
    if r < 0.75:
        try:
            return b_words(text, "GB2312", "gb2312", 20)
        except UnicodeEncodeError:
            return b_words(text, "GB18030", "gb18030", 20)
    if r < 0.9:
        return b_words(text, "GB18030", "gb18030", 20)
    return q_words(text)


def has_cjk(s):
    return any(ord(c) > 0x2e80 for c in s)


def wrap_en(text, width=72):
    lines, cur, n = [], [], 0
    for w in text.split(" "):
        if n + len(w) + 1 > width and cur:
            lines.append(" ".join(cur))
            cur, n = [], 0
        cur.append(w)
        n += len(w) + 1
    if cur:
        lines.append(" ".join(cur))
    return "\n".join(lines)


def pct_encode(raw):
    return "".join(chr(b) if (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122 or b in b"-._")
                   else "%%%02X" % b for b in raw)


def rfc2231_param(name, value, charset, codec):
    enc = pct_encode(value.encode(codec))
    if len(enc) <= 60:
        return ";\n %s*=%s''%s" % (name, charset, enc)
    out, i, k = [], 0, 0
    while i < len(enc):
        j = min(i + 60, len(enc))
        while j < len(enc) and enc[j - 1] != ";" and "%" in enc[max(j - 2, i):j]:
            j -= 1  # never split inside a %XX triplet
        chunk = enc[i:j]
        out.append(";\n %s*%d*=%s%s" % (name, k, "%s''" % charset if k == 0 else "", chunk))
        i, k = j, k + 1
    return "".join(out)


# ---- the generator -------------------------------------------------------------------------
class Corpus:
    def __init__(self, seed, count):
        self.rng = random.Random(seed)
        self.count = count
        rng = self.rng
        self.zh = Vocab(rng, ZH_FUNC, ZH_WORDS, make_zh_tail(rng, 6000), COMMON_ZH, 150)
        self.en = Vocab(rng, EN_WORDS[:40], EN_WORDS, make_en_tail(rng, 8000), COMMON_EN, 150)
        self.zh_pool = [zh_sentence(rng, self.zh) for _ in range(30000)]
        self.en_pool = [en_sentence(rng, self.en) for _ in range(30000)]
        self.zh_len = [len(s.encode()) for s in self.zh_pool]
        self.en_len = [len(s) for s in self.en_pool]
        self.people = self.make_people()
        self.people_cum = zipf_cum(len(self.people), 0.9)
        # thread bookkeeping per message: message-id, root subject, language, references
        self.msgids, self.subjects, self.langs, self.refs = [], [], [], []
        self.t_start = 1388534400  # 2014-01-01
        self.t_end = 1795996800    # 2026-12-01
        self.truth = {q[0]: 0 for q in QUERIES}
        self.sizes = []
        self.stats = {"attachments": 0, "html": 0, "replies": 0, "new": 0, "gb18030_body": 0,
                      "rfc2231_cjk": 0, "lang": {"zh": 0, "en": 0, "mixed": 0}}

    def make_people(self):
        rng = self.rng
        people, used = [], set()

        def addr(local, dom):
            a, k = "%s@%s" % (local, dom), 2
            while a in used:
                a, k = "%s%d@%s" % (local, k, dom), k + 1
            used.add(a)
            return a
        for _ in range(1200):
            dom = rng.choice(DOMAINS)
            if rng.random() < 0.6:
                (s, sp), (g, gp) = rng.choice(ZH_SURNAMES), rng.choice(ZH_GIVEN)
                if s + g == FROM_ZH:
                    continue
                people.append((s + g, addr(sp + "." + gp, dom)))
            else:
                f, l = rng.choice(EN_FIRST), rng.choice(EN_LAST)
                people.append((f + " " + l, addr(f.lower() + "." + l.lower(), dom)))
        used.add(FROM_ADDR)
        people.insert(3, (FROM_ZH, FROM_ADDR))  # a frequent sender, rank 4
        return people

    def person_header(self, p):
        name, a = p
        rng = self.rng
        self.named = True
        if rng.random() < 0.05:
            self.named = False  # a bare address, no display name
            return a
        if has_cjk(name):
            return "%s <%s>" % (encode_cjk_header(rng, name), a)
        return ('"%s" <%s>' if rng.random() < 0.5 else "%s <%s>") % (name, a)

    def text(self, lang, budget, rare_zh, rare_en, phrase):
        """Paragraphs of pooled sentences until about budget bytes (UTF-8)."""
        rng = self.rng
        paras, size = [], 0
        while size < budget:
            sents = []
            for _ in range(rng.randint(2, 6)):
                use_zh = lang == "zh" or (lang == "mixed" and rng.random() < 0.6)
                if use_zh:
                    i = rng.randrange(len(self.zh_pool))
                    sents.append(self.zh_pool[i])
                    size += self.zh_len[i]
                else:
                    i = rng.randrange(len(self.en_pool))
                    sents.append(self.en_pool[i] + " ")
                    size += self.en_len[i] + 1
            paras.append(sents)
        # plant the query words in random sentences
        for word, zh in ((RARE_ZH, True), (RARE_EN, False), (PHRASE_ZH, True)):
            if (word == RARE_ZH and not rare_zh) or (word == RARE_EN and not rare_en) or \
               (word == PHRASE_ZH and not phrase):
                continue
            p = rng.randrange(len(paras))
            s = rng.randrange(len(paras[p]))
            sent = paras[p][s]
            if zh and has_cjk(sent):
                cut = rng.randrange(len(sent))
                paras[p][s] = sent[:cut] + word + sent[cut:]
            elif has_cjk(sent):
                cut = rng.randrange(len(sent))
                paras[p][s] = sent[:cut] + " " + word + " " + sent[cut:]
            else:
                w = sent.split(" ")
                w.insert(rng.randrange(1, len(w)) if len(w) > 1 else 0, word)
                paras[p][s] = " ".join(w)
        # English is wrapped at spaces; Chinese is not hard-wrapped inside a sentence (mail
        # clients do not either), so words never break across lines: a line per sentence
        out = []
        for sents in paras:
            if lang == "en":
                out.append(wrap_en("".join(sents).strip()))
            else:
                out.append("\n".join(x.strip() for x in sents))
        return out

    def subject(self, lang):
        rng = self.rng

        def fill(t, z, w):
            while "{z}" in t:
                t = t.replace("{z}", z(), 1)
            while "{w}" in t:
                t = t.replace("{w}", w(), 1)
            while "{W}" in t:
                t = t.replace("{W}", w().capitalize(), 1)
            return (t.replace("{n}", str(rng.randint(1, 52))).replace("{q}", str(rng.randint(1, 4)))
                    .replace("{month}", rng.choice(MONTHS)))
        zw = lambda: self.zh.take(rng, 1)[0]
        ew = lambda: self.en.take(rng, 1)[0]
        if lang == "en" or (lang == "mixed" and rng.random() < 0.5):
            return fill(rng.choice(EN_SUBJECTS), zw, ew)
        return fill(rng.choice(ZH_SUBJECTS), zw, ew)

    def choose_enc(self, lang):
        """Charset and transfer encoding of the text parts, and the bytes each UTF-8 byte of
        text becomes (for the size budget)."""
        r = self.rng.random()
        if lang == "en":
            return ("7bit", 1.0) if r < 0.7 else ("qp-utf8", 1.03)
        if r < 0.22:
            return "b64-gb18030", 0.92
        if r < 0.55:
            return "b64-utf8", 1.37
        if r < 0.65:
            return "qp-utf8", 2.9 if lang == "zh" else 2.2
        return "8bit-utf8", 1.0

    @staticmethod
    def body_part(paras, html, enc):
        """One text/plain or text/html part: (headers, body)."""
        if html:
            inner = "\n".join("<p>%s</p>" % p.replace("\n", "<br>\n") for p in paras)
            text = ('<html><head><meta charset="utf-8"></head><body>\n'
                    '<div style="font-family: sans-serif">\n%s\n</div></body></html>\n' % inner)
            ctype = "text/html"
        else:
            text = "\n\n".join(paras) + "\n"
            ctype = "text/plain"
        if enc == "7bit":
            return "Content-Type: %s; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n" % \
                ctype, text
        if enc == "b64-gb18030":
            return ("Content-Type: %s; charset=GB18030\nContent-Transfer-Encoding: base64\n" % ctype,
                    base64.encodebytes(text.encode("gb18030")).decode())
        if enc == "b64-utf8":
            return ("Content-Type: %s; charset=utf-8\nContent-Transfer-Encoding: base64\n" % ctype,
                    base64.encodebytes(text.encode()).decode())
        if enc == "qp-utf8":
            return ("Content-Type: %s; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n"
                    % ctype, binascii.b2a_qp(text.encode()).decode())
        return "Content-Type: %s; charset=utf-8\nContent-Transfer-Encoding: 8bit\n" % ctype, text

    def attachment(self, lang, raw_size):
        rng = self.rng
        ext, ctype = rng.choice(ATT_EXT)
        cjk = lang != "en" and rng.random() < 0.35
        if cjk:
            name = rng.choice(ATT_NAMES_ZH) + ("（%d年%d月）" % (rng.randint(2014, 2026),
                                                              rng.randint(1, 12))
                                               if rng.random() < 0.5 else "") + ext
        else:
            name = "%s-%d-%02d%s" % (rng.choice(ATT_NAMES_EN), rng.randint(2014, 2026),
                                     rng.randint(1, 12), ext)
        head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" if ext == ".pdf" else b"PK\x03\x04\x14\x00\x06\x00"
        data = head + rng.randbytes(max(64, raw_size - len(head)))
        if cjk:
            self.stats["rfc2231_cjk"] += 1
            gb = rng.random() < 0.25
            charset, codec = ("GB18030", "gb18030") if gb else ("UTF-8", "utf-8")
            ct_name = b_words(name, charset, codec, 14)
            disp = "attachment" + rfc2231_param("filename", name, charset, codec)
            hdr = 'Content-Type: %s;\n name="%s"\nContent-Disposition: %s\n' % (ctype, ct_name, disp)
        else:
            hdr = ('Content-Type: %s; name="%s"\nContent-Disposition: attachment; filename="%s"\n'
                   % (ctype, name, name))
        return (hdr + "Content-Transfer-Encoding: base64\n", base64.encodebytes(data).decode()), name

    def message(self, i):
        rng = self.rng
        n = self.count
        lr = rng.random()
        lang = "zh" if lr < 0.55 else "en" if lr < 0.90 else "mixed"
        # threads: a reply to one of the previous 300 messages, in that thread's language
        parent = None
        if i > 0 and rng.random() < 0.35:
            parent = i - rng.randint(1, min(i, 300))
            lang = self.langs[parent]
        self.stats["lang"][lang] += 1
        has_att = rng.random() < 0.15
        if has_att:
            total = int(8192 * (50 * 1024 / 8192) ** rng.random())
        else:
            total = int(2048 * 25 ** (rng.random() ** 2))
        html = rng.random()
        alt = html < 0.20        # multipart/alternative: plain and HTML
        html_only = 0.20 <= html < 0.25
        rare_zh = lang != "en" and rng.random() < 0.0015
        rare_en = lang != "zh" and rng.random() < 0.0025
        phrase = lang != "en" and rng.random() < 0.01

        t = self.t_start + (self.t_end - self.t_start) * i // n + rng.randrange(
            max(1, (self.t_end - self.t_start) // n // 2))
        tz_min, tz = rng.choice(ZONES)
        sender = self.people[bisect.bisect_left(self.people_cum,
                                                rng.random() * self.people_cum[-1])]
        if parent is not None:
            root_subject = self.subjects[parent]
            prefix = "回复: " if has_cjk(root_subject) else "Re: "
            subject = prefix + root_subject
            refs = (self.refs[parent] + [self.msgids[parent]])[-10:]
            self.stats["replies"] += 1
        else:
            root_subject = self.subject(lang)
            if phrase and lang != "en" and rng.random() < 0.3:
                root_subject = "%s%s" % (root_subject, PHRASE_ZH)
            subject = root_subject
            refs = []
        dom = sender[1].split("@")[1]
        msgid = "%d.%06d.%08x@%s" % (t, i, rng.getrandbits(32), dom)
        self.msgids.append(msgid)
        self.subjects.append(root_subject)
        self.langs.append(lang)
        self.refs.append(refs)

        # headers
        date = time.strftime("%a, %d %b %Y %H:%M:%S", time.gmtime(t + tz_min * 60)) + " " + tz
        from_hdr = self.person_header(sender)
        from_named = self.named
        h = ["Return-Path: <%s>" % sender[1],
             "Received: from mx.%s (mx.%s [192.0.2.%d])\n\tby mail.bench.test with ESMTPS id %08X\n"
             "\tfor <bench@bench.test>; %s" % (dom, dom, rng.randint(1, 254),
                                                rng.getrandbits(32), date),
             "From: %s" % from_hdr,
             "To: %s" % ("=?UTF-8?B?5rWL6K+V?= <bench@bench.test>" if lang != "en"
                         else "Bench <bench@bench.test>")]
        if rng.random() < 0.3:
            cc = [self.people[rng.randrange(len(self.people))] for _ in range(rng.randint(1, 4))]
            h.append("Cc: " + ",\n ".join(self.person_header(p) for p in cc))
        h.append("Subject: " + (encode_cjk_header(rng, subject) if has_cjk(subject) else subject))
        h.append("Date: " + date)
        h.append("Message-ID: <%s>" % msgid)
        if refs:
            h.append("In-Reply-To: <%s>" % refs[-1])
            h.append("References: " + "\n ".join("<%s>" % r for r in refs))
        mailer = rng.choice(MAILERS)
        if mailer:
            h.append("X-Mailer: " + mailer)
        h.append("MIME-Version: 1.0")
        head = "\n".join(h)

        att = None
        if has_att:
            att_raw = int((total - 2500) / 1.37 * rng.uniform(0.4, 0.85))
            att, att_name = self.attachment(lang, max(1024, att_raw))
            self.stats["attachments"] += 1
        enc, factor = self.choose_enc(lang)
        self.stats["gb18030_body"] += enc == "b64-gb18030"
        self.stats["html"] += alt or html_only
        b_alt = "----=_alt_%08x" % rng.getrandbits(32)
        b_mix = "----=_mix_%08x" % rng.getrandbits(32)
        greet = rng.choice(("您好：", "各位好：", "大家好：")) if lang != "en" else "Hi,"
        if parent is not None:
            greet = "回复如下：" if lang != "en" else "See below."
        sig = ("此致\n敬礼\n%s" if lang != "en" else "Best regards,\n%s") % sender[0]
        # the text's UTF-8 size for the target: what is left after the headers and the
        # attachment, over the transfer encoding's growth (twice for plain + HTML); then up to
        # three corrections when the result lands outside 2..50 KB
        budget = (total - len(head) - 400 - (len(att[1]) + 300 if att else 0)) / factor
        if alt:
            budget /= 2.2
        for attempt in range(4):
            paras = self.text(lang, max(200, int(budget)), rare_zh, rare_en, phrase)
            paras.insert(0, greet)
            paras.append(sig)
            if alt:
                p1, p2 = self.body_part(paras, False, enc), self.body_part(paras, True, enc)
                body = ('Content-Type: multipart/alternative;\n boundary="%s"\n' % b_alt,
                        "--%s\n%s\n%s\n--%s\n%s\n%s\n--%s--\n" % (b_alt, p1[0], p1[1], b_alt,
                                                                 p2[0], p2[1], b_alt))
            else:
                body = self.body_part(paras, html_only, enc)
            if att:
                msg = "\n".join([head, 'Content-Type: multipart/mixed;\n boundary="%s"' % b_mix,
                                  "", "This is a multi-part message in MIME format.\n",
                                  "--%s\n%s\n%s" % (b_mix, body[0], body[1]),
                                  "--%s\n%s\n%s" % (b_mix, att[0], att[1]), "--%s--\n" % b_mix])
            else:
                msg = head + "\n" + body[0] + "\n" + body[1]
            raw = msg.encode("utf-8")
            if 2048 <= len(raw) <= 50 * 1024 or attempt == 3:
                break
            goal = min(max(total, 2300), 49 * 1024)
            text_now = len(raw) - (len(att[1]) if att else 0) - len(head)
            budget = budget * max(0.05, (goal - len(raw) + text_now) / max(1, text_now))

        # the generator's own answers to the queries
        plain = subject + "\n" + "\n".join(paras) + ("\n" + att_name if att else "")
        low = plain.lower().replace("\n", " ")
        for name, _, _, (kind, val) in QUERIES:
            if kind == "text":
                hit = val in plain.replace("\n", "")
            elif kind == "word":
                hit = re.search(r"(?<![a-z0-9])%s(?![a-z0-9])" % val, low) is not None
            elif kind == "from":
                hit = sender[1] == val
            elif kind == "fromname":
                hit = sender[0] == val and from_named
            elif kind == "subjword":
                hit = val in subject.lower().replace(":", " ").split()
            else:
                hit = val in subject
            self.truth[name] += hit
        return raw, t

    def flags(self):
        r = self.rng.random()
        if r < 0.30:
            return None
        if r < 0.33:
            return "FS"
        if r < 0.43:
            return "RS"
        return "S"


def percentile(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="the Maildir to write (created; must not hold mail yet)")
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--manifest", help="write sizes, counts and the generator's query counts here")
    ap.add_argument("--queries", action="store_true",
                    help="print name<TAB>yizhan query<TAB>notmuch query and exit")
    a = ap.parse_args()
    if a.queries:
        for name, yq, nq, _ in QUERIES:
            print("%s\t%s\t%s" % (name, yq, nq))
        return 0
    if not a.out or a.count < 1:
        ap.error("--out DIR and --count N >= 1 are required")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(a.out, sub), exist_ok=True)
        if os.listdir(os.path.join(a.out, sub)):
            ap.error("%s/%s is not empty" % (a.out, sub))
    t0 = time.time()
    c = Corpus(a.seed, a.count)
    total = 0
    tty = sys.stderr.isatty()
    for i in range(a.count):
        raw, t = c.message(i)
        fl = c.flags()
        if fl is None:
            c.stats["new"] += 1
            path = os.path.join(a.out, "new", "%d.M%06dP1.bench" % (t, i))
        else:
            path = os.path.join(a.out, "cur", "%d.M%06dP1.bench,S=%d:2,%s" % (t, i, len(raw), fl))
        with open(path, "wb") as f:
            f.write(raw)
        os.utime(path, (t, t))
        total += len(raw)
        c.sizes.append(len(raw))
        if tty and i % 1000 == 999:
            print("\rgenerated %d/%d" % (i + 1, a.count), end="", file=sys.stderr)
    if tty:
        print(file=sys.stderr)
    secs = time.time() - t0
    man = {
        "seed": a.seed, "count": a.count, "bytes": total, "seconds": round(secs, 1),
        "size": {"min": min(c.sizes), "p50": percentile(c.sizes, 50),
                 "p95": percentile(c.sizes, 95), "max": max(c.sizes),
                 "mean": round(total / a.count)},
        "stats": c.stats,
        "queries": [{"name": n, "yizhan": yq, "notmuch": nq, "generator_count": c.truth[n]}
                    for n, yq, nq, _ in QUERIES],
    }
    if a.manifest:
        with open(a.manifest, "w") as f:
            json.dump(man, f, ensure_ascii=False, indent=1)
    print("generated %d messages (%.1f MB) in %.1f s into %s" % (a.count, total / 1e6, secs, a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
