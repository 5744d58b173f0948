/*
 * cli.c -- helpers shared by the subcommands: help flags, atomic file
 * writes, reading a file or standard input.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pdp/yaml.h"

bool pdp_cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

static bool write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void fsync_dir_of(const char *path)
{
	char *copy = pdp_xstrndup(path, strlen(path));
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd) != 0) { /* best effort: the rename itself is done */ }
		close(fd);
	}
	free(copy);
}

enum pdp_err pdp_cli_write_atomic(const char *path, const void *data, size_t len)
{
	pdp_buf tmp;
	pdp_buf_init(&tmp, 8192);
	PDP_TRY(pdp_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid()));
	int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		pdp_buf_done(&tmp);
		PDP_BAIL(PDP_E_IO);
	}
	bool ok = write_all(fd, data, len) && fsync(fd) == 0;
	ok &= close(fd) == 0;
	ok = ok && rename(tmp.data, path) == 0;
	if (!ok)
		unlink(tmp.data);
	pdp_buf_done(&tmp);
	PDP_ENSURE(ok, PDP_E_IO);
	fsync_dir_of(path);
	return PDP_OK;
}

enum pdp_err pdp_cli_read_input(const char *path, size_t max, char **ret, size_t *ret_len)
{
	if (strcmp(path, "-") != 0)
		return pdp_file_read(path, max, ret, ret_len);
	pdp_buf b;
	pdp_buf_init(&b, max);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		enum pdp_err e = pdp_buf_add(&b, chunk, n);
		if (e != PDP_OK) {
			pdp_buf_done(&b);
			return e;
		}
	}
	if (ferror(stdin)) {
		pdp_buf_done(&b);
		PDP_BAIL(PDP_E_IO);
	}
	*ret = pdp_buf_steal(&b, ret_len);
	return PDP_OK;
}
