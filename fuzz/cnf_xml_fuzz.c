/* libFuzzer target for config generation and config file names. The
 * first byte chooses the mode:
 *   0: cnf_file_parse on the rest (a requested file name, from the
 *      network); an accepted name must print back to itself up to the
 *      case of "SEP" and the MAC digits;
 *   1: cnf_xml_full and cnf_xml_stub on hostile field values (the rest,
 *      split at NUL bytes: host, display, user, dn, load, description,
 *      voicemail, password, certHash); every document must parse back
 *      with libxml2, and an authPassword element appears only where
 *      secrets were asked for (once: one line), never in the stub. */
#include "base/buf.h"
#include "base/slice.h"
#include "prov/cnf_xml.h"
#include "store/store.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void names(const uint8_t *p, size_t n)
{
	char mac[13];
	char back[64];
	enum cnf_file f;

	if (cnf_file_parse(slice_make(p, n), mac, &f) != 0) {
		return;
	}
	if (strlen(mac) != 12 || cnf_file_name(f, mac, back, sizeof(back)) ||
	    strlen(back) != n || strncasecmp(back, (const char *)p, 15) ||
	    memcmp(back + 15, p + 15, n - 15)) {
		abort();
	}
}

/* The next NUL-terminated field of the input into dst. */
static void field(const uint8_t **p, const uint8_t *end, char *dst, size_t n)
{
	const uint8_t *z = memchr(*p, 0, (size_t)(end - *p));
	size_t len = (size_t)((z ? z : end) - *p);

	if (len >= n) {
		len = n - 1;
	}
	memcpy(dst, *p, len);
	dst[len] = '\0';
	*p = z ? z + 1 : end;
}

static size_t count_elements(xmlNodePtr n, const char *name)
{
	size_t k = 0;

	for (; n; n = n->next) {
		if (n->type == XML_ELEMENT_NODE &&
		    !strcmp((const char *)n->name, name)) {
			k++;
		}
		k += count_elements(n->children, name);
	}
	return k;
}

/* The document must parse back; returns how many elements it has named
 * name. */
static size_t must_parse(const struct buf *b, const char *name)
{
	xmlDocPtr doc = xmlReadMemory(
	        (const char *)b->p, (int)b->len, "f", NULL,
	        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	size_t k;

	if (!doc) {
		abort();
	}
	k = count_elements(xmlDocGetRootElement(doc), name);
	xmlFreeDoc(doc);
	return k;
}

static void generate(const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n;
	char host[64], voicemail[32], password[64];
	struct store_device d = {0};
	struct store_profile prof = {.name = "fuzz",
	                             .mode = STORE_SEC_ENCRYPTED,
	                             .transport = STORE_TRANSPORT_TLS};
	struct store_line l = {0};
	const char *pws[1] = {password};
	struct cnf_site site = {.host = host, .voicemail = voicemail};
	struct cnf_input in = {&site, &d, &prof, &l, 1, pws};
	struct buf b;

	field(&p, end, host, sizeof(host));
	field(&p, end, l.display, sizeof(l.display));
	field(&p, end, l.user, sizeof(l.user));
	field(&p, end, l.dn, sizeof(l.dn));
	field(&p, end, d.load, sizeof(d.load));
	field(&p, end, d.description, sizeof(d.description));
	field(&p, end, voicemail, sizeof(voicemail));
	field(&p, end, password, sizeof(password));
	field(&p, end, d.cert_md5, sizeof(d.cert_md5));
	l.line_index = 1;

	buf_init(&b, 0);
	if (cnf_xml_full(&b, &in, false) == 0 &&
	    must_parse(&b, "authPassword") != 0) {
		abort();
	}
	buf_free(&b);
	if (cnf_xml_full(&b, &in, true) == 0 &&
	    must_parse(&b, "authPassword") > 1) {
		abort();
	}
	buf_free_secret(&b);
	if (cnf_xml_stub(&b, &in) == 0 &&
	    (must_parse(&b, "authPassword") != 0 ||
	     must_parse(&b, "sipLines") != 0)) {
		abort();
	}
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) {
		return 0;
	}
	if (data[0] & 1) {
		generate(data + 1, size - 1);
	} else {
		names(data + 1, size - 1);
	}
	return 0;
}
