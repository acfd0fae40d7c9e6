#!/usr/bin/env python3
"""Audit log: what the auditor sees over /api/v1/audit, exports, who may not read it, and
`yizhan audit verify` on an intact and on tampered copies of audit.db (docs/API.md)."""

import csv
import io
import json
import os
import re
import shutil
import sqlite3
import time
import unittest

import yzharness as yz

D = yz.DOMAIN
AUD = ("aud@" + D, "aud-password-123", "auditor", "Auditor")
SA = ("sa@" + D, "sa-password-123", "sysadmin", "Sys Admin")
SEC = ("sec@" + D, "sec-password-123", "secadmin", "Sec Admin")
U1 = ("uma@" + D, "uma-password-123", "user", "Uma")
EXTRA = [("p%d@%s" % (i, D), "p-password-123", "user", "P%d" % i) for i in range(5)]
UA = "yzproto-audit/1.0"

SRV = None
T0 = None
U1_IP = None
S = {}  # role -> complete Session


def setUpModule():
    global SRV, T0, U1_IP
    T0 = int(time.time())
    SRV = yz.Server(users=[AUD, SA, SEC, U1] + EXTRA, name="test_audit")
    SRV.start()
    try:
        U1_IP = SRV.new_ip()
        S["user"] = yz.login(SRV, U1[0], U1[1], source_ip=U1_IP, user_agent=UA)
        try:
            yz.login(SRV, U1[0], "not-the-password", source_ip=U1_IP, user_agent=UA)
            raise AssertionError("wrong password accepted")
        except yz.LoginFailed as e:
            assert e.resp.status == 401, e.resp
        hostile_signins()
        for u in (AUD, SA, SEC):
            s = yz.login(SRV, u[0], u[1], source_ip=SRV.new_ip())
            s.enrol_and_confirm()
            S[u[2]] = s
    except BaseException:
        SRV.stop(raise_on_error=False)
        raise


# Failed sign-ins for addresses that are awkward in JSON, CSV and spreadsheets. The audit
# records the attempted address as the actor.
CHINESE = "张三@" + D
QUOTES = 'o"brien,\\x@' + D
FORMULA = "=1+1@" + D
NOT_UTF8 = b"\xff\xfeb@" + D.encode()


def hostile_signins():
    ip = SRV.new_ip()
    for name in (CHINESE, QUOTES, FORMULA, NOT_UTF8):
        raw = name if isinstance(name, bytes) else name.encode()
        raw = raw.replace(b"=", b"=3D").replace(b",", b"=2C")
        cnonce = yz.new_cnonce()
        bare = b"n=" + raw + b",r=" + cnonce.encode()
        r = yz.auth_post(SRV, yz.scram_header(b"n,," + bare), source_ip=ip)
        if r.error_code() != "auth_continue":
            continue
        p = yz.parse_auth_params(r.headers["www-authenticate"])
        sf = yz.b64d(p["data"]).decode()
        fin = yz.client_final("whatever-password", bare.decode("latin-1"), sf, cnonce)
        yz.step2(SRV, p["sid"], fin.message, source_ip=ip)


def tearDownModule():
    if SRV:
        SRV.stop()


def audit(path, **params):
    from urllib.parse import urlencode
    q = ("?" + urlencode(params)) if params else ""
    return S["auditor"].get(path + q)


def items(**params):
    params.setdefault("limit", 500)
    r = audit("/api/v1/audit", **params)
    if r.status != 200:
        raise AssertionError("GET /api/v1/audit %r: %r" % (params, r))
    return r.json()["items"]


def mentions(item, text):
    return text in json.dumps(item, ensure_ascii=False)


class Access(unittest.TestCase):
    def test_anonymous(self):
        yz.assert_error(self, SRV.req("GET", "/api/v1/audit"), 401, "unauthorized", "anon")
        yz.assert_error(self, SRV.req("GET", "/api/v1/audit/export?format=csv"), 401,
                        "unauthorized", "anon export")

    def test_other_roles_forbidden(self):
        for role in ("user", "sysadmin", "secadmin"):
            s = S[role]
            self.assertIs(s.me()["session_complete"], True, role)
            for path in ("/api/v1/audit", "/api/v1/audit/export?format=csv"):
                with self.subTest(role=role, path=path):
                    yz.assert_error(self, s.get(path), 403, "forbidden", role + " " + path)

    def test_auditor_reads(self):
        r = audit("/api/v1/audit")
        self.assertEqual(r.status, 200, r)
        self.assertIn("no-store", r.headers.get("cache-control", ""))
        yz.assert_security_headers(self, r, "audit")


