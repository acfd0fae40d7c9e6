# Sign a message with dkimpy (python3-dkim): rsa-sha256, relaxed/relaxed; writes the signed
# message (the new DKIM-Signature field first) to stdout.
# usage: python3 dkim_sign.py MESSAGE PEM_KEY_FILE SELECTOR DOMAIN [ALGORITHM]
import sys

import dkim

msg = open(sys.argv[1], 'rb').read()
key = open(sys.argv[2], 'rb').read()
alg = sys.argv[5].encode() if len(sys.argv) > 5 else b'rsa-sha256'
sig = dkim.sign(msg, sys.argv[3].encode(), sys.argv[4].encode(), key,
                canonicalize=(b'relaxed', b'relaxed'), signature_algorithm=alg,
                include_headers=[b'from', b'to', b'subject', b'date', b'message-id'])
sys.stdout.buffer.write(sig + msg)
