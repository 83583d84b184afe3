/* The phone agent: its state, the boot sequence (DESIGN.md "Phone boot"),
 * the display and the command dispatcher. SIP lives in phone_sip.c, the
 * media glue in phone_media.c, the control socket in phone_ctl.c. */
#include "phone/phone_int.h"

#include "base/log.h"
#include "enroll/enroll_cli.h"
#include "net/net_tls.h"
#include "pki/pki.h"
#include "prov/tftp_cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const step_names[STEP_MAX] = {
        "ctl", "config", "firmware", "capf", "register",
};
static const char *const step_state_names[] = {
        "pending",
        "ok",
        "skipped",
        "failed",
};

void phone_step(struct phone *p, enum phone_step s, enum step_state st,
                const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->steps[s].detail, sizeof(p->steps[s].detail), fmt, ap);
	va_end(ap);
	p->steps[s].st = st;
	if (st == STEP_FAILED) {
		log_warn("phone", "%s: %s refused: %s", p->name, step_names[s],
		         p->steps[s].detail);
	} else if (!p->conf.quiet) {
		log_info("phone", "%s: %s %s: %s", p->name, step_names[s],
		         step_state_names[st], p->steps[s].detail);
	}
}

static TL_MUST_CHECK int refuse(struct phone *p, enum phone_step s, int err,
                                const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int refuse(struct phone *p, enum phone_step s, int err, const char *fmt,
                  ...)
{
	va_list ap;
	char why[180];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	phone_step(p, s, STEP_FAILED, "%s", why);
	p->state = PHONE_REFUSED;
	snprintf(p->reason, sizeof(p->reason), "%s: %s", step_names[s], why);
	return err ? err : -TL_EPOLICY;
}

static TL_MUST_CHECK char *keep(struct phone *p, const char *s)
{
	char *d;

	if (!s || p->n_strs >= sizeof(p->strs) / sizeof(p->strs[0])) {
		return NULL;
	}
	d = strdup(s);
	if (d) {
		p->strs[p->n_strs++] = d;
	}
	return d;
}

static TL_MUST_CHECK int norm_mac(const char *in, char out[13])
{
	size_t n = 0;

	for (const char *c = in; *c; c++) {
		if (*c == ':' || *c == '-' || *c == '.') {
			continue;
		}
		if (!isxdigit((unsigned char)*c) || n >= 12) {
			return -TL_EPARSE;
		}
		out[n++] = (char)toupper((unsigned char)*c);
	}
	out[n] = '\0';
	return n == 12 ? 0 : -TL_EPARSE;
}

static TL_MUST_CHECK int path(const struct phone *p, const char *rel, char *out,
                              size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", p->state_dir, rel);
	return n < 0 || (size_t)n >= cap ? -TL_ETOOBIG : 0;
}

static TL_MUST_CHECK int read_file(const char *fn, struct buf *out, size_t max)
{
	FILE *f = fopen(fn, "rb");
	uint8_t tmp[8192];
	size_t n;

	if (!f) {
		return -errno;
	}
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		if (out->len + n > max) {
			fclose(f);
			return -TL_ETOOBIG;
		}
		buf_put(out, tmp, n);
	}
	fclose(f);
	return buf_err(out);
}