class Records(unittest.TestCase):
    def test_shape_and_order(self):
        r = audit("/api/v1/audit")
        j = r.json()
        self.assertIn("next_cursor", j)
        its = j["items"]
        self.assertTrue(its)
        self.assertLessEqual(len(its), 100, "default limit is 100")
        now = time.time()
        for it in its:
            self.assertEqual(set(it) >= {"id", "ts", "actor", "type", "ip", "client",
                                         "detail"}, True, it)
            self.assertIsInstance(it["ts"], int, it)
            self.assertTrue(T0 - 5 <= it["ts"] <= now + 5, "ts %r not unix seconds" % it["ts"])
        ts = [it["ts"] for it in its]
        self.assertEqual(ts, sorted(ts, reverse=True), "not newest first")
        ids = [it["id"] for it in its]
        self.assertEqual(len(ids), len(set(ids)), "duplicate ids")
        if all(isinstance(i, int) for i in ids):
            self.assertEqual(ids, sorted(ids, reverse=True), "ids not newest first")

    def test_signins_of_a_user(self):
        its = items(actor=U1[0])
        ok = [i for i in its if i["type"] == "auth.login.ok"]
        fail = [i for i in its if i["type"] == "auth.login.fail"]
        self.assertTrue(ok, "no auth.login.ok for %s: %r" % (U1[0], its))
        self.assertTrue(fail, "no auth.login.fail for %s: %r" % (U1[0], its))
        for it in (ok[-1], fail[-1]):
            self.assertEqual(it["actor"], U1[0])
            self.assertEqual(it["ip"], U1_IP, it)
            self.assertIsInstance(it["client"], str)
            self.assertTrue(it["client"], "empty client: %r" % it)

    def test_cli_account_create(self):
        its = items(type="account.create")
        for u in [AUD, SA, SEC, U1] + EXTRA:
            self.assertTrue(any(mentions(i, u[0]) for i in its),
                            "no account.create naming %s" % u[0])

    def test_totp_enrol_recorded(self):
        its = items(type="auth.totp.enrol")
        self.assertTrue(any(i["actor"] == AUD[0] for i in its), its)


class RecordTypes(unittest.TestCase):
    """The record types docs/API.md lists for the CLI and the session routes."""

    def test_cli_changes(self):
        def run(*args, input=None):
            cp = SRV.cli_data(*args, input=input)
            self.assertEqual(cp.returncode, 0, cp.stderr)
        run("user", "passwd", EXTRA[0][0], "--password-stdin", input="p-password-456\n")
        run("user", "disable", EXTRA[1][0])
        run("user", "enable", EXTRA[1][0])
        run("user", "totp-reset", EXTRA[2][0])
        run("domain", "add", "audited.test")
        for typ, what in (("account.passwd", EXTRA[0][0]), ("account.disable", EXTRA[1][0]),
                          ("account.enable", EXTRA[1][0]),
                          ("account.totp_reset", EXTRA[2][0]),
                          ("domain.create", "audited.test")):
            with self.subTest(type=typ):
                its = items(type=typ)
                self.assertTrue(any(mentions(i, what) for i in its),
                                "no %s record naming %s: %r" % (typ, what, its))

    def test_logout(self):
        ip = SRV.new_ip()
        s = yz.login(SRV, EXTRA[3][0], EXTRA[3][1], source_ip=ip)
        self.assertEqual(s.logout().status, 204)
        its = items(type="auth.logout", actor=EXTRA[3][0])
        self.assertTrue(its, "no auth.logout record")
        self.assertEqual(its[0]["ip"], ip)

    def test_totp_fail(self):
        s = yz.login(SRV, SA[0], SA[1], source_ip=SRV.new_ip())
        self.assertEqual(s.next, "totp")
        r = s.totp_verify(yz.wrong_code(S["sysadmin"].totp_secret))
        self.assertEqual(r.status, 401, r)
        its = items(type="auth.totp.fail", actor=SA[0])
        self.assertTrue(its, "no auth.totp.fail record")


