/* libFuzzer target for the EST input paths (src/enroll/est_srv.c and
 * est_cli.c): the first byte chooses the input: 0 a simpleenroll body
 * (base64 -> DER -> PKCS#10 -> CN, challengePassword, key), 1 an
 * Authorization header (HTTP Basic), 2 a body given as DER (base64-encoded
 * here first, so the CSR parser sees the bytes themselves), 3 the DER of a
 * simpleenroll answer as the client takes it (certs-only -> the first
 * certificate, its subject and key checked against the phone's: the key
 * below, CN SEP001122334455). */
#include "base/buf.h"
#include "enroll/est_srv.h"
#include "pki/pki.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* the phone's key in mode 3 (its public half is enough) */
static const uint8_t phone_spki[] = {
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
        0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03,
        0x42, 0x00, 0x04, 0xb7, 0x44, 0x6f, 0x25, 0x39, 0x8e, 0x95, 0x01, 0x0c,
        0x99, 0x1f, 0x53, 0xfc, 0x9e, 0x6d, 0x3f, 0xd9, 0x58, 0xee, 0xba, 0xb7,
        0x69, 0xf4, 0xef, 0x10, 0xe3, 0x3a, 0x93, 0xe9, 0x97, 0x4e, 0x6c, 0xc8,
        0x30, 0x95, 0xdf, 0xd4, 0x9a, 0x7b, 0xcc, 0xf8, 0x34, 0xb8, 0xd6, 0x96,
        0x96, 0x70, 0x61, 0x2c, 0x56, 0xb0, 0x9f, 0x04, 0xa4, 0x66, 0x59, 0x28,
        0x44, 0x63, 0x14, 0x7e, 0x27, 0x77, 0x78};
static EVP_PKEY *phone_key;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (pki_spki_decode(&phone_key, phone_spki, sizeof(phone_spki))) {
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct est_req r;

	if (size < 1) {
		return 0;
	}
	uint8_t mode = data[0] % 4;
	data++;
	size--;
	if (mode == 0) {
		if (est_req_parse(&r, data, size) == 0) {
			if (r.csr.pub == NULL || r.csr.spki.len == 0 ||
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
	} else if (mode == 3) {
		struct slice cert;
		if (est_resp_cert(slice_make(data, size), "SEP001122334455",
		                  phone_key, &cert) == 0 &&
		    (cert.p < data || cert.p + cert.len > data + size)) {
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
