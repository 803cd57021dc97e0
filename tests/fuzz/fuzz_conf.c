/* libFuzzer target for the config parser: any bytes as a config file must
 * load or be rejected with errors, never crash or leak. Host names are never
 * resolved here (the fuzzer must not send look-ups). */
#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"

static int no_resolver(const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res)
{
	(void)node, (void)service, (void)hints, (void)res;
	return EAI_NONAME;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static FILE *sink;
	static char path[64];
	struct conf *conf = NULL;

	if (fd < 0) {
		fd = memfd_create("fuzz-conf", 0);
		sink = fopen("/dev/null", "w");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		conf_resolver = no_resolver;
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	if (conf_load(&conf, path, sink) == 0) {
		conf_print(conf, sink);
		conf_free(conf);
	}
	return 0;
}