class HostileValues(unittest.TestCase):
    def test_list_is_valid_json(self):
        r = audit("/api/v1/audit", limit=500)
        self.assertEqual(r.status, 200, r)
        its = json.loads(r.body.decode("utf-8"))["items"]
        actors = {i["actor"] for i in its}
        self.assertIn(CHINESE, actors, "UTF-8 actor not kept as is")
        self.assertIn(QUOTES, actors)
        self.assertIn(FORMULA, actors)

    def test_actor_filter_utf8(self):
        its = items(actor=CHINESE)
        self.assertTrue(its)
        self.assertEqual({i["actor"] for i in its}, {CHINESE})

    def test_csv_is_well_formed(self):
        r = audit("/api/v1/audit/export", format="csv", type="auth.login.fail")
        self.assertEqual(r.status, 200, r)
        try:
            text = r.body.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            self.fail("CSV export is not UTF-8 (%s): %r" % (e, r.body[max(0, e.start - 60):
                                                                       e.end + 20]))
        rows = list(csv.reader(io.StringIO(text, newline="")))
        width = len(rows[0])
        for row in rows[1:]:
            self.assertEqual(len(row), width, "ragged CSV row %r" % row)
        ai = [h.strip().lower() for h in rows[0]].index("actor")
        actors = [row[ai] for row in rows[1:]]
        self.assertIn(CHINESE, actors)
        self.assertTrue(any(QUOTES in a for a in actors), actors)

    def test_csv_formula_injection(self):
        """A spreadsheet must not run an attacker-chosen actor as a formula (OWASP CSV
        injection): cells starting with = + - @ are escaped."""
        r = audit("/api/v1/audit/export", format="csv", type="auth.login.fail")
        text = r.body.decode("utf-8-sig", "replace")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        for row in rows[1:]:
            for cell in row:
                self.assertFalse(cell[:1] in ("=", "+", "@") and FORMULA[1:] in cell,
                                 "formula cell %r" % cell)

    def test_no_record_left_out(self):
        """The list, the CSV and the JSON export show the same records, and the unfiltered
        list has no gaps: no record may vanish from the auditor's view because of its
        content."""
        ids = [i["id"] for i in items()]
        if all(isinstance(i, int) for i in ids):
            self.assertEqual(ids, list(range(max(ids), 0, -1)),
                             "records missing from the list")
        lst = [i["id"] for i in items(type="auth.login.fail")]
        r = audit("/api/v1/audit/export", format="csv", type="auth.login.fail")
        rows = list(csv.reader(io.StringIO(r.body.decode("utf-8-sig", "replace"), newline="")))
        ii = [h.strip().lower() for h in rows[0]].index("id")
        csv_ids = [int(row[ii]) for row in rows[1:]]
        r = audit("/api/v1/audit/export", format="json", type="auth.login.fail")
        j = r.json()
        json_ids = [i["id"] for i in (j["items"] if isinstance(j, dict) else j)]
        self.assertEqual(sorted(lst), sorted(csv_ids), "list vs CSV export")
        self.assertEqual(sorted(json_ids), sorted(csv_ids), "JSON vs CSV export")

    def test_json_export_valid(self):
        r = audit("/api/v1/audit/export", format="json", type="auth.login.fail")
        self.assertEqual(r.status, 200, r)
        json.loads(r.body.decode("utf-8"))


