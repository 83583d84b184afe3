/* Trust files with real keys: known-answer vectors, the CTL trust rules,
 * signed and encrypted files, every-byte tamper checks, expiry,
 * revocation, and signing through a real SoftHSM2 token. Keys and
 * certificates come from tests/vectors/trust (test vectors only). */
#include "base/buf.h"
#include "codec/tlv/tlv.h"
#include "pki/pki_key.h"
#include "trust/trust.h"
#include "trust/trust_int.h"
#include "trust/trust_site.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#define KAT_TIME 1700000000u

struct ident {
	struct pki_key *key;
	X509 *cert;
};

static char vdir[1024];
static struct ident sast, sast2, tftp;
static X509 *dev_rsa_cert, *dev_ec_cert;
static EVP_PKEY *dev_rsa_key, *dev_ec_key;

static void vpath(char *out, size_t n, const char *name)
{
	int len = snprintf(out, n, "%s/%s", vdir, name);

	assert_true(len > 0 && (size_t)len < n);
}

static void load_ident(struct ident *id, const char *name)
{
	char p[1200], q[1200];

	snprintf(q, sizeof(q), "test-vector-%s.key", name);
	vpath(p, sizeof(p), q);
	assert_int_equal(pki_key_load_file(&id->key, p, NULL), 0);
	snprintf(q, sizeof(q), "test-vector-%s.crt", name);
	vpath(p, sizeof(p), q);
	assert_int_equal(trust_cert_read(&id->cert, p), 0);
}