static void cert_info(struct phone *p)
{
	const ASN1_TIME *na;
	struct tm tm;

	p->cert_subject[0] = p->cert_issuer[0] = p->cert_not_after[0] = 0;
	if (!p->cert) {
		return;
	}
	if (pki_name_str(X509_get_subject_name(p->cert), p->cert_subject,
	                 sizeof(p->cert_subject)) != 0) {
		p->cert_subject[0] = 0;
	}
	if (pki_name_str(X509_get_issuer_name(p->cert), p->cert_issuer,
	                 sizeof(p->cert_issuer)) != 0) {
		p->cert_issuer[0] = 0;
	}
	na = X509_get0_notAfter(p->cert);
	if (na && ASN1_TIME_to_tm(na, &tm) == 1) {
		strftime(p->cert_not_after, sizeof(p->cert_not_after),
		         "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
}

static TL_MUST_CHECK int load_pair(const char *crt, const char *keyf,
                                   X509 **cert, EVP_PKEY **key)
{
	FILE *f;
	int err = pki_cert_read(cert, crt);

	if (err) {
		return err;
	}
	f = fopen(keyf, "rb");
	if (!f) {
		err = -errno;
		goto out;
	}
	*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!*key) {
		err = -TL_EPARSE;
		goto out;
	}
	if (X509_check_private_key(*cert, *key) != 1) {
		err = -TL_ECRYPTO;
	}
out:
	if (err) {
		X509_free(*cert);
		EVP_PKEY_free(*key);
		*cert = NULL;
		*key = NULL;
	}
	return err;
}

/* The LSC when the phone holds one, else its MIC. */
static void load_identity(struct phone *p)
{
	char crt[1200], keyf[1200];

	X509_free(p->cert);
	EVP_PKEY_free(p->key);
	p->cert = NULL;
	p->key = NULL;
	p->cert_kind[0] = 0;
	if (path(p, "lsc.crt", crt, sizeof(crt)) == 0 &&
	    path(p, "lsc.key", keyf, sizeof(keyf)) == 0 &&
	    access(crt, R_OK) == 0 &&
	    load_pair(crt, keyf, &p->cert, &p->key) == 0) {
		snprintf(p->cert_kind, sizeof(p->cert_kind), "LSC");
	} else if (p->conf.mic_cert && p->conf.mic_key &&
	           load_pair(p->conf.mic_cert, p->conf.mic_key, &p->cert,
	                     &p->key) == 0) {
		snprintf(p->cert_kind, sizeof(p->cert_kind), "MIC");
	}
	cert_info(p);
}

int phone_new(struct phone **out, struct event_base *base,
              const struct phone_conf *conf)
{
	struct phone *p;
	int err = 0;

	*out = NULL;
	if (!conf->mac || !conf->state_dir) {
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		return -ENOMEM;
	}
	p->base = base;
	p->conf = *conf;
	err = norm_mac(conf->mac, p->mac);
	if (err) {
		goto out;
	}
	snprintf(p->name, sizeof(p->name), "SEP%s", p->mac);
	if (snprintf(p->state_dir, sizeof(p->state_dir), "%s",
	             conf->state_dir) >= (int)sizeof(p->state_dir)) {
		err = -TL_ETOOBIG;
		goto out;
	}
	p->conf.state_dir = p->state_dir;
	p->conf.mic_cert = keep(p, conf->mic_cert);
	p->conf.mic_key = keep(p, conf->mic_key);
	p->conf.auth_string = keep(p, conf->auth_string);
	p->conf.bind_host =
	        keep(p, conf->bind_host ? conf->bind_host : "127.0.0.1");
	p->conf.play_wav = keep(p, conf->play_wav);
	p->conf.rec_wav = keep(p, conf->rec_wav);
	p->conf.password_prefix = keep(p, conf->password_prefix);
	p->conf.passwords = NULL; /* kept by the caller for our life */
	p->conf.passwords = conf->passwords;
	if (!p->conf.bind_host) {
		err = -ENOMEM;
		goto out;
	}
	snprintf(p->local_host, sizeof(p->local_host), "%s", p->conf.bind_host);
	if (mkdir(p->state_dir, 0700) != 0 && errno != EEXIST) {
		err = -errno;
		goto out;
	}
	p->state = PHONE_BOOTING;
out:
	if (err) {
		phone_free(p);
		return err;
	}
	*out = p;
	return 0;
}

void phone_free(struct phone *p)
{
	if (!p) {
		return;
	}
	phone_sip_stop(p);
	trust_ctl_free(p->ctl);
	X509_free(p->cert);
	EVP_PKEY_free(p->key);
	for (size_t i = 0; i < p->n_strs; i++) {
		free(p->strs[i]);
	}
	for (size_t i = 0; i < p->n_lines; i++) {
		OPENSSL_cleanse(p->lines[i].password,
		                sizeof(p->lines[i].password));
	}
	phone_cnf_wipe(&p->cnf);
	free(p);
}

/* ---- step 1..4 ---- */

static TL_MUST_CHECK int fetch(struct phone *p, const char *file,
                               struct buf *out)
{
	struct tftp_cli_req r = {
	        .file = file,
	        .blksize = 1428,
	        /* RFC 7440: a window of blocks per ACK, not lock-step */
	        .window = 16,
	        .tsize = true,
	        .timeout_ms = p->conf.tftp_timeout_ms ? p->conf.tftp_timeout_ms
	                                              : 1000,
	        .retries = 4,
	        .max_size = 64u << 20,
	};

	memcpy(&r.server, &p->conf.tftp.ss, sizeof(r.server));
	r.server_len = p->conf.tftp.len;
	buf_reset(out);
	return tftp_cli_fetch(&r, out, NULL);
}

/* Atomic write of a state file (temporary file, rename). A real phone's
 * flash write is durable (fsync, as pki_file_write); a fleet of simulated
 * phones on one disk skips the fsync, which would otherwise measure the
 * disk instead of the site (docs/phone.md "Fleet mode"). */
static TL_MUST_CHECK int save(struct phone *p, const char *rel, const void *d,
                              size_t n, unsigned mode)
{
	char fn[1200], tmp[1300];
	const uint8_t *b = d;
	int fd, err = path(p, rel, fn, sizeof(fn));

	if (err) {
		return err;
	}
	if (!p->conf.no_sync) {
		return pki_file_write(fn, d, n, mode);
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", fn, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		return -errno;
	}
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			err = w < 0 ? -errno : -EIO;
			break;
		}
		b += w;
		n -= (size_t)w;
	}
	if (close(fd) != 0 && !err) {
		err = -errno;
	}
	if (!err && rename(tmp, fn) != 0) {
		err = -errno;
	}
	if (err) {
		(void)unlink(tmp);
	}
	return err;
}

static void ctl_info(struct phone *p)
{
	X509 *s = trust_ctl_signer(p->ctl);
	char hash[65];

	p->ctl_signer[0] = 0;
	if (s && trust_dn_string(X509_get_subject_name(s), p->ctl_signer,
	                         sizeof(p->ctl_signer)) != 0) {
		p->ctl_signer[0] = 0;
	}
	struct slice b = trust_ctl_bytes(p->ctl);
	unsigned char md[32];
	if (EVP_Digest(b.p, b.len, md, NULL, EVP_sha256(), NULL) == 1) {
		for (size_t i = 0; i < 32; i++) {
			snprintf(hash + 2 * i, 3, "%02x", md[i]);
		}
		memcpy(p->ctl_sha256, hash, sizeof(hash));
	}
}

