/* libFuzzer target for the phone's config reader, phone_cnf_parse: the
 * bytes of SEP<MAC>.cnf.xml as a phone fetches them (hostile until their
 * signature was checked, and parsed the same way after). Checks beyond
 * "no crash": an accepted config has a security mode 1..3, a transport
 * 1..3 (TLS for modes 2 and 3), NUL-terminated fields, at most
 * PHONE_MAX_LINES lines each with a name; a refused one is wiped. */
#include "phone/phone.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void terminated(const char *s, size_t cap)
{
	if (memchr(s, '\0', cap) == NULL) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct phone_cnf c;

	if (phone_cnf_parse(&c, data, size) != 0) {
		if (c.security_mode != 0 || c.n_lines != 0) {
			abort();
		}
		return 0;
	}
	if (c.security_mode < 1 || c.security_mode > 3 || c.transport < 1 ||
	    c.transport > 4 || (c.security_mode >= 2 && c.transport != 3) ||
	    c.n_lines > PHONE_MAX_LINES || c.capf_auth_mode > 4) {
		abort();
	}
	terminated(c.host, sizeof(c.host));
	terminated(c.load, sizeof(c.load));
	terminated(c.cert_hash, sizeof(c.cert_hash));
	terminated(c.capf_host, sizeof(c.capf_host));
	for (size_t i = 0; i < c.n_lines; i++) {
		terminated(c.lines[i].dn, sizeof(c.lines[i].dn));
		terminated(c.lines[i].password, sizeof(c.lines[i].password));
		if (c.lines[i].dn[0] == '\0') {
			abort();
		}
	}
	if (c.encr_config && c.cert_hash[0] == '\0') {
		abort();
	}
	phone_cnf_wipe(&c);
	return 0;
}
