/* fuzz_mutf7: the modified UTF-7 codec of server/imap/imap_parse.h (RFC 3501 5.1.3).
 *
 * Invariants:
 * - decode: what decodes is valid UTF-8, and encoding it again gives back the input exactly
 *   (the encoding is canonical: a name has one modified UTF-7 form);
 * - encode: valid UTF-8 always encodes, to printable ASCII only, and decodes back to itself. */
#include <stdbool.h>

#include "fuzz.h"
#include "lib/buf.h"
#include "lib/utf8.h"
#include "server/imap/imap_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_dup(data, size);
	struct buf d, e;

	buf_init(&d, 0);
	buf_init(&e, 0);
	if (imap_mutf7_decode(in, size, &d) == 0) {
		FUZZ_CHECK(utf8_valid(d.data ? d.data : "", d.len));
		FUZZ_CHECK(imap_mutf7_encode(d.data ? d.data : "", d.len, &e) == 0);
		FUZZ_CHECK(e.len == size && (size == 0 || memcmp(e.data, in, size) == 0));
	}
	buf_reset(&d);
	buf_reset(&e);
	if (utf8_valid(in, size) && memchr(in, '\0', size) == NULL) {
		FUZZ_CHECK(imap_mutf7_encode(in, size, &e) == 0);
		for (size_t i = 0; i < e.len; i++)
			FUZZ_CHECK(e.data[i] >= 0x20 && e.data[i] < 0x7f);
		FUZZ_CHECK(imap_mutf7_decode(e.data ? e.data : "", e.len, &d) == 0);
		FUZZ_CHECK(d.len == size && (size == 0 || memcmp(d.data, in, size) == 0));
	}
	buf_release(&d);
	buf_release(&e);
	free(in);
	return 0;
}