static EVP_PKEY *load_pkey(const char *name)
{
	char p[1200];
	FILE *f;
	EVP_PKEY *k;

	vpath(p, sizeof(p), name);
	f = fopen(p, "r");
	assert_non_null(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

static int setup(void **state)
{
	const char *src = getenv("TL_SRC");
	char p[1200];

	snprintf(vdir, sizeof(vdir), "%s/tests/vectors/trust", src ? src : ".");
	load_ident(&sast, "sast");
	load_ident(&sast2, "sast2");
	load_ident(&tftp, "tftp");
	vpath(p, sizeof(p), "test-vector-device-rsa.crt");
	assert_int_equal(trust_cert_read(&dev_rsa_cert, p), 0);
	vpath(p, sizeof(p), "test-vector-device-ec.crt");
	assert_int_equal(trust_cert_read(&dev_ec_cert, p), 0);
	dev_rsa_key = load_pkey("test-vector-device-rsa.key");
	dev_ec_key = load_pkey("test-vector-device-ec.key");
	return 0;
}

static int teardown(void **state)
{
	struct ident *ids[] = {&sast, &sast2, &tftp};

	for (size_t i = 0; i < 3; i++) {
		pki_key_free(ids[i]->key);
		X509_free(ids[i]->cert);
	}
	X509_free(dev_rsa_cert);
	X509_free(dev_ec_cert);
	EVP_PKEY_free(dev_rsa_key);
	EVP_PKEY_free(dev_ec_key);
	return 0;
}

static struct trust_sign signer(const struct ident *id, const char *name)
{
	return (struct trust_sign){.key = id->key,
	                           .cert = id->cert,
	                           .filename = name,
	                           .timestamp = KAT_TIME};
}

/* CTL: SAST (and optionally SAST2) plus TFTP, signed by by. */
static void build_ctl(struct buf *out, const struct ident *by, bool two)
{
	X509 *certs[3] = {sast.cert, tftp.cert, sast2.cert};
	uint16_t roles[3] = {TLV_ROLE_SAST, TLV_ROLE_TFTP, TLV_ROLE_SAST};
	struct trust_sign s = signer(by, "CTLFile.tlv");

	buf_init(out, 0);
	assert_int_equal(trust_ctl_build(out, &s, certs, roles, two ? 3 : 2, 0),
	                 0);
}

static struct trust_ctl *parse_ok(struct buf *b)
{
	struct trust_ctl *ctl = NULL;
	const char *why = NULL;
	int err = trust_ctl_parse(&ctl, b->p, b->len, &why);

	if (err) {
		fail_msg("parse: %d %s", err, why ? why : "");
	}
	return ctl;
}

/* Compare with the committed vector; TL_TRUST_REGEN=1 rewrites it. */
static void kat(const char *name, struct buf *got)
{
	char p[1200];
	struct buf want;

	vpath(p, sizeof(p), name);
	if (getenv("TL_TRUST_REGEN")) {
		assert_int_equal(trust_file_write(p, got->p, got->len, 0644),
		                 0);
	}
	buf_init(&want, 0);
	assert_int_equal(trust_file_read(p, 0, &want), 0);
	assert_int_equal(want.len, got->len);
	assert_memory_equal(want.p, got->p, got->len);
	buf_free(&want);
}

static void test_kat_ctl(void **state)
{
	struct buf b;
	struct trust_ctl *ctl;
	const struct tlv_hdr *h;
	struct trust_opts o = {.first_use = true};

	build_ctl(&b, &sast, false);
	kat("kat-ctl.tlv", &b);
	ctl = parse_ok(&b);
	h = trust_ctl_header(ctl);
	/* hand checks against docs/formats/ctl.md */
	assert_int_equal(h->ver_major, 1);
	assert_int_equal(h->ver_minor, 2);
	assert_int_equal(h->hash_alg, TLV_HASH_SHA512);
	assert_int_equal(h->sig_modulus, 2);
	assert_int_equal(h->signature.len, 256);
	assert_int_equal(h->timestamp, KAT_TIME);
	assert_int_equal(h->header_len % 4, 0);
	assert_true(slice_eq_str(h->signer_name,
	                         "C=NZ;O=Trustline Test Vectors;"
	                         "OU=NOT FOR PRODUCTION;CN=test-vector-sast"));
	for (size_t i = h->sig_off + 3 + 256 + 3 + 12 + 7; i < h->header_len;
	     i++) {
		assert_int_equal(b.p[i], 0x0d);
	}
	assert_int_equal(trust_ctl_count(ctl), 2);
	assert_int_equal(trust_ctl_verify(ctl, NULL, &o, NULL), 0);
	assert_int_equal(X509_cmp(trust_ctl_signer(ctl), sast.cert), 0);
	trust_ctl_free(ctl);
	buf_free(&b);
}

static void test_kat_sgn(void **state)
{
	struct trust_sign s = signer(&tftp, "SEP001122334455.cnf.xml.sgn");
	struct trust_ctl *ctl;
	struct buf in, b, ctlb;
	struct slice content;
	char p[1200];

	buf_init(&in, 0);
	buf_init(&b, 0);
	vpath(p, sizeof(p), "kat-input.cnf.xml");
	assert_int_equal(trust_file_read(p, 0, &in), 0);
	s.md = EVP_sha1();
	assert_int_equal(trust_sgn_build(&b, &s, buf_slice(&in)), 0);
	kat("kat-input.cnf.xml.sgn", &b);
	/* format 1.0, SHA-1 code 1, no signer version, content verbatim */
	assert_memory_equal(b.p, "\x01\x00\x02\x01\x00", 5);
	build_ctl(&ctlb, &sast, false);
	ctl = parse_ok(&ctlb);
	assert_int_equal(
	        trust_sgn_verify(buf_slice(&b), ctl, NULL, &content, NULL), 0);
	assert_true(slice_eq(content, buf_slice(&in)));
	assert_int_equal(b.len - content.len, (size_t)((b.p[8] << 8) | b.p[9]));
	trust_ctl_free(ctl);
	buf_free(&ctlb);
	buf_free(&b);
	buf_free(&in);
}

static void test_ctl_rules(void **state)
{
	struct trust_opts first = {.first_use = true}, none = {0};
	struct buf b1, b2, b3;
	struct trust_ctl *c1, *c2, *c3;
	const char *why = NULL;
	X509 *certs[3] = {sast.cert, sast2.cert, tftp.cert};
	uint16_t roles[3] = {TLV_ROLE_SAST, TLV_ROLE_SAST, TLV_ROLE_SAST};
	struct trust_sign s = signer(&sast, "CTLFile.tlv");
	struct buf bad;

	/* CTL 1: {sast, tftp} by sast. CTL 2: {sast, tftp, sast2} by sast.
	 * CTL 3: the same list signed by sast2. */
	build_ctl(&b1, &sast, false);
	build_ctl(&b2, &sast, true);
	build_ctl(&b3, &sast2, true);
	c1 = parse_ok(&b1);
	c2 = parse_ok(&b2);
	c3 = parse_ok(&b3);
	assert_int_equal(trust_ctl_verify(c1, NULL, &none, &why), -TL_ETRUST);
	assert_int_equal(trust_ctl_verify(c1, NULL, NULL, &why), -TL_ETRUST);
	assert_int_equal(trust_ctl_verify(c1, NULL, &first, &why), 0);
	assert_int_equal(trust_ctl_verify(c2, c1, &none, &why), 0);
	/* sast2 is unknown to CTL 1: refused; known to CTL 2: accepted */
	assert_int_equal(trust_ctl_verify(c3, c1, &none, &why), -TL_ETRUST);
	assert_string_equal(why, "signer is not a SAST of the previous CTL");
	assert_int_equal(trust_ctl_verify(c3, c2, &none, &why), 0);
	assert_int_equal(trust_ctl_verify(c3, NULL, &first, &why), 0);
	/* roles */
	assert_true(trust_ctl_has_role(c2, tftp.cert, TLV_ROLE_TFTP));
	assert_false(trust_ctl_has_role(c2, tftp.cert, TLV_ROLE_CCM));
	assert_false(trust_ctl_has_role(c2, sast.cert, TLV_ROLE_TFTP));
	assert_true(trust_ctl_has_role(c2, sast2.cert, TLV_ROLE_SAST));
	assert_false(trust_ctl_has_role(c1, sast2.cert, TLV_ROLE_SAST));
	{
		struct trust_entry e;

		assert_int_equal(trust_ctl_entry(c1, 1, &e), 0);
		assert_true(
		        trust_ctl_serial_has_role(c1, e.serial, TLV_ROLE_TFTP));
		assert_int_equal(trust_ctl_entry(c1, 2, &e), -TL_ENOTFOUND);
	}
	/* build rules: three SASTs, mixed with one, signer not listed */
	buf_init(&bad, 0);
	assert_int_equal(trust_ctl_build(&bad, &s, certs, roles, 3, 0),
	                 -TL_EPOLICY);
	roles[1] = TLV_ROLE_TFTP;
	roles[2] = TLV_ROLE_TFTP;
	assert_int_equal(
	        trust_ctl_build(&bad, &s, certs, roles, 3, TRUST_BUILD_MIXED),
	        -TL_EPOLICY);
	s = signer(&tftp, "CTLFile.tlv");
	assert_int_equal(trust_ctl_build(&bad, &s, certs, roles, 3, 0),
	                 -TL_ETRUST);
	/* key and certificate that do not match */
	s.cert = sast.cert;
	assert_int_equal(trust_ctl_build(&bad, &s, certs, roles, 3, 0),
	                 -TL_EPOLICY);
	assert_int_equal(bad.len, 0);
	buf_free(&bad);
	trust_ctl_free(c1);
	trust_ctl_free(c2);
	trust_ctl_free(c3);
	buf_free(&b1);
	buf_free(&b2);
	buf_free(&b3);
}

static X509_CRL *crl_for(X509 *cert)
{
	X509_CRL *crl = X509_CRL_new();
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_TIME *t = ASN1_TIME_set(NULL, KAT_TIME);

	assert_non_null(crl);
	assert_int_equal(
	        X509_CRL_set_issuer_name(crl, X509_get_issuer_name(cert)), 1);
	assert_int_equal(
	        X509_REVOKED_set_serialNumber(
	                r, (ASN1_INTEGER *)X509_get0_serialNumber(cert)),
	        1);
	assert_int_equal(X509_REVOKED_set_revocationDate(r, t), 1);
	assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
	ASN1_TIME_free(t);
	return crl;
}

static void test_expired_revoked(void **state)
{
	struct trust_opts o = {.first_use = true};
	struct buf b, s;
	struct trust_ctl *ctl;
	struct trust_sign sg = signer(&tftp, "a.sgn");
	struct slice content;
	const char *why = NULL;

	build_ctl(&b, &sast, false);
	ctl = parse_ok(&b);
	o.now = 4102444800; /* 2100-01-01: every vector has expired */
	assert_int_equal(trust_ctl_verify(ctl, NULL, &o, &why), -TL_EEXPIRED);
	o.now = 946684800; /* 2000: not yet valid */
	assert_int_equal(trust_ctl_verify(ctl, NULL, &o, &why), -TL_EEXPIRED);
	o.now = 0;
	o.crl = crl_for(sast.cert);
	assert_int_equal(trust_ctl_verify(ctl, NULL, &o, &why), -TL_EREVOKED);
	X509_CRL_free(o.crl);
	/* a CRL from another issuer does not apply */
	o.crl = crl_for(tftp.cert);
	assert_int_equal(trust_ctl_verify(ctl, NULL, &o, &why), 0);

	buf_init(&s, 0);
	assert_int_equal(trust_sgn_build(&s, &sg, SLICE_LIT("x")), 0);
	assert_int_equal(
	        trust_sgn_verify(buf_slice(&s), ctl, &o, &content, &why),
	        -TL_EREVOKED);
	X509_CRL_free(o.crl);
	o.crl = NULL;
	o.now = 4102444800;
	assert_int_equal(
	        trust_sgn_verify(buf_slice(&s), ctl, &o, &content, &why),
	        -TL_EEXPIRED);
	buf_free(&s);
	trust_ctl_free(ctl);
	buf_free(&b);
}

static void test_sgn_wrong_signer(void **state)
{
	struct trust_sign s = signer(&sast, "a.sgn");
	struct buf ctlb, b;
	struct trust_ctl *ctl;
	struct slice content;
	const char *why = NULL;

	build_ctl(&ctlb, &sast, false);
	ctl = parse_ok(&ctlb);
	buf_init(&b, 0);
	/* SAST role only: not a TFTP signer */
	assert_int_equal(trust_sgn_build(&b, &s, SLICE_LIT("hello")), 0);
	assert_int_equal(
	        trust_sgn_verify(buf_slice(&b), ctl, NULL, &content, &why),
	        -TL_ETRUST);
	assert_string_equal(why,
	                    "signer does not hold the TFTP role in the CTL");
	buf_reset(&b);
	/* not in the CTL at all */
	s = signer(&sast2, "a.sgn");
	assert_int_equal(trust_sgn_build(&b, &s, SLICE_LIT("hello")), 0);
	assert_int_equal(
	        trust_sgn_verify(buf_slice(&b), ctl, NULL, &content, &why),
	        -TL_ETRUST);
	buf_free(&b);
	trust_ctl_free(ctl);
	buf_free(&ctlb);
}

/* Flip every byte of a CTL and of a .sgn: nothing may still verify. */
static void test_every_byte(void **state)
{
	struct trust_opts o = {.first_use = true};
	struct trust_sign s = signer(&tftp, "f.sgn");
	struct buf ctlb, sgn;
	struct trust_ctl *ctl;
	size_t ok = 0;

	build_ctl(&ctlb, &sast, false);
	ctl = parse_ok(&ctlb);
	for (size_t i = 0; i < ctlb.len; i++) {
		struct trust_ctl *t = NULL;

		ctlb.p[i] ^= 0x01;
		if (!trust_ctl_parse(&t, ctlb.p, ctlb.len, NULL) &&
		    !trust_ctl_verify(t, ctl, &o, NULL)) {
			fail_msg("CTL with byte %zu flipped verifies", i);
		}
		trust_ctl_free(t);
		ctlb.p[i] ^= 0x01;
		ok++;
	}
	buf_init(&sgn, 0);
	assert_int_equal(trust_sgn_build(&sgn, &s, SLICE_LIT("<cfg>1</cfg>")),
	                 0);
	for (size_t i = 0; i < sgn.len; i++) {
		struct slice c;

		sgn.p[i] ^= 0x80;
		if (!trust_sgn_verify(buf_slice(&sgn), ctl, NULL, &c, NULL)) {
			fail_msg(".sgn with byte %zu flipped verifies", i);
		}
		sgn.p[i] ^= 0x80;
		ok++;
	}
	assert_int_equal(ok, ctlb.len + sgn.len);
	buf_free(&sgn);
	trust_ctl_free(ctl);
	buf_free(&ctlb);
}

/* Where an encrypted config's content hash (key false) or wrapped key
 * field (key true) starts in b. */
static size_t enc_field_at(const struct buf *b, bool key)
{
	struct tlv_file tf;
	size_t at;

	assert_int_equal(tlv_parse(&tf, TLV_KIND_ENC, b->p, b->len, NULL), 0);
	at = (size_t)((key ? tf.hdr.enc_key.p : tf.hdr.enc_hash.p) - b->p);
	tlv_file_clear(&tf);
	return at;
}

static void test_enc(void **state)
{
	static const char xml[] = "<device><sipLines><line><authPassword>"
	                          "secret</authPassword></line></sipLines>"
	                          "</device>\n";
	struct trust_sign s = signer(&tftp, "SEPX.cnf.xml.enc.sgn");
	X509 *devs[2] = {dev_rsa_cert, dev_ec_cert};
	EVP_PKEY *keys[2] = {dev_rsa_key, dev_ec_key};
	struct trust_ctl *ctl;
	struct buf ctlb;
	char hash[33];

	build_ctl(&ctlb, &sast, false);
	ctl = parse_ok(&ctlb);
	for (size_t i = 0; i < 2; i++) {
		/* lengths around the block size: pad is 1..16 */
		for (size_t len = 0; len <= 33; len += 1) {
			struct buf b, out;
			const char *why = NULL;
			struct slice in = slice_make(xml, len);

			buf_init(&b, 0);
			buf_init(&out, 0);
			assert_int_equal(trust_enc_build(&b, &s, devs[i], in),
			                 0);
			assert_int_equal(b.p[3], 2);
			if (trust_enc_open(buf_slice(&b), ctl, NULL, keys[i],
			                   &out, &why)) {
				fail_msg("open %zu/%zu: %s", i, len, why);
			}
			assert_true(slice_eq(buf_slice(&out), in));
			buf_reset(&out);
			/* the other device's key cannot open it */
			assert_int_not_equal(trust_enc_open(buf_slice(&b), ctl,
			                                    NULL, keys[1 - i],
			                                    &out, &why),
			                     0);
			/* a flipped ciphertext byte: signature, then (no
			 * CTL) the content hash refuse it */
			b.p[b.len - 1] ^= 1;
			assert_int_equal(trust_enc_open(buf_slice(&b), ctl,
			                                NULL, keys[i], &out,
			                                &why),
			                 -TL_ESIG);
			assert_int_equal(trust_enc_open(buf_slice(&b), NULL,
			                                NULL, keys[i], &out,
			                                &why),
			                 -TL_EAUTH);
			assert_int_equal(out.len, 0);
			b.p[b.len - 1] ^= 1;
			/* a flipped byte of the content hash in the header
			 * (no CTL): only the hash comparison can refuse it */
			{
				size_t at = enc_field_at(&b, false);

				b.p[at] ^= 1;
				assert_int_equal(trust_enc_open(buf_slice(&b),
				                                NULL, NULL,
				                                keys[i], &out,
				                                &why),
				                 -TL_EAUTH);
				assert_string_equal(why,
				                    "decrypted content does "
				                    "not match its hash");
				assert_int_equal(out.len, 0);
				b.p[at] ^= 1;
			}
			/* EC: an ephemeral point moved off the curve, with no
			 * CTL to check the signature: the key agreement
			 * refuses it, and nothing comes out */
			if (devs[i] == dev_ec_cert) {
				/* 0x04 || x || y: the last byte of y */
				size_t at = enc_field_at(&b, true) + 64;

				b.p[at] ^= 1;
				assert_int_equal(trust_enc_open(buf_slice(&b),
				                                NULL, NULL,
				                                keys[i], &out,
				                                &why),
				                 -TL_EAUTH);
				assert_string_equal(why,
				                    "content key does not "
				                    "decrypt with this device "
				                    "key");
				assert_int_equal(out.len, 0);
				b.p[at] ^= 1;
			}
			buf_free(&b);
			buf_free(&out);
		}
	}
	assert_int_equal(trust_cert_hash(dev_rsa_cert, hash), 0);
	assert_int_equal(strlen(hash), 32);
	trust_ctl_free(ctl);
	buf_free(&ctlb);
}

static int run(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* A real SoftHSM2 token in a temporary directory signs a CTL. */
static void test_token(void **state)
{
	char dir[] = "/tmp/tl-trust-token-XXXXXX", conf[256], cmd[1024];
	struct pki_key *k = NULL;
	X509 *x = X509_new();
	X509 *certs[2];
	uint16_t roles[2] = {TLV_ROLE_SAST, TLV_ROLE_TFTP};
	struct trust_sign s;
	struct trust_ctl *ctl;
	struct trust_opts o = {.first_use = true};
	struct buf b;
	FILE *f;

	/* scripts/deps installs both: their absence fails, never skips */
	if (run("command -v softhsm2-util >/dev/null && "
	        "command -v pkcs11-tool >/dev/null")) {
		fail_msg("softhsm2-util or pkcs11-tool missing");
	}
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\n",
	        dir);
	fclose(f);
	setenv("SOFTHSM2_CONF", conf, 1);
	assert_int_equal(run("softhsm2-util --init-token --free --label SAST1 "
	                     "--so-pin 12345678 --pin 1234 >/dev/null"),
	                 0);
	assert_int_equal(run("pkcs11-tool --module "
	                     "/usr/lib/softhsm/libsofthsm2.so --token-label "
	                     "SAST1 --login --pin 1234 --keypairgen --key-type "
	                     "rsa:2048 --label sast --id 01 >/dev/null"),
	                 0);
	/* a wrong PIN first: PKCS#11 login state is per process */
	assert_true(pki_key_open_p11(&k, NULL, "SAST1", "sast", "0000") < 0);
	assert_int_equal(pki_key_open_p11(&k, NULL, "SAST1", "sast", "1234"),
	                 0);
	/* its certificate, issued by the test-vector SAST key */
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 0x5a57);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"SAST1 token", -1, -1,
	                           0);
	assert_int_equal(
	        X509_set_issuer_name(x, X509_get_subject_name(sast.cert)), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	assert_int_equal(X509_set_pubkey(x, pki_key_public(k)), 1);
	{
		EVP_PKEY *ca = load_pkey("test-vector-sast.key");

		assert_true(X509_sign(x, ca, EVP_sha256()) > 0);
		EVP_PKEY_free(ca);
	}
	certs[0] = x;
	certs[1] = tftp.cert;
	s = (struct trust_sign){.key = k, .cert = x, .filename = "CTLFile.tlv"};
	buf_init(&b, 0);
	assert_int_equal(trust_ctl_build(&b, &s, certs, roles, 2, 0), 0);
	ctl = parse_ok(&b);
	assert_int_equal(trust_ctl_verify(ctl, NULL, &o, NULL), 0);
	assert_int_equal(X509_cmp(trust_ctl_signer(ctl), x), 0);
	trust_ctl_free(ctl);
	buf_free(&b);
	pki_key_free(k);
	X509_free(x);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(run(cmd), 0);
	unsetenv("SOFTHSM2_CONF");
}

/* A certificate for a token key, issued by the test-vector SAST key. */
static X509 *token_cert(struct pki_key *k, long serial, const char *cn)
{
	X509 *x = X509_new();
	EVP_PKEY *ca = load_pkey("test-vector-sast.key");

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)cn, -1, -1, 0);
	assert_int_equal(
	        X509_set_issuer_name(x, X509_get_subject_name(sast.cert)), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	assert_int_equal(X509_set_pubkey(x, pki_key_public(k)), 1);
	assert_true(X509_sign(x, ca, EVP_sha256()) > 0);
	EVP_PKEY_free(ca);
	return x;
}

