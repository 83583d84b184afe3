/* The enrolment services of a site directory. */
#include "enroll/enroll_svc.h"

#include "base/log.h"
#include "enroll/capf_srv.h"
#include "enroll/enroll.h"
#include "enroll/est_srv.h"
#include "pki/pki_site.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct enroll_svc {
	struct pki_ca *ca;
	X509 *mfg;
	struct enroll *e;
	struct capf_srv *capf;
	struct est_srv *est;
};

int enroll_svc_new(struct enroll_svc **out, struct event_base *base,
                   struct store *st, const struct enroll_svc_conf *c)
{
	struct enroll_svc *s;
	char p[4200], cert[4200], key[4200], cert2[4200], key2[4200];
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	err = pki_site_env(c->site_dir, false);
	if (!err) {
		err = pki_site_ca_open(&s->ca, c->site_dir, PKI_SITE_CA, NULL,
		                       NULL, c->crl_url);
	}
	if (err) {
		log_err("enroll", "cannot open the site CA: %s",
		        tl_strerror(err));
		goto out;
	}
	snprintf(p, sizeof(p), "%s/pki/mfg-ca.crt", c->site_dir);
	if (access(p, R_OK) == 0 && pki_cert_read(&s->mfg, p) != 0) {
		log_warn("enroll", "cannot read %s: MIC modes refused", p);
	}
	struct enroll_conf ec = {
	        .st = st,
	        .ca = s->ca,
	        .mfg_ca = s->mfg,
	        .site_dir = c->site_dir,
	};
	err = enroll_new(&s->e, &ec);
	if (err) {
		goto out;
	}
	if (c->capf_port) {
		/* the key phones are asked to make: site setting capf.key_alg
		 * (trustline capf key), P-256 when unset; Cisco phones that
		 * know no EC need rsa2048 */
		char alg[32];
		enum pki_alg ka = PKI_ALG_P256;
		if (store_setting_get(st, "capf.key_alg", alg, sizeof(alg)) ==
		            0 &&
		    pki_alg_parse(alg, &ka) != 0) {
			log_warn("enroll", "bad capf.key_alg '%s': P-256", alg);
			ka = PKI_ALG_P256;
		}
		snprintf(cert, sizeof(cert), "%s/pki/capf.crt", c->site_dir);
		snprintf(key, sizeof(key), "%s/pki/capf.key", c->site_dir);
		snprintf(cert2, sizeof(cert2), "%s/pki/capf-ec.crt",
		         c->site_dir);
		snprintf(key2, sizeof(key2), "%s/pki/capf-ec.key", c->site_dir);
		/* sites made before capf-ec existed have only the RSA one */
		bool has_ec =
		        access(cert2, R_OK) == 0 && access(key2, R_OK) == 0;
		struct capf_srv_conf cc = {
		        .addr = c->listen,
		        .port = c->capf_port,
		        .cert_file = cert,
		        .key_file = key,
		        .cert2_file = has_ec ? cert2 : NULL,
		        .key2_file = has_ec ? key2 : NULL,
		        .keylog_file = c->keylog_file,
		        .key_alg = ka,
		};
		err = capf_srv_new(&s->capf, base, s->e, &cc);
		if (err) {
			log_err("enroll", "cannot start CAPF on %s:%u: %s",
			        c->listen, c->capf_port, tl_strerror(err));
			goto out;
		}
	}
	if (c->est_port) {
		struct est_srv_conf xc = {
		        .addr = c->listen,
		        .port = c->est_port,
		        .cert_file = c->est_cert_file,
		        .key_file = c->est_key_file,
		        .cert2_file = c->est_cert2_file,
		        .key2_file = c->est_key2_file,
		        .client_ca_file = c->client_ca_file,
		        .keylog_file = c->keylog_file,
		};
		err = est_srv_new(&s->est, base, s->e, &xc);
		if (err) {
			log_err("enroll", "cannot start EST on %s:%u: %s",
			        c->listen, c->est_port, tl_strerror(err));
			goto out;
		}
	}
out:
	if (err) {
		enroll_svc_free(s);
		return err;
	}
	*out = s;
	return 0;
}

void enroll_svc_free(struct enroll_svc *s)
{
	if (!s) {
		return;
	}
	capf_srv_free(s->capf);
	est_srv_free(s->est);
	enroll_free(s->e);
	pki_ca_free(s->ca);
	X509_free(s->mfg);
	free(s);
}
