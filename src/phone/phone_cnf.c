/* The phone's side of SEP<MAC>.cnf.xml (docs/formats/cnf-xml.md,
 * cisco-formats.md §2.3, §3): what a phone reads from its config, with
 * libxml2 and no network access, no DTD and no entity expansion. */
#include "phone/phone.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/crypto.h>
#include <string.h>

enum {
	F_FULL = 1u << 0,
	F_ENCR = 1u << 1,
	F_HASH = 1u << 2,
	F_MODE = 1u << 3,
	F_TRANSPORT = 1u << 4,
	F_LOAD = 1u << 5,
	F_CAPF_MODE = 1u << 6,
	F_CM = 1u << 7,
	F_CAPF = 1u << 8,
	F_SEC = 1u << 9,
};

struct walk {
	struct phone_cnf *c;
	unsigned seen;
	int err;
};

static bool name_is(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE &&
	       strcmp((const char *)n->name, name) == 0;
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
	for (const xmlNode *k = n->children; k; k = k->next) {
		if (name_is(k, name)) {
			return k;
		}
	}
	return NULL;
}

/* The text of an element that holds only text (an element inside is a
 * malformed config). */
static TL_MUST_CHECK int text_of(const xmlNode *n, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (const xmlNode *k = n->children; k; k = k->next) {
		if (k->type == XML_ELEMENT_NODE) {
			return -TL_EPARSE;
		}
		if (k->type != XML_TEXT_NODE &&
		    k->type != XML_CDATA_SECTION_NODE) {
			continue;
		}
		size_t l = strlen((const char *)k->content);
		if (len + l >= cap) {
			return -TL_ETOOBIG;
		}
		memcpy(out + len, k->content, l);
		len += l;
		out[len] = '\0';
	}
	/* trim */
	size_t s = 0;
	while (out[s] == ' ' || out[s] == '\t' || out[s] == '\n' ||
	       out[s] == '\r') {
		s++;
	}
	while (len > s && (out[len - 1] == ' ' || out[len - 1] == '\t' ||
	                   out[len - 1] == '\n' || out[len - 1] == '\r')) {
		len--;
	}
	memmove(out, out + s, len - s);
	out[len - s] = '\0';
	return 0;
}

static TL_MUST_CHECK int num_of(const xmlNode *n, unsigned max, unsigned *out)
{
	char t[16];
	uint64_t v;
	int err = text_of(n, t, sizeof(t));

	if (err) {
		return err;
	}
	err = slice_to_u64(slice_from_str(t), 10, &v);
	if (err || v > max) {
		return -TL_EPARSE;
	}
	*out = (unsigned)v;
	return 0;
}

static TL_MUST_CHECK int bool_of(const xmlNode *n, bool *out)
{
	char t[8];
	int err = text_of(n, t, sizeof(t));

	if (err) {
		return err;
	}
	if (strcmp(t, "true") == 0) {
		*out = true;
	} else if (strcmp(t, "false") == 0 || t[0] == '\0') {
		*out = false;
	} else {
		return -TL_EPARSE;
	}
	return 0;
}

/* A field that decides security may appear once. */
static TL_MUST_CHECK int once(struct walk *w, unsigned f)
{
	if (w->seen & f) {
		return -TL_EDUP;
	}
	w->seen |= f;
	return 0;
}

static TL_MUST_CHECK int read_cm(struct walk *w, const xmlNode *dp)
{
	const xmlNode *grp = child(dp, "callManagerGroup");
	const xmlNode *mem = grp ? child(grp, "members") : NULL;
	const xmlNode *m = mem ? child(mem, "member") : NULL;
	const xmlNode *cm = m ? child(m, "callManager") : NULL;
	const xmlNode *ports, *k;
	unsigned v = 0;
	int err = 0;

	if (!cm) {
		return 0;
	}
	/* The first member is the primary call manager (priority 0). */
	err = once(w, F_CM);
	if (!err && (k = child(cm, "processNodeName")) != NULL) {
		err = text_of(k, w->c->host, sizeof(w->c->host));
	}
	ports = child(cm, "ports");
	if (!err && ports && (k = child(ports, "sipPort")) != NULL) {
		err = num_of(k, 65535, &v);
		w->c->sip_port = (uint16_t)v;
	}
	if (!err && ports && (k = child(ports, "securedSipPort")) != NULL) {
		err = num_of(k, 65535, &v);
		w->c->sip_tls_port = (uint16_t)v;
	}
	return err;
}

static TL_MUST_CHECK int read_line(struct walk *w, const xmlNode *ln)
{
	struct phone_cnf_line *l;
	const xmlNode *k;
	int err = 0;

	if (w->c->n_lines >= PHONE_MAX_LINES) {
		return -TL_ETOOBIG;
	}
	l = &w->c->lines[w->c->n_lines];
	memset(l, 0, sizeof(*l));
	if ((k = child(ln, "name")) != NULL) {
		err = text_of(k, l->dn, sizeof(l->dn));
	}
	if (!err && (k = child(ln, "authName")) != NULL) {
		err = text_of(k, l->auth_name, sizeof(l->auth_name));
	}
	if (!err && (k = child(ln, "authPassword")) != NULL) {
		err = text_of(k, l->password, sizeof(l->password));
		l->has_password = !err && l->password[0] != '\0';
	}
	if (!err && (k = child(ln, "displayName")) != NULL) {
		err = text_of(k, l->display, sizeof(l->display));
	}
	if (!err && (k = child(ln, "autoAnswer")) != NULL &&
	    (k = child(k, "autoAnswerEnabled")) != NULL) {
		unsigned v;
		err = num_of(k, 9, &v);
		l->auto_answer = !err && v == 1;
	}
	if (err) {
		return err;
	}
	if (l->dn[0] == '\0') {
		return -TL_EPARSE;
	}
	if (l->auth_name[0] == '\0') {
		memcpy(l->auth_name, l->dn, sizeof(l->dn));
	}
	w->c->n_lines++;
	return 0;
}