static void copy_vector(const char *name, const char *site, const char *rel)
{
	char p[1200], q[1200];
	struct buf b;

	vpath(p, sizeof(p), name);
	snprintf(q, sizeof(q), "%s/%s", site, rel);
	buf_init(&b, 0);
	assert_int_equal(trust_file_read(p, 0, &b), 0);
	assert_int_equal(trust_file_write(q, b.p, b.len, 0644), 0);
	buf_free(&b);
}

/* trust_site_init on a site laid out as `trustline init` leaves it: the
 * SAST1 token (real SoftHSM2), its pin file, service certificates. */
static void test_site_init(void **state)
{
	char site[] = "/tmp/tl-trust-site-XXXXXX", p[1200], cmd[2048];
	const char *names[] = {"CTLFile.tlv", "ITLFile.tlv"};
	const size_t want[] = {5, 4};
	struct pki_key *k = NULL;
	X509 *x;
	FILE *f;

	/* scripts/deps installs both: their absence fails, never skips */
	if (run("command -v softhsm2-util >/dev/null && "
	        "command -v pkcs11-tool >/dev/null")) {
		fail_msg("softhsm2-util or pkcs11-tool missing");
	}
	assert_non_null(mkdtemp(site));
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/pki %s/tokens/store %s/tftp",
	         site, site, site);
	assert_int_equal(run(cmd), 0);
	snprintf(p, sizeof(p), "%s/tokens/softhsm2.conf", site);
	f = fopen(p, "w");
	assert_non_null(f);
	fprintf(f, "directories.tokendir = %s/tokens/store\n", site);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
	         "export SOFTHSM2_CONF=%s/tokens/softhsm2.conf && "
	         "softhsm2-util --init-token --free --label SAST1 --so-pin "
	         "12345678 --pin 4321 >/dev/null && pkcs11-tool --module "
	         "/usr/lib/softhsm/libsofthsm2.so --token-label SAST1 --login "
	         "--pin 4321 --keypairgen --key-type rsa:2048 --label sast "
	         "--id 01 >/dev/null && printf '4321\\n' >%s/tokens/sast1.pin",
	         site, site);
	assert_int_equal(run(cmd), 0);
	/* trust_site_init sets SOFTHSM2_CONF itself (shared contract) */
	unsetenv("SOFTHSM2_CONF");
	setenv("SOFTHSM2_CONF", p, 1);
	assert_int_equal(pki_key_open_p11(&k, NULL, "SAST1", "sast", "4321"),
	                 0);
	x = token_cert(k, 0x5a01, "SAST1");
	pki_key_free(k);
	unsetenv("SOFTHSM2_CONF");
	snprintf(p, sizeof(p), "%s/pki/sast1.crt", site);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
	copy_vector("test-vector-sast2.crt", site, "pki/sast2.crt");
	copy_vector("test-vector-device-rsa.crt", site, "pki/ccm.crt");
	copy_vector("test-vector-tftp.crt", site, "pki/tftp.crt");
	copy_vector("test-vector-sast.crt", site, "pki/capf.crt");

	assert_int_equal(trust_site_init(site), 0);
	for (size_t i = 0; i < 2; i++) {
		struct trust_opts o = {.first_use = true};
		struct trust_ctl *ctl;
		struct buf b;

		snprintf(p, sizeof(p), "%s/tftp/%s", site, names[i]);
		buf_init(&b, 0);
		assert_int_equal(trust_file_read(p, 0, &b), 0);
		ctl = parse_ok(&b);
		assert_int_equal(trust_ctl_count(ctl), want[i]);
		assert_int_equal(trust_ctl_verify(ctl, NULL, &o, NULL), 0);
		assert_int_equal(X509_cmp(trust_ctl_signer(ctl), x), 0);
		assert_true(slice_eq_str(trust_ctl_header(ctl)->filename,
		                         names[i]));
		assert_true(trust_ctl_has_role(ctl, tftp.cert, TLV_ROLE_TFTP));
		trust_ctl_free(ctl);
		buf_free(&b);
	}
	X509_free(x);
	unsetenv("SOFTHSM2_CONF");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", site);
	assert_int_equal(run(cmd), 0);
}

