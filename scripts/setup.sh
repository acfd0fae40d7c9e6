#!/usr/bin/env bash
# Set up a Debian 12 machine for Yizhan: Debian packages, the service user, npm modules, the web
# bundle and the C build. Idempotent: run it as often as you like.
#   sudo bash scripts/setup.sh            # packages + user + build (build/)
set -euo pipefail
cd "$(dirname "$0")/.."

# Build and test dependencies, all from Debian 12 (docs/DEPENDENCIES.md says why each is here).
PKGS=(
	meson ninja-build pkg-config gcc clang libclang-rt-14-dev
	libmicrohttpd-dev libgnutls28-dev libssl-dev libsqlite3-dev sqlite3 libjansson-dev libidn-dev
	libcmocka-dev g++ libgmime-3.0-dev libxapian-dev libzstd-dev zlib1g-dev
	libevent-dev libspf2-dev libopendkim-dev libopendmarc-dev publicsuffix
	dnsmasq-base swaks libnet-ssleay-perl msmtp isync mpop python3-aiosmtpd python3-dkim
	chromium fonts-wqy-microhei curl openssl ca-certificates python3 wrk nginx-light notmuch
)
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "$(id -u)" = 0 ]; then
	apt-get update -qq
	if [ ${#missing[@]} -gt 0 ]; then
		echo "setup: installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			"${missing[@]}" >/dev/null
	fi
	# the unprivileged user the daemon drops to after binding its ports
	id -u yizhan >/dev/null 2>&1 || useradd --system --no-create-home \
		--home-dir /nonexistent --shell /usr/sbin/nologin yizhan
elif [ ${#missing[@]} -gt 0 ]; then
	echo "setup: missing packages ${missing[*]}; run this script as root (sudo)" >&2
	exit 1
fi

bash scripts/build-web.sh
[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null
ninja -C build >/dev/null
echo "setup: built build/server/yizhan"
