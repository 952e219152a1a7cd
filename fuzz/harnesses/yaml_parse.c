/* Example libFuzzer harness over Debian's static libyaml (libyaml.a): parse
 * a stream event by event; a planted bug writes through NULL at a scalar
 * whose value is an 8-byte magic compared with memcmp. */
#include <stdint.h>
#include <string.h>
#include <yaml.h>

/* The planted bug: a write through a NULL pointer. */
static void crash(void)
{
	*(volatile int *)(uintptr_t)0 = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int done = 0;

	if (!yaml_parser_initialize(&p))
		return 0;
	yaml_parser_set_input_string(&p, data, size);
	while (!done && yaml_parser_parse(&p, &ev)) {
		if (ev.type == YAML_SCALAR_EVENT &&
		    ev.data.scalar.length == 8 &&
		    !memcmp(ev.data.scalar.value, "COWVM-YA", 8))
			crash();
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return 0;
}
