/* Trust-file verification throughput: CTL parse+verify per second and
 * .sgn verify per second (a 2 KB config and a 1 MB image), single thread.
 * Driven by bench/trust.sh, which sets TL_SRC and prints the raw RSA-2048
 * verify rate of `openssl speed` beside these figures. */
#include "base/buf.h"
#include "trust/trust.h"
#include "trust/trust_site.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void load(const char *src, const char *name, struct pki_key **k,
                 X509 **x)
{
	char p[2048];

	snprintf(p, sizeof(p), "%s/tests/vectors/trust/test-vector-%s.key", src,
	         name);
	if (k && pki_key_load_file(k, p, NULL)) {
		fprintf(stderr, "cannot load %s\n", p);
		exit(1);
	}
	snprintf(p, sizeof(p), "%s/tests/vectors/trust/test-vector-%s.crt", src,
	         name);
	if (trust_cert_read(x, p)) {
		fprintf(stderr, "cannot load %s\n", p);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	const char *src = getenv("TL_SRC");
	double secs = argc > 1 ? strtod(argv[1], NULL) : 2.0;
	struct pki_key *sk = NULL, *tk = NULL;
	X509 *certs[3] = {NULL, NULL, NULL};
	uint16_t roles[3] = {TLV_ROLE_SAST, TLV_ROLE_TFTP, TLV_ROLE_SAST};
	struct trust_opts o = {0};
	struct trust_ctl *ctl = NULL;
	struct buf cb, small, big, content;
	size_t sizes[2] = {2048, 1024 * 1024};
	struct buf *sgns[2] = {&small, &big};

	if (!src) {
		src = ".";
	}
	if (secs <= 0) {
		secs = 2.0;
	}
	load(src, "sast", &sk, &certs[0]);
	load(src, "tftp", &tk, &certs[1]);
	load(src, "sast2", NULL, &certs[2]);
	buf_init(&cb, 0);
	{
		struct trust_sign s = {
		        .key = sk, .cert = certs[0], .filename = "CTLFile.tlv"};

		if (trust_ctl_build(&cb, &s, certs, roles, 3,
		                    TRUST_BUILD_MIXED) ||
		    trust_ctl_parse(&ctl, cb.p, cb.len, NULL)) {
			fprintf(stderr, "cannot build the CTL\n");
			return 1;
		}
	}
	for (size_t i = 0; i < 2; i++) {
		struct trust_sign s = {
		        .key = tk, .cert = certs[1], .filename = "f.sgn"};

		buf_init(&content, 0);
		for (size_t j = 0; j < sizes[i]; j++) {
			buf_put_u8(&content, (uint8_t)('a' + j % 26));
		}
		buf_init(sgns[i], 0);
		if (trust_sgn_build(sgns[i], &s, buf_slice(&content))) {
			return 1;
		}
		buf_free(&content);
	}

	/* CTL: what a phone does with a downloaded CTL: parse (with its DER
	 * certificates) and verify against the CTL it holds. */
	{
		double t0 = now(), t;
		unsigned long n = 0;

		do {
			for (int j = 0; j < 50; j++) {
				struct trust_ctl *c = NULL;

				if (trust_ctl_parse(&c, cb.p, cb.len, NULL) ||
				    trust_ctl_verify(c, ctl, &o, NULL)) {
					return 1;
				}
				trust_ctl_free(c);
				n++;
			}
			t = now() - t0;
		} while (t < secs);
		printf("ctl_verify_per_s %.0f (CTL of %zu bytes, 3 records, "
		       "parse+verify against the held CTL)\n",
		       (double)n / t, cb.len);
	}
	/* First use: the signer's certificate is decoded from the file. */
	{
		struct trust_opts fo = {.first_use = true};
		double t0 = now(), t;
		unsigned long n = 0;

		do {
			for (int j = 0; j < 20; j++) {
				struct trust_ctl *c = NULL;

				if (trust_ctl_parse(&c, cb.p, cb.len, NULL) ||
				    trust_ctl_verify(c, NULL, &fo, NULL)) {
					return 1;
				}
				trust_ctl_free(c);
				n++;
			}
			t = now() - t0;
		} while (t < secs);
		printf("ctl_first_use_verify_per_s %.0f (decodes the SAST "
		       "certificate)\n",
		       (double)n / t);
	}
	for (size_t i = 0; i < 2; i++) {
		double t0 = now(), t;
		unsigned long n = 0;
		struct slice c;

		do {
			for (int j = 0; j < 20; j++) {
				if (trust_sgn_verify(buf_slice(sgns[i]), ctl,
				                     &o, &c, NULL)) {
					return 1;
				}
				n++;
			}
			t = now() - t0;
		} while (t < secs);
		printf("sgn_verify_%s_per_s %.0f (content %zu bytes, %.0f "
		       "MB/s)\n",
		       i ? "1m" : "2k", (double)n / t, sizes[i],
		       (double)n * (double)sizes[i] / t / 1e6);
	}
	trust_ctl_free(ctl);
	buf_free(&cb);
	buf_free(&small);
	buf_free(&big);
	pki_key_free(sk);
	pki_key_free(tk);
	for (size_t i = 0; i < 3; i++) {
		X509_free(certs[i]);
	}
	return 0;
}