/* Hashes (codes 1, 2, 3) and the signer version 1.1 for EC records. */
static void test_hashes_and_ec(void **state)
{
	const EVP_MD *mds[] = {EVP_sha1(), EVP_sha256(), EVP_sha512()};
	struct trust_opts o = {.first_use = true};

	for (size_t i = 0; i < 3; i++) {
		X509 *certs[3] = {sast.cert, tftp.cert, dev_ec_cert};
		uint16_t roles[3] = {TLV_ROLE_SAST, TLV_ROLE_TFTP,
		                     TLV_ROLE_CCM};
		struct trust_sign s = signer(&sast, "CTLFile.tlv");
		struct trust_ctl *ctl;
		struct buf b;

		s.md = mds[i];
		buf_init(&b, 0);
		assert_int_equal(trust_ctl_build(&b, &s, certs, roles,
		                                 i == 2 ? 3 : 2, 0),
		                 0);
		ctl = parse_ok(&b);
		assert_int_equal(trust_ctl_header(ctl)->hash_alg, i + 1);
		assert_int_equal(trust_ctl_header(ctl)->sv_minor, i == 2);
		assert_int_equal(trust_ctl_verify(ctl, NULL, &o, NULL), 0);
		if (i == 2) {
			assert_true(trust_ctl_has_role(ctl, dev_ec_cert,
			                               TLV_ROLE_CCM));
		}
		trust_ctl_free(ctl);
		buf_free(&b);
	}
}

