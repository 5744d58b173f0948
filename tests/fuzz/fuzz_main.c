/*
 * fuzz_main.c -- replays fuzz corpora without libFuzzer (systemd's
 * fuzz-main.c): `X_replay DIR...` feeds every file to the target. Built with
 * ASan+UBSan in `make test`, so every corpus entry (and every crash the
 * fuzzer ever found, once added) is re-checked on each run. Prints
 * `N passed, 0 failed`; a crash aborts the process.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdp/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	char *data = NULL;
	size_t len = 0;
	if (pdp_file_read(path, 16u << 20, &data, &len) != PDP_OK) {
		fprintf(stderr, "cannot read %s\n", path);
		return 1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	size_t n = 0, bad = 0;
	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		if (!d) {
			bad += replay_file(argv[i]);
			n++;
			continue;
		}
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			bad += replay_file(path);
			n++;
		}
		closedir(d);
	}
	printf("%zu passed, %zu failed\n", n - bad, bad);
	return bad ? 1 : 0;
}
