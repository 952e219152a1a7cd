/* Helpers shared by the serve tests: a small template booted through the
 * serve engine, and requests served on clones or reset clones. */
#ifndef SERVE_UTIL_H
#define SERVE_UTIL_H

#include "serve.h"
#include "test_util.h"

#define ST_STATE_MIB 4

/* Boot the serve template of elf with a small state; fails the test on
 * error. */
void st_boot(const char *elf, struct serve_template *t, struct serve_model *m);

/* Serve the NUL-terminated req on vm and return its response data
 * (static); fails the test unless the guest answered with status want. */
const char *st_request(struct cowvm *vm, const char *req, int want);

#endif
