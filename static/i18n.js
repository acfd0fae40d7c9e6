// The app's string table. Chinese (zh-CN) first, English second; every key exists in both
// (tests can check this by importing STRINGS). Placeholders look like {name}. The webmail's
// strings live in mail/strings.js and are merged in below.
import { MAIL_STRINGS } from './mail/strings.js';

export const STRINGS = {
  'zh-CN': {
    product: '驿站 Yizhan',
    'nav.mail': '邮件',
    'nav.admin': '管理控制台',
    'header.sign_out': '退出',
    'header.signing_out': '正在退出…',
    'header.account': '当前账号',
    'error.sign_out': '退出失败，请重试。',
    'error.network': '无法连接到服务器，请检查网络。',
    'error.generic': '出错了，请稍后重试。',

    'mail.greeting': '{name}，您好',
    'mail.soon_title': '邮箱即将上线',
    'mail.soon_body': '收件箱、写信、通讯录、日程和网盘正在建设中，很快就与您见面。',
    'mail.signed_in_as': '当前登录：{address}',

    'admin.title': '管理控制台',
    'admin.role_label': '当前角色',
    'admin.soon': '该角色的管理功能即将上线。',
    'admin.desc.sysadmin': '负责系统设置、域名与服务。',
    'admin.desc.secadmin': '负责账号、部门、权限与安全策略。',
    'admin.desc.auditor': '负责查阅与导出审计日志。',
    'admin.desc.user': '普通用户账号没有管理权限。',
    'role.user': '普通用户',
    'role.sysadmin': '系统管理员',
    'role.secadmin': '安全管理员',
    'role.auditor': '审计管理员',

    'audit.title': '审计日志',
    'audit.subtitle': '所有记录按时间倒序排列，防篡改哈希链保护。',
    'audit.filter.from': '开始日期',
    'audit.filter.to': '结束日期',
    'audit.filter.actor': '操作者',
    'audit.filter.actor_ph': '邮箱地址',
    'audit.filter.type': '事件类型',
    'audit.filter.type_ph': '全部类型',
    'audit.filter.apply': '查询',
    'audit.filter.reset': '重置',
    'audit.col.time': '时间',
    'audit.col.actor': '操作者',
    'audit.col.type': '事件',
    'audit.col.ip': 'IP 地址',
    'audit.col.client': '客户端',
    'audit.col.detail': '详情',
    'audit.load_more': '加载更多',
    'audit.loading': '正在加载…',
    'audit.empty': '没有符合条件的审计记录。',
    'audit.end': '已显示全部记录',
    'audit.count': '已加载 {n} 条',
    'audit.export': '导出',
    'audit.export_csv': '导出 CSV',
    'audit.export_json': '导出 JSON',
    'audit.error': '无法加载审计日志：{msg}',
    'audit.error.forbidden': '当前账号无权查看审计日志。',
    'audit.error.range': '开始日期不能晚于结束日期。',
    'audit.type.auth.login.ok': '登录成功',
    'audit.type.auth.login.fail': '登录失败',
    'audit.type.auth.logout': '退出登录',
    'audit.type.auth.session.expired': '会话过期',
    'audit.type.auth.totp.ok': '两步验证通过',
    'audit.type.auth.totp.fail': '两步验证失败',
    'audit.type.auth.totp.enrol': '启用两步验证',
    'audit.type.account.create': '创建账号',
    'audit.type.account.passwd': '修改密码',
    'audit.type.account.disable': '停用账号',
    'audit.type.account.enable': '启用账号',
    'audit.type.account.totp_reset': '重置两步验证',
    'audit.type.domain.create': '添加域名',
    'audit.type.audit.export': '导出审计日志',
    'audit.type.access.denied': '拒绝越权访问',
  },
  en: {
    product: '驿站 Yizhan',
    'nav.mail': 'Mail',
    'nav.admin': 'Admin console',
    'header.sign_out': 'Sign out',
    'header.signing_out': 'Signing out…',
    'header.account': 'Signed in as',
    'error.sign_out': 'Could not sign out. Please try again.',
    'error.network': 'Cannot reach the server. Please check your network.',
    'error.generic': 'Something went wrong. Please try again later.',

    'mail.greeting': 'Hello, {name}',
    'mail.soon_title': 'Your mailbox is on its way',
    'mail.soon_body': 'Inbox, compose, contacts, calendar and files are being built and will arrive soon.',
    'mail.signed_in_as': 'Signed in as {address}',

    'admin.title': 'Admin console',
    'admin.role_label': 'Your role',
    'admin.soon': 'The console for this role is on its way.',
    'admin.desc.sysadmin': 'System settings, domains and services.',
    'admin.desc.secadmin': 'Accounts, departments, permissions and security policies.',
    'admin.desc.auditor': 'Reads and exports the audit log.',
    'admin.desc.user': 'Ordinary accounts have no administrative rights.',
    'role.user': 'User',
    'role.sysadmin': 'System administrator',
    'role.secadmin': 'Security administrator',
    'role.auditor': 'Audit administrator',

    'audit.title': 'Audit log',
    'audit.subtitle': 'Newest first; records are protected by a tamper-evident hash chain.',
    'audit.filter.from': 'From',
    'audit.filter.to': 'To',
    'audit.filter.actor': 'Actor',
    'audit.filter.actor_ph': 'Email address',
    'audit.filter.type': 'Event type',
    'audit.filter.type_ph': 'All types',
    'audit.filter.apply': 'Search',
    'audit.filter.reset': 'Reset',
    'audit.col.time': 'Time',
    'audit.col.actor': 'Actor',
    'audit.col.type': 'Event',
    'audit.col.ip': 'IP address',
    'audit.col.client': 'Client',
    'audit.col.detail': 'Detail',
    'audit.load_more': 'Load more',
    'audit.loading': 'Loading…',
    'audit.empty': 'No audit records match.',
    'audit.end': 'End of log',
    'audit.count': '{n} records loaded',
    'audit.export': 'Export',
    'audit.export_csv': 'Export CSV',
    'audit.export_json': 'Export JSON',
    'audit.error': 'Could not load the audit log: {msg}',
    'audit.error.forbidden': 'This account may not read the audit log.',
    'audit.error.range': 'The start date must not be after the end date.',
    'audit.type.auth.login.ok': 'Signed in',
    'audit.type.auth.login.fail': 'Sign-in failed',
    'audit.type.auth.logout': 'Signed out',
    'audit.type.auth.session.expired': 'Session expired',
    'audit.type.auth.totp.ok': 'Two-step code accepted',
    'audit.type.auth.totp.fail': 'Two-step code rejected',
    'audit.type.auth.totp.enrol': 'Two-step verification enabled',
    'audit.type.account.create': 'Account created',
    'audit.type.account.passwd': 'Password changed',
    'audit.type.account.disable': 'Account disabled',
    'audit.type.account.enable': 'Account enabled',
    'audit.type.account.totp_reset': 'Two-step verification reset',
    'audit.type.domain.create': 'Domain added',
    'audit.type.audit.export': 'Audit log exported',
    'audit.type.access.denied': 'Access denied',
  },
};

for (const lang of Object.keys(MAIL_STRINGS)) Object.assign(STRINGS[lang], MAIL_STRINGS[lang]);

export const DEFAULT_LANG = 'zh-CN';
const warned = new Set();

export function pickLang(lang) {
  if (lang && STRINGS[lang]) return lang;
  if (lang && /^en\b/i.test(lang)) return 'en';
  return DEFAULT_LANG;
}

// Returns t(key, vars): the string for key in lang (falling back to Chinese, then the key).
export function makeT(lang) {
  const table = STRINGS[pickLang(lang)];
  const base = STRINGS[DEFAULT_LANG];
  function t(key, vars) {
    let s = key in table ? table[key] : key in base ? base[key] : key;
    if (s === key && !warned.has(key)) {
      warned.add(key);
      console.warn('i18n: missing string ' + key);
    }
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
    return s;
  }
  t.has = (key) => key in table || key in base;
  return t;
}

export function hasKey(key) {
  return key in STRINGS[DEFAULT_LANG];
}
