#!/usr/bin/env python3
"""HTTP surface: security headers on every kind of response, the one 404, 405 + Allow,
OpenAPI, /metrics, non-TLS on the TLS port, 413 and 415 (docs/API.md "HTTP")."""

import gzip
import re
import socket
import os
import subprocess
import tempfile
import unittest
import urllib.parse

import yzharness as yz

SRV = None
USER = ("hana@example.test", "hana-password-1", "user", "Hana Li")
_SESSION = None


def setUpModule():
    global SRV
    SRV = yz.Server(users=[USER], name="test_http")
    SRV.start()


def tearDownModule():
    if SRV:
        SRV.stop()


def session():
    """One signed-in user session, made on first use."""
    global _SESSION
    if _SESSION is None:
        _SESSION = yz.login(SRV, USER[0], USER[1])
    return _SESSION


UNKNOWN_PATHS = [
    "/nope",
    "/api/v1/nope",
    "/api/v2/x",
    "/static/../../etc/passwd",
    "/%00",
    "/" + "a" * 6000,
    "/static/does-not-exist.js",
    "/api/v1/me/extra",
    "/.git/config",
    "/api/v1/../../../../etc/passwd",
    # A decoded NUL must not cut the path short into a known route or file.
    "/healthz%00",
    "/healthz%00x",
    "/static/app.css%00.png",
    "/login%00.png",
    "/healthz/",
    "/HEALTHZ",
    "//healthz",
]


