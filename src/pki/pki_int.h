/* Private to src/pki: what the CA object shares with crl.c. */
#ifndef TL_PKI_INT_H
#define TL_PKI_INT_H

#include "pki/pki.h"

struct pki_key *pki_ca_key_int(struct pki_ca *ca);

#endif