static TL_MUST_CHECK int step_ctl(struct phone *p)
{
	struct trust_ctl *prev = NULL, *ctl = NULL;
	struct trust_opts o = {0};
	struct buf b, old;
	char fn[1200];
	const char *why = NULL;
	int err;

	buf_init(&b, 0);
	buf_init(&old, 0);
	err = path(p, "CTLFile.tlv", fn, sizeof(fn));
	if (!err && read_file(fn, &old, 1u << 20) == 0) {
		err = trust_ctl_parse(&prev, old.p, old.len, &why);
		if (err) {
			err = refuse(p, STEP_CTL, err,
			             "the stored CTL is unreadable (%s)",
			             why ? why : tl_strerror(err));
			goto out;
		}
	}
	err = fetch(p, "CTLFile.tlv", &b);
	if (err) {
		if (prev) {
			/* A phone keeps the CTL it holds when the server
			 * has none to offer. */
			p->ctl = prev;
			prev = NULL;
			ctl_info(p);
			phone_step(p, STEP_CTL, STEP_OK,
			           "kept the stored CTL (fetch: %s)",
			           tl_strerror(err));
			err = 0;
		} else {
			phone_step(p, STEP_CTL, STEP_SKIPPED,
			           "no CTL on the server (%s): nonsecure only",
			           tl_strerror(err));
			err = 0;
		}
		goto out;
	}
	err = trust_ctl_parse(&ctl, b.p, b.len, &why);
	if (err) {
		err = refuse(p, STEP_CTL, err, "CTL does not parse: %s",
		             why ? why : tl_strerror(err));
		goto out;
	}
	o.first_use = prev == NULL;
	err = trust_ctl_verify(ctl, prev, &o, &why);
	if (err) {
		err = refuse(p, STEP_CTL, err, "CTL %s: %s",
		             prev ? "update refused" : "refused",
		             why ? why : tl_strerror(err));
		goto out;
	}
	bool same = prev && old.len == b.len && memcmp(old.p, b.p, b.len) == 0;
	if (!same) {
		err = save(p, "CTLFile.tlv", b.p, b.len, 0644);
		if (err) {
			err = refuse(p, STEP_CTL, err, "cannot store the CTL");
			goto out;
		}
	}
	p->ctl = ctl;
	ctl = NULL;
	ctl_info(p);
	phone_step(p, STEP_CTL, STEP_OK, "%s, signed by %s, %zu records",
	           prev ? (same ? "unchanged" : "updated")
	                : "trusted on first use",
	           p->ctl_signer, trust_ctl_count(p->ctl));
out:
	trust_ctl_free(prev);
	trust_ctl_free(ctl);
	buf_free(&b);
	buf_free(&old);
	return err;
}

static TL_MUST_CHECK int step_config(struct phone *p)
{
	struct trust_opts o = {0};
	struct phone_cnf c;
	struct buf b, encb, plain;
	struct slice body;
	char fn[64], hash[33];
	const char *why = NULL;
	const char *how;
	bool enc = false;
	int err;

	buf_init(&b, 0);
	buf_init(&encb, 0);
	buf_init(&plain, 0);
	snprintf(fn, sizeof(fn), "%s.cnf.xml.sgn", p->name);
	err = fetch(p, fn, &b);
	if (err == 0) {
		if (!p->ctl) {
			err = refuse(p, STEP_CONFIG, -TL_ETRUST,
			             "signed config but no CTL to check it");
			goto out;
		}
		err = trust_sgn_verify(buf_slice(&b), p->ctl, &o, &body, &why);
		if (err) {
			err = refuse(p, STEP_CONFIG, err,
			             "%s does not verify: %s", fn,
			             why ? why : tl_strerror(err));
			goto out;
		}
		how = "signed";
	} else if (err == -TL_ENOTFOUND || err == -TL_EPOLICY) {
		snprintf(fn, sizeof(fn), "%s.cnf.xml", p->name);
		err = fetch(p, fn, &b);
		if (err) {
			err = refuse(p, STEP_CONFIG, err, "no config: %s",
			             tl_strerror(err));
			goto out;
		}
		body = buf_slice(&b);
		how = "unsigned";
	} else {
		err = refuse(p, STEP_CONFIG, err, "fetching %s: %s", fn,
		             tl_strerror(err));
		goto out;
	}
	err = phone_cnf_parse(&c, body.p, body.len);
	if (err) {
		err = refuse(p, STEP_CONFIG, err, "%s does not parse: %s", fn,
		             tl_strerror(err));
		goto out;
	}
	if (c.encr_config) {
		char want[33];
		memcpy(want, c.cert_hash, sizeof(want));
		phone_cnf_wipe(&c);
		if (!p->cert || trust_cert_hash(p->cert, hash) != 0 ||
		    strcasecmp(hash, want) != 0) {
			/* The server encrypted it to a certificate we do not
			 * hold (a CAPF step may fix that). */
			p->hash_mismatch = true;
			err = refuse(p, STEP_CONFIG, -TL_ETRUST,
			             "config encrypted to another certificate");
			goto out;
		}
		snprintf(fn, sizeof(fn), "%s.cnf.xml.enc.sgn", p->name);
		err = fetch(p, fn, &encb);
		if (!err) {
			err = trust_enc_open(buf_slice(&encb), p->ctl, &o,
			                     p->key, &plain, &why);
			if (err) {
				err = refuse(p, STEP_CONFIG, err,
				             "%s refused: %s", fn,
				             why ? why : tl_strerror(err));
				goto out;
			}
		} else {
			err = refuse(p, STEP_CONFIG, err, "fetching %s: %s", fn,
			             tl_strerror(err));
			goto out;
		}
		err = phone_cnf_parse(&c, plain.p, plain.len);
		if (err) {
			err = refuse(p, STEP_CONFIG, err,
			             "decrypted config does not parse: %s",
			             tl_strerror(err));
			goto out;
		}
		how = "encrypted";
		enc = true;
	}
	p->cfg_encrypted = enc;
	if (!c.full_config || c.n_lines == 0 || c.host[0] == '\0') {
		phone_cnf_wipe(&c);
		err = refuse(p, STEP_CONFIG, -TL_EPARSE,
		             "config has no call manager or no line");
		goto out;
	}
	if (c.security_mode >= 2 && !p->ctl) {
		phone_cnf_wipe(&c);
		err = refuse(p, STEP_CONFIG, -TL_ETRUST,
		             "secure device mode without a CTL");
		goto out;
	}
	phone_cnf_wipe(&p->cnf);
	p->cnf = c;
	p->have_cnf = true;
	phone_cnf_wipe(&c);
	err = save(p, "config.xml", body.p, body.len, 0600);
	if (err) {
		err = refuse(p, STEP_CONFIG, err, "cannot store the config");
		goto out;
	}
	phone_step(p, STEP_CONFIG, STEP_OK,
	           "%s config, mode %s, %zu line(s), call manager %s", how,
	           phone_mode_name(p->cnf.security_mode), p->cnf.n_lines,
	           p->cnf.host);
out:
	buf_free(&b);
	buf_free(&encb);
	buf_free_secret(&plain);
	return err;
}

