/* Example libFuzzer harness over Debian's static expat (libexpat.a): parse
 * a document; a planted bug aborts at an element with a magic name and a
 * magic attribute value, both compared with strcmp. */
#include <expat.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Abort at <cowvmbug level="31337">: the planted bug. */
static void on_start(void *user, const XML_Char *name, const XML_Char **attr)
{
	(void)user;
	if (strcmp(name, "cowvmbug"))
		return;
	for (size_t i = 0; attr[i]; i += 2)
		if (!strcmp(attr[i], "level") && !strcmp(attr[i + 1], "31337"))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	XML_Parser p = XML_ParserCreate(NULL);

	if (!p)
		return 0;
	XML_SetStartElementHandler(p, on_start);
	(void)XML_Parse(p, (const char *)data, (int)size, 1);
	XML_ParserFree(p);
	return 0;
}
