/* libFuzzer target for the trust layer on hostile bytes: the first byte
 * chooses CTL parse+verify, .sgn verify or .enc.sgn open, against a fixed
 * CTL and device key built once from the committed test vectors. */
#include "base/buf.h"
#include "trust/trust.h"
#include "trust/trust_site.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct trust_ctl *ctl;
static EVP_PKEY *devkey;

/* The vectors are found from TL_SRC, or relative to the working
 * directory (the repository root when run by tools/fuzz-run). */
static void init(void)
{
	const char *src = getenv("TL_SRC");
	char p[1024], c[1024];
	struct pki_key *k = NULL;
	X509 *certs[2] = {NULL, NULL};
	uint16_t roles[2] = {TLV_ROLE_SAST, TLV_ROLE_TFTP};
	struct buf b;
	FILE *f;

	char here[1024];

	if (!src) {
		/* this file lives in fuzz/: the repository is one up */
		snprintf(here, sizeof(here), "%s", __FILE__);
		if (strrchr(here, '/')) {
			*strrchr(here, '/') = 0;
			snprintf(here + strlen(here),
			         sizeof(here) - strlen(here), "/..");
			src = here;
		} else {
			src = "..";
		}
	}
	buf_init(&b, 0);
	snprintf(p, sizeof(p), "%s/tests/vectors/trust/test-vector-sast.key",
	         src);
	snprintf(c, sizeof(c), "%s/tests/vectors/trust/test-vector-sast.crt",
	         src);
	if (pki_key_load_file(&k, p, NULL) || trust_cert_read(&certs[0], c)) {
		fprintf(stderr, "trust_verify_fuzz: test vectors not found "
		                "(set TL_SRC)\n");
		abort();
	}
	snprintf(c, sizeof(c), "%s/tests/vectors/trust/test-vector-tftp.crt",
	         src);
	if (trust_cert_read(&certs[1], c)) {
		abort();
	}
	{
		struct trust_sign s = {.key = k,
		                       .cert = certs[0],
		                       .filename = "CTLFile.tlv",
		                       .timestamp = 1700000000};

		if (trust_ctl_build(&b, &s, certs, roles, 2, 0) ||
		    trust_ctl_parse(&ctl, b.p, b.len, NULL)) {
			abort();
		}
	}
	snprintf(p, sizeof(p),
	         "%s/tests/vectors/trust/test-vector-device-ec.key", src);
	f = fopen(p, "r");
	if (!f || !(devkey = PEM_read_PrivateKey(f, NULL, NULL, NULL))) {
		abort();
	}
	fclose(f);
	buf_free(&b);
	pki_key_free(k);
	X509_free(certs[0]);
	X509_free(certs[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trust_opts o = {.first_use = true};
	struct slice in, content;
	struct trust_ctl *t = NULL;
	struct buf plain;

	if (!ctl) {
		init();
	}
	if (size < 1) {
		return 0;
	}
	in = slice_make(data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		if (!trust_ctl_parse(&t, in.p, in.len, NULL)) {
			(void)!trust_ctl_verify(t, ctl, &o, NULL);
			(void)!trust_ctl_verify(t, NULL, &o, NULL);
			trust_ctl_free(t);
		}
		break;
	case 1:
		if (!trust_sgn_verify(in, ctl, &o, &content, NULL) &&
		    (content.p < in.p ||
		     content.p + content.len > in.p + in.len)) {
			abort();
		}
		break;
	default:
		buf_init(&plain, 0);
		(void)!trust_enc_open(in, NULL, &o, devkey, &plain, NULL);
		buf_free(&plain);
		break;
	}
	return 0;
}
