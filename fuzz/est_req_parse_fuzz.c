/* libFuzzer target for the EST request input path (src/enroll/est_srv.c):
 * the first byte chooses the input: 0 a simpleenroll body (base64 -> DER
 * -> PKCS#10 -> CN, challengePassword, key), 1 an Authorization header
 * (HTTP Basic), 2 a body given as DER (base64-encoded here first, so the
 * CSR parser sees the bytes themselves). */
#include "base/buf.h"
#include "enroll/est_srv.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct est_req r;

	if (size < 1) {
		return 0;
	}
	uint8_t mode = data[0] % 3;
	data++;
	size--;
	if (mode == 0) {
		if (est_req_parse(&r, data, size) == 0) {
			if (r.csr == NULL || r.spki_len == 0 ||
			    strlen(r.cn) >= sizeof(r.cn)) {
				abort();
			}
			est_req_clear(&r);
		}
	} else if (mode == 1) {
		char hdr[2048], user[64], pass[128];
		size_t n = size < sizeof(hdr) - 1 ? size : sizeof(hdr) - 1;
		memcpy(hdr, data, n);
		hdr[n] = '\0';
		if (est_basic_parse(hdr, user, sizeof(user), pass,
		                    sizeof(pass)) == 0 &&
		    (strlen(user) >= sizeof(user) ||
		     strlen(pass) >= sizeof(pass))) {
			abort();
		}
	} else {
		if (size > EST_BODY_MAX / 2) {
			return 0;
		}
		uint8_t *b64 = malloc(size / 3 * 4 + 8);
		int n = EVP_EncodeBlock(b64, data, (int)size);
		if (n >= 0 && est_req_parse(&r, b64, (size_t)n) == 0) {
			est_req_clear(&r);
		}
		free(b64);
	}
	return 0;
}