static bool safe_name(const char *s)
{
	if (!*s || s[0] == '.') {
		return false;
	}
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' &&
		    *s != '_') {
			return false;
		}
	}
	return true;
}

static TL_MUST_CHECK int step_firmware(struct phone *p)
{
	struct trust_opts o = {0};
	struct buf b, cur;
	struct slice content;
	char fn[200], rel[220], cf[1200];
	const char *why = NULL;
	int err = 0;

	buf_init(&b, 0);
	buf_init(&cur, 0);
	if (path(p, "firmware.current", cf, sizeof(cf)) == 0 &&
	    read_file(cf, &cur, 127) == 0) {
		buf_put_u8(&cur, 0);
		if (buf_err(&cur) == 0) {
			snprintf(p->firmware, sizeof(p->firmware), "%s",
			         (const char *)cur.p);
		}
	}
	if (p->cnf.load[0] == '\0') {
		phone_step(p, STEP_FIRMWARE, STEP_SKIPPED,
		           "no load in the config%s%s",
		           p->firmware[0] ? ", running " : "", p->firmware);
		goto out;
	}
	if (!safe_name(p->cnf.load)) {
		err = refuse(p, STEP_FIRMWARE, -TL_EPARSE,
		             "load name is not a plain file name");
		goto out;
	}
	if (strcmp(p->firmware, p->cnf.load) == 0) {
		phone_step(p, STEP_FIRMWARE, STEP_OK, "running %s",
		           p->firmware);
		goto out;
	}
	size_t l = strlen(p->cnf.load);
	snprintf(fn, sizeof(fn), "%s%s", p->cnf.load,
	         l > 4 && strcmp(p->cnf.load + l - 4, ".sgn") == 0 ? ""
	                                                           : ".sgn");
	err = fetch(p, fn, &b);
	if (err) {
		err = refuse(p, STEP_FIRMWARE, err, "fetching %s: %s%s%s", fn,
		             tl_strerror(err),
		             p->firmware[0] ? "; keeping " : "", p->firmware);
		goto out;
	}
	if (!p->ctl) {
		err = refuse(p, STEP_FIRMWARE, -TL_ETRUST,
		             "no CTL to authenticate %s", fn);
		goto out;
	}
	/* Image authentication (seed 002): an image whose signature fails
	 * is refused and the running one is kept. */
	err = trust_sgn_verify(buf_slice(&b), p->ctl, &o, &content, &why);
	if (err) {
		err = refuse(p, STEP_FIRMWARE, err,
		             "image %s refused: %s; keeping %s", fn,
		             why ? why : tl_strerror(err),
		             p->firmware[0] ? p->firmware : "none");
		goto out;
	}
	snprintf(rel, sizeof(rel), "firmware-%s", p->cnf.load);
	err = save(p, rel, content.p, content.len, 0644);
	if (!err) {
		err = save(p, "firmware.current", p->cnf.load,
		           strlen(p->cnf.load), 0644);
	}
	if (err) {
		err = refuse(p, STEP_FIRMWARE, err, "cannot store the image");
		goto out;
	}
	snprintf(p->firmware, sizeof(p->firmware), "%s", p->cnf.load);
	phone_step(p, STEP_FIRMWARE, STEP_OK, "installed %s (%zu bytes)",
	           p->firmware, content.len);
out:
	buf_free(&b);
	buf_free(&cur);
	return err;
}

static TL_MUST_CHECK int numeric_host(const char *host, char *out, size_t cap)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &ai);

	if (rc != 0 || !ai) {
		return -TL_ENOTFOUND;
	}
	rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, out, (socklen_t)cap, NULL,
	                 0, NI_NUMERICHOST);
	freeaddrinfo(ai);
	return rc == 0 ? 0 : -TL_ENOTFOUND;
}

/* The CAPF certificates of the CTL (borrowed), the trust anchors of the
 * CAPF connection (DESIGN.md boot step 4), and a digest naming them: the
 * SHA-256 of their DER encodings. */
static TL_MUST_CHECK int capf_anchors(struct phone *p, STACK_OF(X509) * *out,
                                      unsigned char md[32])
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	int err = sk && h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1
	                  ? 0
	                  : -ENOMEM;

	for (size_t i = 0; !err && i < trust_ctl_count(p->ctl); i++) {
		struct trust_entry e;
		unsigned char *der = NULL;
		int len;

		if (trust_ctl_entry(p->ctl, i, &e) != 0 ||
		    e.role != TLV_ROLE_CAPF || !e.cert) {
			continue;
		}
		len = i2d_X509(e.cert, &der);
		if (len <= 0 || EVP_DigestUpdate(h, der, (size_t)len) != 1 ||
		    !sk_X509_push(sk, e.cert)) {
			err = -TL_ECRYPTO;
		}
		OPENSSL_free(der);
	}
	if (!err && sk_X509_num(sk) == 0) {
		err = -TL_ENOTFOUND;
	}
	if (!err && EVP_DigestFinal_ex(h, md, NULL) != 1) {
		err = -TL_ECRYPTO;
	}
	EVP_MD_CTX_free(h);
	if (err) {
		sk_X509_free(sk);
		return err;
	}
	*out = sk;
	return 0;
}