class Filters(unittest.TestCase):
    def test_type(self):
        its = items(type="auth.login.fail")
        self.assertTrue(its)
        self.assertEqual({i["type"] for i in its}, {"auth.login.fail"})

    def test_actor(self):
        its = items(actor=U1[0])
        self.assertTrue(its)
        self.assertEqual({i["actor"] for i in its}, {U1[0]})

    def test_type_and_actor(self):
        its = items(actor=U1[0], type="auth.login.ok")
        self.assertTrue(its)
        self.assertEqual({(i["actor"], i["type"]) for i in its}, {(U1[0], "auth.login.ok")})

    def test_time(self):
        now = int(time.time())
        self.assertEqual(items(**{"from": now + 3600}), [])
        self.assertEqual(items(to=T0 - 3600), [])
        its = items(**{"from": T0 - 5, "to": now + 5})
        self.assertTrue(its)
        self.assertTrue(all(T0 - 5 <= i["ts"] <= now + 5 for i in its))

    def test_paging(self):
        full = items(type="account.create")
        self.assertGreaterEqual(len(full), 9)
        seen = []
        cursor = None
        for _ in range(50):
            params = {"type": "account.create", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            r = audit("/api/v1/audit", **params)
            self.assertEqual(r.status, 200, r)
            j = r.json()
            self.assertLessEqual(len(j["items"]), 2)
            seen += [i["id"] for i in j["items"]]
            cursor = j["next_cursor"]
            if cursor is None:
                break
        self.assertIsNone(cursor, "paging never ended")
        self.assertEqual(seen, [i["id"] for i in full])

    def test_bad_parameters(self):
        for params in ({"cursor": "garbage!"}, {"limit": 0}, {"limit": 501},
                       {"limit": "lots"}, {"from": "yesterday"}):
            with self.subTest(params=params):
                r = audit("/api/v1/audit", **params)
                yz.assert_error(self, r, 400, "bad_request", repr(params))


class Export(unittest.TestCase):
    def test_csv(self):
        r = audit("/api/v1/audit/export", format="csv", type="account.create")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("text/csv"), r.headers)
        cd = r.headers.get("content-disposition", "")
        self.assertRegex(cd, r'^attachment\s*;.*filename="?[^";/\\]+\.csv"?', cd)
        rows = list(csv.reader(io.StringIO(r.body.decode("utf-8-sig"))))
        head = [h.strip().lower() for h in rows[0]]
        for col in ("id", "actor", "type", "ip", "client", "detail"):
            self.assertIn(col, head)
        self.assertTrue("ts" in head or "time" in head, head)
        body = rows[1:]
        self.assertGreaterEqual(len(body), 9)
        ti = head.index("type")
        self.assertEqual({row[ti] for row in body}, {"account.create"})

    def test_json(self):
        r = audit("/api/v1/audit/export", format="json", actor=U1[0])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"))
        cd = r.headers.get("content-disposition", "")
        self.assertRegex(cd, r'^attachment\s*;.*filename="?[^";/\\]+\.json"?', cd)
        j = r.json()
        its = j["items"] if isinstance(j, dict) else j
        self.assertTrue(its)
        self.assertEqual({i["actor"] for i in its}, {U1[0]})
        self.assertIn("auth.login.ok", {i["type"] for i in its})

    def test_bad_format(self):
        yz.assert_error(self, audit("/api/v1/audit/export", format="xml"), 400,
                        "bad_request", "format=xml")

    def test_export_is_audited(self):
        audit("/api/v1/audit/export", format="json", type="account.create")
        its = items(type="audit.export")
        self.assertTrue(any(i["actor"] == AUD[0] for i in its), its)


VERIFY_OK = re.compile(r"audit: (\d+) records, chain intact")


def verify(data):
    cp = yz.run_cli(["audit", "verify", "--data", data], timeout=60)
    return cp.returncode, cp.stdout + cp.stderr


def open_records(path):
    """-> (connection, records table, id column, columns) for the audit table in path."""
    con = sqlite3.connect(path, isolation_level=None)
    best = None
    for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' "
                            "AND name NOT LIKE 'sqlite_%'"):
        cols = [r[1] for r in con.execute('PRAGMA table_info("%s")' % t)]
        n = con.execute('SELECT count(*) FROM "%s"' % t).fetchone()[0]
        score = (("type" in cols) + ("actor" in cols), n)
        if best is None or score > best[0]:
            best = (score, t, cols)
    _, table, cols = best
    idcol = "id" if "id" in cols else "rowid"
    return con, table, idcol, cols


