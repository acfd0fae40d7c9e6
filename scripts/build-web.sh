#!/usr/bin/env bash
# Builds the web front end into static/dist/ (served as /static/...):
#   static/app.js   -> static/dist/app.js    (Preact app: / and /admin)
#   static/login.js -> static/dist/login.js  (sign-in page: SCRAM, TOTP, on-screen keyboard)
#   static/app.css  -> static/dist/app.css   (one stylesheet for both pages)
#   static/logo.svg -> static/dist/logo.svg
# Idempotent; runs `npm ci` only when node_modules is missing or older than package-lock.json.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

die() { echo "build-web: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node is not installed"
command -v npm >/dev/null 2>&1 || die "npm is not installed"
[ -f package-lock.json ] || die "package-lock.json is missing"

stamp=node_modules/.package-lock.json   # npm writes it on every install
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "build-web: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2 || die "npm ci failed"
  touch "$stamp"
fi

esbuild=node_modules/.bin/esbuild
[ -x "$esbuild" ] || die "esbuild missing from node_modules (run npm ci)"

out=static/dist
tmp="$(mktemp -d "${TMPDIR:-/tmp}/yz-web.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# Browsers: es2019 for scripts; the CSS targets keep esbuild from emitting newer syntax.
js_opts=(--bundle --minify --format=iife --platform=browser --target=es2019
         --legal-comments=eof --charset=utf8 --log-level=warning
         "--define:process.env.NODE_ENV=\"production\"")
css_opts=(--bundle --minify --target=chrome80,firefox78,safari13,edge80
          --charset=utf8 --log-level=warning)

"$esbuild" static/app.js   "${js_opts[@]}" --outfile="$tmp/app.js"   || die "esbuild app.js failed"
"$esbuild" static/login.js "${js_opts[@]}" --outfile="$tmp/login.js" || die "esbuild login.js failed"
"$esbuild" static/app.css  "${css_opts[@]}" --outfile="$tmp/app.css" || die "esbuild app.css failed"
cp static/logo.svg "$tmp/logo.svg" || die "static/logo.svg missing"

for f in app.js login.js app.css logo.svg; do
  [ -s "$tmp/$f" ] || die "empty output: $f"
done

mkdir -p "$out"
for f in app.js login.js app.css logo.svg; do
  # replace only when changed, so timestamps (and caches) stay stable across rebuilds
  if ! cmp -s "$tmp/$f" "$out/$f"; then
    cp "$tmp/$f" "$out/$f.tmp" && mv -f "$out/$f.tmp" "$out/$f"
  fi
done

echo "build-web: $(cd "$out" && wc -c app.js login.js app.css logo.svg | awk '$2!="total"{printf "%s %s B; ", $2, $1}')" >&2