static TL_MUST_CHECK int read_device(struct walk *w, const xmlNode *root)
{
	struct phone_cnf *c = w->c;
	unsigned v = 0;
	int err = 0;

	for (const xmlNode *n = root->children; n && !err; n = n->next) {
		if (n->type != XML_ELEMENT_NODE) {
			continue;
		}
		if (name_is(n, "fullConfig")) {
			err = once(w, F_FULL);
			if (!err) {
				err = bool_of(n, &c->full_config);
			}
		} else if (name_is(n, "encrConfig")) {
			err = once(w, F_ENCR);
			if (!err) {
				err = bool_of(n, &c->encr_config);
			}
		} else if (name_is(n, "certHash")) {
			err = once(w, F_HASH);
			if (!err) {
				err = text_of(n, c->cert_hash,
				              sizeof(c->cert_hash));
			}
		} else if (name_is(n, "deviceSecurityMode")) {
			err = once(w, F_MODE);
			if (!err) {
				err = num_of(n, 3, &v);
				c->security_mode = (int)v;
			}
			if (!err && v == 0) {
				err = -TL_EPARSE;
			}
		} else if (name_is(n, "transportLayerProtocol")) {
			err = once(w, F_TRANSPORT);
			if (!err) {
				err = num_of(n, 4, &v);
				c->transport = (int)v;
			}
		} else if (name_is(n, "loadInformation")) {
			err = once(w, F_LOAD);
			if (!err) {
				err = text_of(n, c->load, sizeof(c->load));
			}
		} else if (name_is(n, "capfAuthMode")) {
			err = once(w, F_CAPF_MODE);
			if (!err) {
				err = num_of(n, 4, &v);
				c->capf_auth_mode = (int)v;
			}
		} else if (name_is(n, "devicePool")) {
			err = read_cm(w, n);
		} else if (name_is(n, "capfList")) {
			const xmlNode *cp = child(n, "capf"), *k;
			if (cp) {
				err = once(w, F_CAPF);
			}
			if (!err && cp && (k = child(cp, "phonePort"))) {
				err = num_of(k, 65535, &v);
				c->capf_port = (uint16_t)v;
			}
			if (!err && cp && (k = child(cp, "processNodeName"))) {
				err = text_of(k, c->capf_host,
				              sizeof(c->capf_host));
			}
		} else if (name_is(n, "sipProfile")) {
			const xmlNode *sl = child(n, "sipLines");
			for (const xmlNode *l = sl ? sl->children : NULL;
			     l && !err; l = l->next) {
				if (name_is(l, "line")) {
					err = read_line(w, l);
				}
			}
		} else if (name_is(n, "trustlineSecurity")) {
			const xmlNode *k;
			err = once(w, F_SEC);
			if (!err && (k = child(n, "authInvite"))) {
				err = bool_of(k, &c->auth_invite);
			}
			if (!err && (k = child(n, "srtpRequired"))) {
				err = bool_of(k, &c->srtp_required);
			}
		}
	}
	return err;
}

int phone_cnf_parse(struct phone_cnf *out, const uint8_t *p, size_t len)
{
	struct walk w = {.c = out};
	xmlDoc *doc = NULL;
	const xmlNode *root;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > PHONE_CNF_MAX) {
		return len ? -TL_ETOOBIG : -TL_ETRUNC;
	}
	if (memchr(p, '\0', len) != NULL) {
		return -TL_EPARSE;
	}
	out->full_config = true;
	out->security_mode = 1;
	/* No network, no entity substitution, no DTD loading: a config is
	 * attacker bytes until its signature was checked, and even then. */
	doc = xmlReadMemory((const char *)p, (int)len, "cnf.xml", NULL,
	                    XML_PARSE_NONET | XML_PARSE_NOERROR |
	                            XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS);
	if (!doc) {
		err = -TL_EPARSE;
		goto out;
	}
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		err = -TL_EPOLICY;
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	if (!root || !name_is(root, "device") || root->next) {
		err = -TL_EPARSE;
		goto out;
	}
	err = read_device(&w, root);
	if (err) {
		goto out;
	}
	if (!(w.seen & F_MODE) && out->full_config) {
		/* A full config without a security mode is nonsecure. */
		out->security_mode = 1;
	}
	if (out->encr_config && out->cert_hash[0] == '\0') {
		err = -TL_EPARSE;
		goto out;
	}
	if (out->transport == 0) {
		out->transport = out->security_mode >= 2 ? 3 : 2;
	}
	if (out->security_mode >= 2) {
		/* seed 002: authenticated and encrypted devices use TLS. */
		out->transport = 3;
	}
	if (out->capf_host[0] == '\0') {
		memcpy(out->capf_host, out->host, sizeof(out->host));
	}
	if (out->sip_port == 0) {
		out->sip_port = 5060;
	}
	if (out->sip_tls_port == 0) {
		out->sip_tls_port = 5061;
	}
	if (out->capf_port == 0) {
		out->capf_port = 3804;
	}
out:
	xmlFreeDoc(doc);
	if (err) {
		phone_cnf_wipe(out);
	}
	return err;
}

void phone_cnf_wipe(struct phone_cnf *c)
{
	OPENSSL_cleanse(c, sizeof(*c));
}

const char *phone_mode_name(int mode)
{
	switch (mode) {
	case 1:
		return "nonsecure";
	case 2:
		return "authenticated";
	case 3:
		return "encrypted";
	default:
		return "unknown";
	}
}