class SecurityHeaders(unittest.TestCase):
    def test_healthz(self):
        r = SRV.req("GET", "/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"status": "ok"})
        yz.assert_security_headers(self, r, "200 /healthz")

    def test_404(self):
        r = SRV.req("GET", "/nope")
        yz.assert_error(self, r, 404, "not_found", "/nope")
        yz.assert_security_headers(self, r, "404")

    def test_405(self):
        r = SRV.req("POST", "/healthz", body=b"")
        yz.assert_error(self, r, 405, "method_not_allowed", "POST /healthz")
        yz.assert_security_headers(self, r, "405")

    def test_401(self):
        r = SRV.req("GET", "/api/v1/me")
        yz.assert_error(self, r, 401, "unauthorized", "GET /api/v1/me anonymous")
        yz.assert_security_headers(self, r, "401")
        self.assertIn("no-store", r.headers.get("cache-control", ""), "API 401 cache-control")

    def test_login_page(self):
        for path in ("/login", "/login?lang=en"):
            r = SRV.req("GET", path)
            self.assertEqual(r.status, 200, path)
            self.assertTrue(r.headers.get("content-type", "").startswith("text/html"), path)
            yz.assert_security_headers(self, r, path)

    def test_openapi(self):
        r = SRV.req("GET", "/api/v1/openapi.json")
        self.assertEqual(r.status, 200)
        yz.assert_security_headers(self, r, "openapi")

    def test_static(self):
        path = find_static_asset(self)
        r = SRV.req("GET", path)
        self.assertEqual(r.status, 200, path)
        yz.assert_security_headers(self, r, path)

    def test_static_gzip(self):
        """The bundle goes gzipped to a browser that takes gzip, whole to one that does not;
        each representation has its own ETag and answers 304 to it."""
        plain = SRV.req("GET", "/static/app.js")
        self.assertEqual(plain.status, 200)
        self.assertIsNone(plain.headers.get("content-encoding"))
        self.assertEqual(plain.headers.get("vary"), "Accept-Encoding")
        for ae in ("gzip, deflate, br", "br;q=1.0, gzip;q=0.8", "*"):
            r = SRV.req("GET", "/static/app.js", headers={"Accept-Encoding": ae})
            self.assertEqual(r.status, 200, ae)
            self.assertEqual(r.headers.get("content-encoding"), "gzip", ae)
            self.assertEqual(gzip.decompress(r.body), plain.body, ae)
            self.assertLess(len(r.body), len(plain.body) // 2, ae)
            self.assertNotEqual(r.headers["etag"], plain.headers["etag"])
            yz.assert_security_headers(self, r, "gzip " + ae)
        for ae in ("gzip;q=0", "identity", "deflate"):
            r = SRV.req("GET", "/static/app.js", headers={"Accept-Encoding": ae})
            self.assertIsNone(r.headers.get("content-encoding"), ae)
            self.assertEqual(r.body, plain.body, ae)
        r = SRV.req("GET", "/static/app.js", headers={"Accept-Encoding": "gzip",
                                                      "If-None-Match": gz_etag()})
        self.assertEqual(r.status, 304)
        r = SRV.req("GET", "/static/app.js", headers={"If-None-Match": plain.headers["etag"]})
        self.assertEqual(r.status, 304)
        r = SRV.req("GET", "/static/app.js", headers={"Accept-Encoding": "gzip",
                                                      "If-None-Match": plain.headers["etag"]})
        self.assertEqual(r.status, 200, "the identity ETag must not validate the gzip body")

    def test_redirects(self):
        for path in ("/", "/admin"):
            r = SRV.req("GET", path)
            self.assertIn(r.status, (302, 303, 307), "%s anonymous: %r" % (path, r))
            loc = r.headers.get("location", "")
            self.assertEqual(urllib.parse.urlsplit(loc).path, "/login", "%s -> %r" % (path, loc))
            yz.assert_security_headers(self, r, "redirect " + path)

    def test_authenticated_api(self):
        r = session().get("/api/v1/me")
        self.assertEqual(r.status, 200)
        yz.assert_security_headers(self, r, "200 /api/v1/me")
        self.assertIn("no-store", r.headers.get("cache-control", ""), "API cache-control")

    def test_csrf_403(self):
        r = session().delete("/api/v1/session", csrf=False)
        yz.assert_error(self, r, 403, "csrf", "DELETE /api/v1/session without token")
        yz.assert_security_headers(self, r, "403")


def gz_etag():
    return SRV.req("GET", "/static/app.js", headers={"Accept-Encoding": "gzip"}).headers["etag"]


def find_static_asset(tc):
    """The first /static/ file the sign-in page (or, signed in, the app shell) refers to."""
    pages = [SRV.req("GET", "/login")]
    pages.append(session().get("/"))
    for p in pages:
        if p.status != 200:
            continue
        m = re.search(r"""(?:src|href)\s*=\s*["'](/static/[^"'?#]+)""",
                      p.body.decode("utf-8", "replace"))
        if m:
            return m.group(1)
    tc.fail("neither /login nor / refers to a /static/ asset")


class NotFound(unittest.TestCase):
    def test_one_body_for_all(self):
        bodies = {}
        for path in UNKNOWN_PATHS:
            with self.subTest(path=path[:60]):
                r = SRV.req("GET", path)
                yz.assert_error(self, r, 404, "not_found", path[:60])
                yz.assert_security_headers(self, r, "404 " + path[:60])
                self.assertNotIn(b"root:", r.body)
                bodies[path] = (r.body, r.headers.get("content-type"))
        self.assertEqual(len(set(bodies.values())), 1,
                         "404 answers differ: %r" % {k[:40]: v for k, v in bodies.items()})

    def test_same_when_signed_in(self):
        anon = SRV.req("GET", "/api/v1/nope")
        for path in ("/api/v1/nope", "/api/v1/me%00", "/%00"):
            with self.subTest(path=path):
                signed = session().get(path)
                self.assertEqual(signed.status, 404, signed)
                self.assertEqual(anon.body, signed.body)

    def test_other_methods(self):
        anon = SRV.req("GET", "/nope")
        for m in ("POST", "PUT", "DELETE"):
            r = SRV.req(m, "/nope", body=b"")
            self.assertEqual(r.status, 404, m)
            self.assertEqual(r.body, anon.body, m)


class MethodNotAllowed(unittest.TestCase):
    def test_allow_header(self):
        for method, path, allowed in (("POST", "/healthz", "GET"),
                                      ("PUT", "/api/v1/me", "GET"),
                                      ("DELETE", "/api/v1/openapi.json", "GET"),
                                      ("GET", "/api/v1/totp/enrol", "POST"),
                                      ("PATCH", "/api/v1/session", "POST")):
            with self.subTest(method=method, path=path):
                r = SRV.req(method, path, body=b"")
                yz.assert_error(self, r, 405, "method_not_allowed", "%s %s" % (method, path))
                allow = [a.strip().upper() for a in r.headers.get("allow", "").split(",")]
                self.assertIn(allowed, allow, "Allow: %r" % r.headers.get("allow"))
                self.assertNotIn(method, allow)
                yz.assert_security_headers(self, r, "405 %s" % path)


class OpenAPI(unittest.TestCase):
    def test_document(self):
        r = SRV.req("GET", "/api/v1/openapi.json")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"))
        doc = r.json()
        self.assertIsInstance(doc.get("openapi"), str)
        self.assertTrue(doc["openapi"].startswith("3."), doc.get("openapi"))
        self.assertIn("title", doc.get("info", {}))
        self.assertIn("version", doc.get("info", {}))
        paths = doc.get("paths", {})
        self.assertIn("get", paths.get("/api/v1/me", {}))
        self.assertIn("post", paths.get("/api/v1/session", {}))
        self.assertIn("delete", paths.get("/api/v1/session", {}))
        # Every route docs/API.md lists under /api/v1 comes from the same table.
        for p, m in (("/api/v1/session/totp", "post"), ("/api/v1/totp/enrol", "post"),
                     ("/api/v1/totp/confirm", "post"), ("/api/v1/audit", "get"),
                     ("/api/v1/audit/export", "get"), ("/api/v1/openapi.json", "get")):
            self.assertIn(m, paths.get(p, {}), "openapi lacks %s %s" % (m.upper(), p))

    def test_document_validates(self):
        """A real OpenAPI validator (npm @apidevtools/swagger-parser) accepts the document."""
        here = os.path.dirname(os.path.abspath(__file__))
        if not os.path.isdir(os.path.join(here, "..", "..", "node_modules",
                                          "@apidevtools", "swagger-parser")):
            self.fail("node_modules/@apidevtools/swagger-parser missing: run scripts/setup.sh")
        r = SRV.req("GET", "/api/v1/openapi.json")
        with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as f:
            f.write(r.body)
        try:
            cp = subprocess.run(["node", os.path.join(here, "openapi_validate.mjs"), f.name],
                                capture_output=True, text=True, timeout=60)
        finally:
            os.unlink(f.name)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn("valid OpenAPI 3.", cp.stdout)


class SignInPage(unittest.TestCase):
    def test_languages(self):
        zh = SRV.req("GET", "/login")
        en = SRV.req("GET", "/login?lang=en")
        self.assertEqual((zh.status, en.status), (200, 200))
        self.assertNotEqual(zh.body, en.body, "?lang=en gives the same page")

    def test_page_works_under_its_csp(self):
        """The CSP forbids inline script and style: the page must not depend on them."""
        for path in ("/login", "/login?lang=en"):
            html = SRV.req("GET", path).body.decode("utf-8", "replace")
            for m in re.finditer(r"<script\b([^>]*)>(.*?)</script\s*>", html, re.S | re.I):
                self.assertRegex(m.group(1), r"\bsrc\s*=", "%s: inline <script>" % path)
                self.assertEqual(m.group(2).strip(), "", "%s: inline script body" % path)
            self.assertIsNone(re.search(r"<[^>]+\son[a-z]+\s*=", html, re.I),
                              "%s: inline event handler attribute" % path)
            self.assertIsNone(re.search(r"<style\b", html, re.I), "%s: <style> block" % path)
            self.assertIsNone(re.search(r"<[^>]+\sstyle\s*=", html, re.I),
                              "%s: style= attribute" % path)
            self.assertIsNone(re.search(r"""(?:src|href)\s*=\s*["']\s*javascript:""", html,
                                        re.I), "%s: javascript: URL" % path)


class StaticFiles(unittest.TestCase):
    TYPES = {".css": ("text/css",), ".js": ("text/javascript", "application/javascript"),
             ".png": ("image/png",), ".svg": ("image/svg+xml",), ".woff2": ("font/woff2",),
             ".ico": ("image/x-icon", "image/vnd.microsoft.icon")}

    def test_asset_type(self):
        path = find_static_asset(self)
        r = SRV.req("GET", path)
        self.assertEqual(r.status, 200)
        self.assertGreater(len(r.body), 0)
        ext = "." + path.rsplit(".", 1)[-1]
        ct = r.headers.get("content-type", "").split(";")[0].strip().lower()
        if ext in self.TYPES:
            self.assertIn(ct, self.TYPES[ext], "%s served as %r" % (path, ct))
        else:
            self.assertTrue(ct, "%s without Content-Type" % path)

    def test_traversal(self):
        for p in ("/static/..%2f..%2fyizhan.conf", "/static/%2e%2e/%2e%2e/yizhan.conf",
                  "/static/../yizhan.conf", "/static//etc/passwd"):
            r = SRV.req("GET", p)
            self.assertEqual(r.status, 404, p)
            self.assertNotIn(b"[http]", r.body)
            self.assertNotIn(b"root:", r.body)


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+-?\d+)?$")


def parse_metrics(tc, text):
    """Prometheus text format 0.0.4 -> ({family: type}, [(name, labels, value)])."""
    types = {}
    samples = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            m = re.match(r"#\s+TYPE\s+(\S+)\s+(counter|gauge|histogram|summary|untyped)\s*$",
                         line)
            if m:
                types[m.group(1)] = m.group(2)
            continue
        m = _SAMPLE.match(line)
        tc.assertIsNotNone(m, "not a Prometheus sample line: %r" % line)
        v = m.group(3)
        tc.assertRegex(v, r"^(?:[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)|NaN|[+-]Inf)$", line)
        samples.append((m.group(1), m.group(2) or "", float(v)))
    return types, samples


class Metrics(unittest.TestCase):
    def fetch(self):
        r = SRV.req("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers.get("content-type", "").startswith("text/plain"),
                        r.headers.get("content-type"))
        return parse_metrics(self, r.body.decode("utf-8"))

    @staticmethod
    def request_total(types, samples):
        fams = [f for f, t in types.items() if t == "counter" and "request" in f.lower()]
        names = set(fams) | {f + "_total" for f in fams}
        return fams, sum(v for n, _l, v in samples if n in names)

    def test_format_and_content(self):
        types, samples = self.fetch()
        fams, _ = self.request_total(types, samples)
        self.assertTrue(fams, "no counter family with 'request' in its name: %r" % types)
        rss = [(n, v) for n, _l, v in samples if re.search(r"resident|rss", n, re.I)]
        self.assertTrue(rss, "no process RSS metric")
        n, v = rss[0]
        self.assertGreater(v, 1e6 if n.endswith("_bytes") else 0, n)
        # the resolver's cache and the parses kept for the indexer
        self.assertEqual(types.get("yizhan_dns_lookups_total"), "counter", types)
        dns = {l: v for n, l, v in samples if n == "yizhan_dns_lookups_total"}
        self.assertEqual(set(dns), {'{cache="hit"}', '{cache="miss"}'}, dns)
        self.assertTrue(all(v >= 0 for v in dns.values()), dns)
        self.assertEqual(types.get("yizhan_mail_parsed_kept_bytes"), "gauge", types)

    def test_counter_grows(self):
        t1, s1 = self.fetch()
        _, before = self.request_total(t1, s1)
        for _ in range(5):
            SRV.req("GET", "/healthz")
        t2, s2 = self.fetch()
        _, after = self.request_total(t2, s2)
        self.assertGreaterEqual(after - before, 5, "request counters did not count 5 requests")


class Transport(unittest.TestCase):
    def test_plain_http_to_tls_port(self):
        s = socket.create_connection(("127.0.0.1", SRV.port), 5)
        data = b""
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            s.settimeout(5)
            while len(data) < 65536:
                try:
                    chunk = s.recv(4096)
                except (socket.timeout, ConnectionResetError):
                    break
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        first = data.split(b"\r\n", 1)[0]
        self.assertFalse(re.match(rb"HTTP/\d\.\d 200", first), "plain HTTP got %r" % first)
        self.assertNotIn(b'"status":"ok"', data.replace(b" ", b""))
        SRV.assert_alive()

    def test_garbage_then_healthy(self):
        for junk in (b"\x16\x03\x01\x00\x05hello", b"\x00" * 1024, b"GET / HTTP/1.1\r\n" * 50):
            try:
                s = socket.create_connection(("127.0.0.1", SRV.port), 5)
                s.sendall(junk)
                s.settimeout(2)
                try:
                    s.recv(100)
                except (socket.timeout, ConnectionResetError):
                    pass
                s.close()
            except OSError:
                pass
        SRV.assert_alive()


class Limits(unittest.TestCase):
    def test_415_wrong_content_type(self):
        s = session()
        for ct in ("text/plain", "application/x-www-form-urlencoded", None):
            with self.subTest(content_type=ct):
                h = {"Content-Type": ct} if ct else {}
                r = s.req("POST", "/api/v1/session/totp", headers=h, body=b'{"code":"123456"}')
                yz.assert_error(self, r, 415, "unsupported_media_type", "totp as %s" % ct)
                yz.assert_security_headers(self, r, "415")
        r = s.req("POST", "/api/v1/totp/enrol", headers={"Content-Type": "text/plain"},
                  body=b"{}")
        yz.assert_error(self, r, 415, "unsupported_media_type", "enrol as text/plain")

    def test_json_with_charset_accepted(self):
        """`application/json; charset=utf-8` is JSON: the route must not answer 415."""
        r = session().req("POST", "/api/v1/session/totp",
                          headers={"Content-Type": "application/json; charset=utf-8"},
                          body=b'{"code":"123456"}')
        self.assertNotEqual(r.status, 415, r)
        self.assertLess(r.status, 500, r)

    def test_413_oversized_body(self):
        body = b'{"code":"' + b"1" * (2 * 1024 * 1024) + b'"}'
        r = session().req("POST", "/api/v1/session/totp",
                          headers={"Content-Type": "application/json"}, body=body,
                          chunk_body=True, timeout=30)
        yz.assert_error(self, r, 413, "payload_too_large", "2 MiB body")
        yz.assert_security_headers(self, r, "413")
        SRV.assert_alive()

    def test_bad_json(self):
        for body in (b"{", b"[]", b'{"code":', b"\xff\xfe", b'{"code":123456}', b"null"):
            with self.subTest(body=body):
                r = session().req("POST", "/api/v1/session/totp",
                                  headers={"Content-Type": "application/json"}, body=body)
                self.assertIn(r.status, (400, 401, 403, 409), r)
                self.assertTrue(r.error_code(), r)
        SRV.assert_alive()


if __name__ == "__main__":
    yz.main()
