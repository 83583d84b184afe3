/* LSC issuance rate: the site CA (P-256, as `trustline init` makes it)
 * issues phone LSCs for a P-256 phone key, as CAPF and EST do: build the
 * certificate, sign it, encode it to DER (pki_ca_issue_der). The phone's key
 * comes from its request (its SubjectPublicKeyInfo, as a CSR carries it), so it
 * is made once, outside the timed loop.
 *
 *   pki_issue_bench file|token SECONDS
 *
 * token: the CA key lives in a SoftHSM2 token created for the run in a
 * temporary directory (SOFTHSM2_CONF is set to it). Prints one line:
 *   issue <mode> <count> <cpu-seconds> <per-cpu-second> <per-wall-second>
 * CPU time (user + system, as getrusage counts it) is the measure that
 * `openssl speed` uses (user time), so a busy shared machine skews
 * neither; the token's work is in-process and counted too. */
#include "pki/pki.h"
#include "pki/pki_key.h"
#include "pki/pki_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int token_key(struct pki_key **key, char *dir, size_t dirlen)
{
	const char *t = getenv("TMPDIR");
	int err;

	snprintf(dir, dirlen, "%s/tl-bench-XXXXXX", (t && *t) ? t : "/tmp");
	if (!mkdtemp(dir)) {
		return -1;
	}
	unsetenv("SOFTHSM2_CONF");
	err = pki_token_softhsm_env(dir, true);
	if (!err) {
		err = pki_token_init(NULL, "BENCHCA", "so-bench", "pin-bench");
	}
	if (!err) {
		err = pki_token_keygen(NULL, "BENCHCA", "pin-bench", "ca", 1,
		                       PKI_ALG_P256);
	}
	if (!err) {
		err = pki_key_open_p11(key, NULL, "BENCHCA", "ca", "pin-bench");
	}
	return err;
}

int main(int argc, char **argv)
{
	struct pki_issue careq = {.profile = PKI_PROFILE_CA,
	                          .cn = "Bench CA",
	                          .org = "Trustline"};
	struct pki_issue req = {.profile = PKI_PROFILE_LSC,
	                        .cn = "SEP001122334455"};
	struct pki_key *key = NULL;
	struct pki_ca *ca = NULL;
	EVP_PKEY *cakey = NULL, *phone = NULL;
	X509 *cacert = NULL;
	char dir[512] = "";
	bool token;
	double secs, t0, t, c0, c;
	unsigned long n = 0;
	size_t bytes = 0;
	unsigned char *spki = NULL;
	int spki_len;
	int err;

	if (argc != 3 ||
	    (strcmp(argv[1], "file") && strcmp(argv[1], "token"))) {
		fprintf(stderr, "usage: pki_issue_bench file|token SECONDS\n");
		return 2;
	}
	token = !strcmp(argv[1], "token");
	secs = strtod(argv[2], NULL);
	if (secs <= 0 || secs > 600) {
		fprintf(stderr, "pki_issue_bench: SECONDS in (0, 600]\n");
		return 2;
	}
	if (token) {
		err = token_key(&key, dir, sizeof(dir));
	} else {
		err = pki_keygen(&cakey, PKI_ALG_P256);
		if (!err) {
			err = pki_key_from_pkey(&key, cakey);
		}
	}
	if (!err) {
		err = pki_self_issue(&cacert, key, &careq);
	}
	if (!err) {
		err = pki_ca_new(&ca, cacert, key,
		                 "http://127.0.0.1:6970/crl.der");
	}
	if (!err) {
		key = NULL;
		err = pki_keygen(&phone, PKI_ALG_P256);
	}
	if (err) {
		fprintf(stderr, "pki_issue_bench: setup: %s\n",
		        tl_strerror(err));
		return 1;
	}
	req.pub = phone;
	/* the phone's key as its request carries it (EST CSR, CAPF) */
	spki_len = i2d_PUBKEY(phone, &spki);
	if (spki_len <= 0) {
		return 1;
	}
	req.spki = spki;
	req.spki_len = (size_t)spki_len;
	t0 = now_s();
	c0 = cpu_s();
	do {
		for (int i = 0; i < 64; i++) {
			struct buf der;
			char serial[80];

			buf_init(&der, 0);
			err = pki_ca_issue_der(ca, &req, &der, serial,
			                       sizeof(serial));
			if (err) {
				fprintf(stderr, "pki_issue_bench: %s\n",
				        tl_strerror(err));
				return 1;
			}
			bytes += der.len;
			buf_free(&der);
			n++;
		}
		c = cpu_s() - c0;
	} while (c < secs);
	t = now_s() - t0;
	printf("issue %s %lu %.3f %.1f %.1f\n", argv[1], n, c, (double)n / c,
	       (double)n / t);
	pki_ca_free(ca);
	pki_key_free(key);
	X509_free(cacert);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(phone);
	OPENSSL_free(spki);
	if (dir[0]) {
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0) {
			fprintf(stderr,
			        "pki_issue_bench: could not remove %s\n", dir);
		}
	}
	return bytes ? 0 : 1;
}