/* The CAPF client's TLS context, made from the CTL's CAPF certificates.
 * OpenSSL 3 makes a context far more slowly than a handshake, and every
 * phone of a fleet holds the same CTL: each boot thread keeps the last
 * context it made, keyed by the SHA-256 of the anchors, and reuses it
 * while they are the same (the verification is the same: same anchors,
 * same flags). Per thread, so that no lock is needed to look it up;
 * freed when the thread ends. */
struct capf_tls_cache {
	unsigned char md[32];
	struct net_tls *tls;
};

static pthread_key_t capf_tls_key;
static pthread_once_t capf_tls_once = PTHREAD_ONCE_INIT;
static bool capf_tls_key_ok;

static void capf_tls_drop(void *v)
{
	struct capf_tls_cache *k = v;

	if (k) {
		net_tls_unref(k->tls);
		free(k);
	}
}

static void capf_tls_init(void)
{
	capf_tls_key_ok = pthread_key_create(&capf_tls_key, capf_tls_drop) == 0;
}

/* A reference to a context for these anchors (net_tls_unref it). */
static TL_MUST_CHECK int capf_tls(STACK_OF(X509) * anchors,
                                  const unsigned char md[32],
                                  struct net_tls **out)
{
	struct capf_tls_cache *k = NULL;
	struct net_tls *t = NULL;
	int err;

	*out = NULL;
	pthread_once(&capf_tls_once, capf_tls_init);
	if (capf_tls_key_ok) {
		k = pthread_getspecific(capf_tls_key);
	}
	if (k && k->tls && memcmp(k->md, md, 32) == 0) {
		*out = net_tls_ref(k->tls);
		return 0;
	}
	struct net_tls_conf tc = {
	        .role = NET_TLS_CLIENT,
	        .ca_certs = anchors,
	};
	err = net_tls_new(&t, &tc);
	if (err) {
		return err;
	}
	if (capf_tls_key_ok && !k) {
		k = calloc(1, sizeof(*k));
		if (k && pthread_setspecific(capf_tls_key, k) != 0) {
			free(k);
			k = NULL;
		}
	}
	if (k) {
		net_tls_unref(k->tls);
		k->tls = net_tls_ref(t);
		memcpy(k->md, md, 32);
	}
	*out = t;
	return 0;
}

/* DESIGN.md boot step 4: the CAPF server is checked against the CTL's
 * CAPF certificate, which is not self-signed and whose CA the phone does
 * not hold: the CTL's certificates are the trust anchors themselves, as
 * on a Cisco phone. The enrolment client verifies with OpenSSL's chain
 * check, so the phone process makes a listed certificate an anchor
 * (X509_V_FLAG_PARTIAL_CHAIN on the "ssl_server" parameters a TLS
 * client's verification inherits). The phone process has no other trust store.
 */
static pthread_once_t pin_once = PTHREAD_ONCE_INIT;
static bool pin_ok;

static void pin_init(void)
{
	const X509_VERIFY_PARAM *cur = X509_VERIFY_PARAM_lookup("ssl_server");
	X509_VERIFY_PARAM *vp = X509_VERIFY_PARAM_new();

	/* a copy of the built-in "ssl_server" entry (purpose, trust) */
	if (vp && cur && X509_VERIFY_PARAM_set1(vp, cur) == 1 &&
	    X509_VERIFY_PARAM_set1_name(vp, "ssl_server") == 1 &&
	    X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_PARTIAL_CHAIN) == 1 &&
	    X509_VERIFY_PARAM_add0_table(vp) == 1) {
		pin_ok = true;
		return;
	}
	X509_VERIFY_PARAM_free(vp);
}

