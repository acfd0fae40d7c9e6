# Verify the first DKIM signature of a message with dkimpy (python3-dkim), an implementation
# independent of libopendkim. The key record comes from a file instead of DNS.
# usage: python3 dkim_verify.py MESSAGE TXT_RECORD_FILE   (exit 0: the signature verifies)
import sys

import dkim

msg = open(sys.argv[1], 'rb').read()
txt = open(sys.argv[2], 'rb').read().strip()
sys.exit(0 if dkim.verify(msg, dnsfunc=lambda name, timeout=5: txt) else 1)