/* Files the builder refuses to make, made by hand and signed properly:
 * the verifier must refuse them too. */
static void hand_ctl(struct buf *out, struct tlv_record *recs, size_t n)
{
	struct trust_sign s = signer(&sast, "CTLFile.tlv");
	struct trust_signer_buf sb;
	struct tlv_hdr h = {0};
	size_t siglen;

	assert_int_equal(trust_fill_signer(&h, &s, &sb, &siglen), 0);
	h.ver_major = 1;
	h.ver_minor = 2;
	h.sv_major = 1;
	buf_init(out, 0);
	assert_int_equal(trust_write_signed(out, TLV_KIND_LIST, &h, recs, n,
	                                    SLICE_NULL, siglen, &s),
	                 0);
}

static void test_verify_must_reject(void **state)
{
	struct trust_opts o = {.first_use = true};
	struct buf good, b;
	struct trust_ctl *g, *ctl;
	struct tlv_record recs[3];
	struct tlv_file gf;
	const char *why = NULL;

	build_ctl(&good, &sast, true);
	g = parse_ok(&good);
	assert_int_equal(tlv_parse(&gf, TLV_KIND_LIST, good.p, good.len, NULL),
	                 0);
	for (size_t i = 0; i < 3; i++) {
		recs[i] = gf.recs[i];
	}
	/* three SAST records */
	recs[1].role = TLV_ROLE_SAST;
	hand_ctl(&b, recs, 3);
	ctl = parse_ok(&b);
	assert_int_equal(trust_ctl_verify(ctl, NULL, &o, &why), -TL_EPOLICY);
	trust_ctl_free(ctl);
	buf_free(&b);
	/* the signer's record claims another certificate's bytes */
	recs[1].role = TLV_ROLE_TFTP;
	recs[0].cert = gf.recs[2].cert;
	hand_ctl(&b, recs, 3);
	ctl = parse_ok(&b);
	assert_int_equal(trust_ctl_verify(ctl, NULL, &o, &why), -TL_ETRUST);
	assert_int_not_equal(trust_ctl_verify(ctl, g, &o, &why), 0);
	trust_ctl_free(ctl);
	buf_free(&b);
	/* a record certificate that is not a DER SEQUENCE */
	recs[0] = gf.recs[0];
	recs[2].cert = SLICE_LIT("\x31\x00");
	hand_ctl(&b, recs, 3);
	assert_int_equal(trust_ctl_parse(&ctl, b.p, b.len, &why), -TL_EPARSE);
	assert_string_equal(why, "record certificate is not one DER SEQUENCE");
	buf_free(&b);
	/* a TFTP record whose serial is not its certificate's */
	recs[2] = gf.recs[2];
	recs[1].serial = SLICE_LIT("\x01");
	hand_ctl(&b, recs, 3);
	ctl = parse_ok(&b);
	assert_int_equal(trust_ctl_verify(ctl, NULL, &o, &why), 0);
	assert_false(trust_ctl_has_role(ctl, tftp.cert, TLV_ROLE_TFTP));
	assert_false(trust_ctl_serial_has_role(ctl, SLICE_LIT("\x01"),
	                                       TLV_ROLE_TFTP));
	trust_ctl_free(ctl);
	buf_free(&b);
	tlv_file_clear(&gf);
	trust_ctl_free(g);
	buf_free(&good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_kat_ctl),
	        cmocka_unit_test(test_kat_sgn),
	        cmocka_unit_test(test_ctl_rules),
	        cmocka_unit_test(test_expired_revoked),
	        cmocka_unit_test(test_sgn_wrong_signer),
	        cmocka_unit_test(test_every_byte),
	        cmocka_unit_test(test_enc),
	        cmocka_unit_test(test_hashes_and_ec),
	        cmocka_unit_test(test_verify_must_reject),
	        cmocka_unit_test(test_token),
	        cmocka_unit_test(test_site_init),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