static TL_MUST_CHECK int step_capf(struct phone *p, bool *installed)
{
	struct capf_cli_result r = {0};
	char host[64], crt[1200], keyf[1200];
	STACK_OF(X509) *anchors = NULL;
	unsigned char md[32];
	struct net_tls *tls = NULL;
	int mode = p->cnf.capf_auth_mode;
	int err;

	*installed = false;
	if (mode == 0) {
		phone_step(p, STEP_CAPF, STEP_SKIPPED, "no CAPF operation");
		return 0;
	}
	if (!p->ctl) {
		return refuse(p, STEP_CAPF, -TL_ETRUST, "CAPF needs a CTL");
	}
	err = numeric_host(p->cnf.capf_host, host, sizeof(host));
	if (err) {
		return refuse(p, STEP_CAPF, err, "CAPF host %s unknown",
		              p->cnf.capf_host);
	}
	pthread_once(&pin_once, pin_init);
	if (!pin_ok) {
		return refuse(p, STEP_CAPF, -TL_ECRYPTO,
		              "cannot pin the CTL's CAPF certificate");
	}
	err = capf_anchors(p, &anchors, md);
	if (err) {
		return refuse(p, STEP_CAPF, err,
		              "no CAPF certificate in the CTL");
	}
	err = path(p, "lsc.crt", crt, sizeof(crt));
	if (!err) {
		err = path(p, "lsc.key", keyf, sizeof(keyf));
	}
	if (err) {
		sk_X509_free(anchors);
		return refuse(p, STEP_CAPF, err, "state path too long");
	}
	struct capf_cli_conf c = {
	        .host = host,
	        .port = p->cnf.capf_port,
	        .device = p->name,
	        .cert_out = crt,
	        .key_out = keyf,
	        .no_sync = p->conf.no_sync,
	        .timeout_ms = 10000,
	};
	switch (mode) {
	case 1:
		if (!p->conf.auth_string && p->cfg_encrypted &&
		    strcmp(p->cert_kind, "LSC") == 0) {
			/* nothing to prove: the server encrypted the config
			 * to the LSC we hold (see below) */
			phone_step(p, STEP_CAPF, STEP_OK,
			           "LSC on file; no auth string to use");
			sk_X509_free(anchors);
			return 0;
		}
		if (!p->conf.auth_string) {
			sk_X509_free(anchors);
			return refuse(p, STEP_CAPF, -TL_EAUTH,
			              "CAPF asks for an auth string and none "
			              "was given");
		}
		c.auth_string = p->conf.auth_string;
		break;
	case 2:
		break;
	case 3: /* LSC, falling back to the MIC (load_identity's order) */
	case 4:
		if (mode == 4 && strcmp(p->cert_kind, "MIC") != 0) {
			X509 *m = NULL;
			EVP_PKEY *k = NULL;
			if (!p->conf.mic_cert || !p->conf.mic_key ||
			    load_pair(p->conf.mic_cert, p->conf.mic_key, &m,
			              &k) != 0) {
				sk_X509_free(anchors);
				return refuse(p, STEP_CAPF, -TL_EAUTH,
				              "CAPF asks for a MIC and the "
				              "phone has none");
			}
			X509_free(p->cert);
			EVP_PKEY_free(p->key);
			p->cert = m;
			p->key = k;
		}
		if (!p->cert) {
			sk_X509_free(anchors);
			return refuse(p, STEP_CAPF, -TL_EAUTH,
			              "CAPF asks for a certificate and the "
			              "phone has none");
		}
		c.cert = p->cert;
		c.cert_key = p->key;
		break;
	default:
		sk_X509_free(anchors);
		return refuse(p, STEP_CAPF, -TL_EPARSE, "capfAuthMode %d",
		              mode);
	}
	/* the context (kept per thread) holds the anchors from here on */
	err = capf_tls(anchors, md, &tls);
	sk_X509_free(anchors);
	if (err) {
		return refuse(p, STEP_CAPF, err,
		              "no TLS context for the CAPF server");
	}
	c.tls = tls;
	err = capf_cli_run(&c, &r);
	net_tls_unref(tls);
	if (err == 0 && r.reason == 9) {
		err = -TL_EAUTH;
	}
	if (err == -TL_EAUTH && mode == 1 && p->cfg_encrypted &&
	    strcmp(p->cert_kind, "LSC") == 0) {
		/* The config was encrypted to the LSC we hold: the server has
		 * it on file and the one-time auth string was spent on it.
		 * The operation is done; a new one would come with a new
		 * string. */
		capf_cli_result_clear(&r);
		load_identity(p);
		phone_step(p, STEP_CAPF, STEP_OK,
		           "LSC on file; the auth string was used");
		return 0;
	}
	if (err) {
		capf_cli_result_clear(&r);
		load_identity(p);
		return refuse(p, STEP_CAPF, err, "CAPF session failed: %s",
		              err == -TL_EAUTH ? "the server refused our "
		                                 "credentials"
		                               : tl_strerror(err));
	}
	switch (r.done) {
	case CAPF_CLI_INSTALLED:
		*installed = true;
		phone_step(p, STEP_CAPF, STEP_OK, "LSC installed");
		break;
	case CAPF_CLI_FETCHED:
		phone_step(p, STEP_CAPF, STEP_OK, "certificate fetched");
		break;
	case CAPF_CLI_DELETED:
		phone_step(p, STEP_CAPF, STEP_OK, "LSC deleted");
		break;
	default:
		phone_step(p, STEP_CAPF, STEP_OK, "nothing pending");
		break;
	}
	if (r.done == CAPF_CLI_INSTALLED && r.lsc && r.key) {
		/* The new LSC, checked by the client against our key and name,
		 * is what lsc.crt and lsc.key now hold: take it as is rather
		 * than reading and decoding the files again. */
		X509_free(p->cert);
		EVP_PKEY_free(p->key);
		p->cert = r.lsc;
		p->key = r.key;
		r.lsc = NULL;
		r.key = NULL;
		snprintf(p->cert_kind, sizeof(p->cert_kind), "LSC");
		cert_info(p);
		capf_cli_result_clear(&r);
		return 0;
	}
	capf_cli_result_clear(&r);
	load_identity(p);
	return 0;
}

int phone_boot(struct phone *p)
{
	bool installed = false;
	int err;

	p->state = PHONE_BOOTING;
	p->reason[0] = 0;
	memset(p->steps, 0, sizeof(p->steps));
	load_identity(p);
	err = step_ctl(p);
	if (!err) {
		err = step_config(p);
	}
	if (!err) {
		err = step_firmware(p);
	}
	if (!err) {
		err = step_capf(p, &installed);
	}
	if (!err && installed) {
		/* A new certificate: the server now encrypts the config to
		 * it (Cisco phones reset after an LSC install). The server
		 * regenerates configs within a second or so of the change:
		 * retry with a growing pause (20 ms doubling up to 400 ms,
		 * about 3 s in all) so that a quick server costs no sleep. */
		unsigned pause_ms = 20, slept_ms = 0;
		for (int i = 0; i < 16; i++) {
			p->hash_mismatch = false;
			p->state = PHONE_BOOTING;
			err = step_config(p);
			if (!err || !p->hash_mismatch || slept_ms >= 3000) {
				break;
			}
			usleep(pause_ms * 1000);
			slept_ms += pause_ms;
			pause_ms = pause_ms < 400 ? pause_ms * 2 : 400;
		}
	}
	if (!err && p->cnf.security_mode >= 2 && !p->cert) {
		err = refuse(p, STEP_REGISTER, -TL_ETRUST,
		             "secure mode needs a certificate (LSC or MIC)");
	}
	if (err && p->state != PHONE_REFUSED) {
		p->state = PHONE_REFUSED;
	}
	if (!err) {
		p->reason[0] = 0;
	}
	return err;
}

