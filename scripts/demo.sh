#!/usr/bin/env bash
# The README's first command: set up, create demo data if absent, print the demo accounts and
# run the server in the foreground (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${YZ_DEMO_DATA:-/var/lib/yizhan/demo}
BASE=${YZ_PORT_BASE:-10000}

bash scripts/setup.sh
mkdir -p "$(dirname "$DATA")"
if [ ! -f "$DATA/yizhan.conf" ]; then
	./build/server/yizhan init --data "$DATA" --domain example.com --port-base "$BASE" --demo
	# a few hundred generated mails (Chinese and English, threads, attachments) to look at
	mail=$(mktemp -d)
	python3 bench/gen_corpus.py --out "$mail/Maildir" --count 300 --seed 7 >/dev/null
	chmod -R a+rX "$mail" # import reads it as the service user
	./build/server/yizhan import --data "$DATA" demo@example.com "$mail/Maildir" |
		tail -n 2
	rm -rf "$mail"
else
	echo "demo accounts (from $DATA/demo-credentials.txt):"
	sed 's/^/  /' "$DATA/demo-credentials.txt"
fi
port=$(sed -n 's/^port_base = //p' "$DATA/yizhan.conf")
echo
echo "Yizhan is starting: open https://localhost:$((port + 443))/login"
echo "(self-signed certificate: $DATA/tls/cert.pem)"
exec ./build/server/yizhan serve --data "$DATA"