class Tamper:
    """Drop triggers (append-only guards), change the table, put the triggers back."""

    def __init__(self, path):
        self.con, self.table, self.idcol, self.cols = open_records(path)
        self.triggers = list(self.con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type='trigger' AND sql IS NOT NULL"))

    def __enter__(self):
        self.con.execute("BEGIN")
        for name, _sql in self.triggers:
            self.con.execute('DROP TRIGGER "%s"' % name)
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            for _name, sql in self.triggers:
                self.con.execute(sql)
            self.con.execute("COMMIT")
        else:
            self.con.execute("ROLLBACK")
        self.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.con.close()
        return False

    def ids(self):
        return [r[0] for r in self.con.execute('SELECT %s FROM "%s" ORDER BY %s' % (
            self.idcol, self.table, self.idcol))]

    def content_cols(self):
        return [c for c in self.cols if c != self.idcol]

    def row(self, rid):
        cc = self.content_cols()
        return self.con.execute('SELECT %s FROM "%s" WHERE %s=?' % (
            ", ".join('"%s"' % c for c in cc), self.table, self.idcol), (rid,)).fetchone()


class Verify(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = os.path.join(SRV.root, "verify")
        os.makedirs(cls.tmp)
        cls.pristine = SRV.snapshot(os.path.join(cls.tmp, "pristine"))
        cls.n = 0

    def copy(self):
        Verify.n += 1
        d = os.path.join(self.tmp, "case%d" % Verify.n)
        shutil.copytree(self.pristine, d)
        return d

    def assert_names(self, data, ids, what):
        rc, out = verify(data)
        self.assertEqual(rc, 1, "%s: audit verify exit %d: %s" % (what, rc, out))
        m = re.search(r"audit: record (\S+?):", out)
        self.assertIsNotNone(m, "%s: no 'audit: record ID:' line in %r" % (what, out))
        self.assertIn(m.group(1), [str(i) for i in ids], "%s: %r" % (what, out))

    def test_live_intact(self):
        rc, out = verify(SRV.data)
        self.assertEqual(rc, 0, out)
        m = VERIFY_OK.search(out)
        self.assertIsNotNone(m, out)
        self.assertGreaterEqual(int(m.group(1)), len(items(type="account.create")))

    def test_copy_intact(self):
        rc, out = verify(self.pristine)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, VERIFY_OK)

    def test_changed_field(self):
        d = self.copy()
        with Tamper(os.path.join(d, "audit.db")) as t:
            ids = t.ids()
            self.assertGreaterEqual(len(ids), 5)
            mid = ids[len(ids) // 2]
            col = next((c for c in ("actor", "detail", "ip", "client", "type")
                        if c in t.cols), None)
            if col is None:
                col = next(c for c in t.content_cols()
                           if not re.search(r"hash|mac|sig|prev", c, re.I))
            t.con.execute('UPDATE "%s" SET "%s" = coalesce("%s", \'\') || \'x\' WHERE %s=?'
                          % (t.table, col, col, t.idcol), (mid,))
        self.assert_names(d, [mid], "changed %s of record %s" % (col, mid))

    def test_deleted_middle(self):
        d = self.copy()
        with Tamper(os.path.join(d, "audit.db")) as t:
            ids = t.ids()
            k = len(ids) // 2
            mid = ids[k]
            t.con.execute('DELETE FROM "%s" WHERE %s=?' % (t.table, t.idcol), (mid,))
        self.assert_names(d, [mid, ids[k + 1]], "deleted record %s" % mid)

    def test_swapped(self):
        d = self.copy()
        with Tamper(os.path.join(d, "audit.db")) as t:
            ids = t.ids()
            k = len(ids) // 2
            a, b = ids[k], ids[k + 1]
            ra, rb = t.row(a), t.row(b)
            cc = t.content_cols()
            t.con.execute('DELETE FROM "%s" WHERE %s IN (?, ?)' % (t.table, t.idcol), (a, b))
            sql = 'INSERT INTO "%s" (%s, %s) VALUES (%s)' % (
                t.table, t.idcol, ", ".join('"%s"' % c for c in cc),
                ", ".join("?" * (len(cc) + 1)))
            t.con.execute(sql, (a,) + tuple(rb))
            t.con.execute(sql, (b,) + tuple(ra))
        self.assert_names(d, [a, b], "swapped records %s and %s" % (a, b))

    def test_deleted_last(self):
        d = self.copy()
        with Tamper(os.path.join(d, "audit.db")) as t:
            ids = t.ids()
            t.con.execute('DELETE FROM "%s" WHERE %s=?' % (t.table, t.idcol), (ids[-1],))
        self.assert_names(d, [ids[-1], ids[-2]], "deleted last record %s" % ids[-1])


if __name__ == "__main__":
    yz.main()