int phone_register(struct phone *p)
{
	if (p->state == PHONE_REFUSED || !p->have_cnf) {
		return -TL_ESTATE;
	}
	return phone_sip_start(p);
}

enum phone_state phone_state(const struct phone *p)
{
	return p->state;
}

const char *phone_state_name(enum phone_state s)
{
	static const char *const n[] = {"booting", "refused", "registering",
	                                "registered", "unregistered"};
	return (unsigned)s < 5 ? n[s] : "?";
}

const char *phone_mac(const struct phone *p)
{
	return p->mac;
}

static const char *reg_name(enum reg_state s)
{
	static const char *const n[] = {"idle", "registering", "registered",
	                                "failed"};
	return n[s];
}

static const char *call_name(enum call_state s)
{
	static const char *const n[] = {"idle", "dialing", "ringing", "active",
	                                "ended"};
	return n[s];
}

/* Cisco's Call-Info security values to what a phone shows. */
static const char *call_security(const struct phone_call *c)
{
	if (c->security[0] == '\0') {
		return "unknown";
	}
	if (strcasecmp(c->security, "Encrypted") == 0) {
		return "encrypted";
	}
	if (strcasecmp(c->security, "Authenticated") == 0) {
		return "authenticated";
	}
	return "nonsecure";
}

static json_t *status_json(struct phone *p)
{
	json_t *j = json_object(), *steps = json_object(),
	       *lines = json_array();
	json_t *cert = json_object(), *ctl = json_object(), *call;

	json_object_set_new(j, "device", json_string(p->name));
	json_object_set_new(j, "state",
	                    json_string(phone_state_name(p->state)));
	json_object_set_new(j, "reason", json_string(p->reason));
	for (int i = 0; i < STEP_MAX; i++) {
		json_t *s = json_object();
		json_object_set_new(
		        s, "state",
		        json_string(step_state_names[p->steps[i].st]));
		json_object_set_new(s, "detail",
		                    json_string(p->steps[i].detail));
		json_object_set_new(steps, step_names[i], s);
	}
	json_object_set_new(j, "boot", steps);
	json_object_set_new(
	        j, "security_mode",
	        json_string(p->have_cnf ? phone_mode_name(p->cnf.security_mode)
	                                : "unknown"));
	json_object_set_new(
	        j, "transport",
	        json_string(p->sip ? net_transport_name(phone_tgt(p)->tp)
	                           : ""));
	json_object_set_new(j, "sip_port",
	                    json_integer(net_addr_port(&p->local)));
	json_object_set_new(j, "firmware", json_string(p->firmware));
	json_object_set_new(ctl, "present", json_boolean(p->ctl != NULL));
	json_object_set_new(ctl, "signer", json_string(p->ctl_signer));
	json_object_set_new(ctl, "sha256", json_string(p->ctl_sha256));
	json_object_set_new(
	        ctl, "records",
	        json_integer(p->ctl ? (json_int_t)trust_ctl_count(p->ctl) : 0));
	json_object_set_new(j, "ctl", ctl);
	json_object_set_new(cert, "kind", json_string(p->cert_kind));
	json_object_set_new(cert, "subject", json_string(p->cert_subject));
	json_object_set_new(cert, "issuer", json_string(p->cert_issuer));
	json_object_set_new(cert, "not_after", json_string(p->cert_not_after));
	json_object_set_new(j, "certificate", cert);
	for (size_t i = 0; i < p->n_lines; i++) {
		json_t *l = json_object();
		json_object_set_new(l, "dn", json_string(p->lines[i].dn));
		json_object_set_new(l, "state",
		                    json_string(reg_name(p->lines[i].st)));
		json_object_set_new(l, "detail", json_string(p->lines[i].why));
		const struct phone_line *pl = &p->lines[i];
		json_t *m = json_object();
		json_object_set_new(
		        m, "state",
		        json_string(phone_mwi_state_name(pl->mwi.st)));
		json_object_set_new(m, "expires_in",
		                    json_integer(phone_mwi_left(pl)));
		json_object_set_new(
		        m, "refreshes",
		        json_integer((json_int_t)pl->mwi.refreshes));
		json_object_set_new(m, "dialogs",
		                    json_integer((json_int_t)pl->mwi.dialogs));
		json_object_set_new(m, "detail", json_string(pl->mwi.why));
		json_object_set_new(l, "mwi_subscription", m);
		json_array_append_new(lines, l);
	}
	json_object_set_new(j, "lines", lines);
	call = json_object();
	json_object_set_new(call, "state", json_string(call_name(p->call.st)));
	if (p->call.st != CALL_IDLE) {
		struct media_stats ms = p->call.last_stats;
		json_object_set_new(
		        call, "direction",
		        json_string(p->call.outgoing ? "out" : "in"));
		json_object_set_new(call, "number",
		                    json_string(p->call.number));
		json_object_set_new(call, "security",
		                    json_string(call_security(&p->call)));
		json_object_set_new(call, "srtp", json_boolean(p->call.srtp));
		json_object_set_new(call, "srtp_suite",
		                    json_string(p->call.srtp
		                                        ? media_srtp_suite_name(
		                                                  p->call.suite)
		                                        : ""));
		json_object_set_new(
		        call, "codec",
		        json_string(media_codec_name(p->call.codec)));
		json_object_set_new(call, "held", json_boolean(p->call.held));
		json_object_set_new(call, "remote_held",
		                    json_boolean(p->call.remote_held));
		json_object_set_new(call, "packets_sent",
		                    json_integer((json_int_t)ms.sent));
		json_object_set_new(call, "packets_received",
		                    json_integer((json_int_t)ms.received));
		json_object_set_new(
		        call, "srtp_auth_fail",
		        json_integer((json_int_t)ms.srtp_auth_fail));
		json_object_set_new(call, "tone_detected",
		                    json_boolean(p->call.tone_heard));
		json_object_set_new(call, "dtmf", json_string(p->call.dtmf));
		json_object_set_new(call, "end_reason",
		                    json_string(p->call.end_reason));
	}
	json_object_set_new(j, "call", call);
	json_object_set_new(j, "auth_challenges",
	                    json_integer((json_int_t)p->auth_challenges));
	json_object_set_new(j, "auth_accepted",
	                    json_integer((json_int_t)p->auth_accepted));
	json_object_set_new(j, "mwi", json_boolean(p->mwi));
	json_object_set_new(j, "mwi_new", json_integer(p->mwi_new));
	json_object_set_new(j, "mwi_old", json_integer(p->mwi_old));
	return j;
}

