/* libFuzzer target for the provisioning name check (prov_fs_name_check),
 * the gate between a requested TFTP/HTTP name and the file system: an
 * accepted name is relative, has no "." or ".." component, no empty
 * component and no control character or backslash. */
#include "prov/prov_fs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t comp = 0;

	if (prov_fs_name_check(s, size) != 0) {
		return 0;
	}
	if (size == 0 || size > PROV_NAME_MAX || s[0] == '/') {
		abort();
	}
	for (size_t i = 0; i <= size; i++) {
		if (i < size) {
			if (data[i] < 0x20 || data[i] == 0x7f ||
			    data[i] == '\\') {
				abort();
			}
			if (data[i] != '/') {
				continue;
			}
		}
		size_t n = i - comp;

		if (n == 0 || (n == 1 && s[comp] == '.') ||
		    (n == 2 && s[comp] == '.' && s[comp + 1] == '.')) {
			abort();
		}
		comp = i + 1;
	}
	return 0;
}
