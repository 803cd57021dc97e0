/*
 * libFuzzer target for dnsmsg_reply_parse: any bytes, as a hostile server
 * might send them. Build and run:
 *   clang -std=c11 -D_GNU_SOURCE -Iinclude -g -O1 \
 *     -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_reply.c \
 *     src/dnsmsg.c $(pkg-config --cflags --libs ldns) -o fuzz_reply
 *   ./fuzz_reply -max_total_time=30 tests/fuzz/corpus/reply
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dnsmsg_reply r;
	int rc = dnsmsg_reply_parse(data, size, &r);

	/* What the parser promises, checked on every input. */
	if ((rc != 0 && rc != -EBADMSG) || r.size != size ||
	    r.nsid_len > DNSMSG_MAX_NSID || r.txt_len > DNSMSG_MAX_TXT ||
	    r.qname_len > DNSMSG_MAX_NAME || (rc == 0 && !r.qr))
		abort();
	return 0;
}