int phone_status(struct phone *p, struct buf *out, bool json)
{
	if (p->call.ms) {
		media_session_stats(p->call.ms, &p->call.last_stats);
	}
	if (json) {
		json_t *j = status_json(p);
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (!s) {
			return -ENOMEM;
		}
		buf_put_str(out, s);
		free(s);
		return buf_err(out);
	}
	buf_printf(out, "%s  %s%s%s\n", p->name, phone_state_name(p->state),
	           p->reason[0] ? ": " : "", p->reason);
	for (int i = 0; i < STEP_MAX; i++) {
		buf_printf(out, "  %-9s %-8s %s\n", step_names[i],
		           step_state_names[p->steps[i].st],
		           p->steps[i].detail);
	}
	buf_printf(out, "  mode      %s%s%s\n",
	           p->have_cnf ? phone_mode_name(p->cnf.security_mode) : "-",
	           p->sip ? " over " : "",
	           p->sip ? net_transport_name(phone_tgt(p)->tp) : "");
	buf_printf(out, "  ctl       %s%s\n", p->ctl ? "signed by " : "none",
	           p->ctl ? p->ctl_signer : "");
	buf_printf(out, "  cert      %s %s%s%s\n",
	           p->cert_kind[0] ? p->cert_kind : "none", p->cert_subject,
	           p->cert_not_after[0] ? " until " : "", p->cert_not_after);
	for (size_t i = 0; i < p->n_lines; i++) {
		const struct phone_line *pl = &p->lines[i];
		buf_printf(out, "  line %-4s %-11s %s\n", pl->dn,
		           reg_name(pl->st), pl->why);
		if (pl->mwi.st != MWI_IDLE) {
			buf_printf(out,
			           "  mwi  %-4s %-11s %us left, %llu "
			           "refresh(es)%s%s\n",
			           pl->dn, phone_mwi_state_name(pl->mwi.st),
			           phone_mwi_left(pl),
			           (unsigned long long)pl->mwi.refreshes,
			           pl->mwi.why[0] ? ", " : "", pl->mwi.why);
		}
	}
	if (p->call.st != CALL_IDLE) {
		buf_printf(out,
		           "  call      %s %s %s, %s, %s%s, sent %llu, "
		           "received %llu%s%s\n",
		           call_name(p->call.st),
		           p->call.outgoing ? "to" : "from", p->call.number,
		           call_security(&p->call),
		           p->call.srtp ? "SRTP " : "RTP ",
		           media_codec_name(p->call.codec),
		           (unsigned long long)p->call.last_stats.sent,
		           (unsigned long long)p->call.last_stats.received,
		           p->call.held ? ", on hold" : "",
		           p->call.tone_heard ? ", tone heard" : "");
	}
	return buf_err(out);
}

/* ---- commands (docs/phone.md) ---- */

static void reply_err(struct buf *out, int err)
{
	buf_printf(out, "error %s", tl_strerror(err));
}

void phone_command(struct phone *p, const char *line, struct buf *out)
{
	char cmd[32] = "", arg[128] = "";
	int err = 0;

	if (sscanf(line, "%31s %127s", cmd, arg) < 1) {
		buf_put_str(out, "error empty command");
		return;
	}
	if (strcmp(cmd, "status") == 0) {
		bool json = strcmp(arg, "json") == 0;
		buf_put_str(out, "ok\n");
		err = phone_status(p, out, json);
		if (!err && json) {
			buf_put_str(out, "\n");
		}
		/* the text form ends with its own line end */
		if (out->len && out->p[out->len - 1] == '\n') {
			out->len--;
		}
		return;
	} else if (strcmp(cmd, "dial") == 0) {
		err = arg[0] ? phone_dial(p, arg) : -EINVAL;
	} else if (strcmp(cmd, "answer") == 0) {
		err = phone_answer(p);
	} else if (strcmp(cmd, "hangup") == 0) {
		err = phone_hangup(p);
	} else if (strcmp(cmd, "hold") == 0) {
		err = phone_hold(p);
	} else if (strcmp(cmd, "resume") == 0) {
		err = phone_resume(p);
	} else if (strcmp(cmd, "transfer") == 0) {
		err = arg[0] ? phone_transfer(p, arg) : -EINVAL;
	} else if (strcmp(cmd, "dtmf") == 0) {
		err = arg[0] ? phone_dtmf(p, arg) : -EINVAL;
	} else {
		buf_printf(out, "error unknown command %.32s", cmd);
		return;
	}
	if (err) {
		reply_err(out, err);
	} else {
		buf_put_str(out, "ok");
	}
}
