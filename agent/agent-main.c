/* agent-main.c - aether-agent: `aether serve` and `aether remote`, which
 * the aether command executes (see agent.h) as
 *   aether-agent [-c HOSTCONF] [-v]... [-q] serve|remote ARG...
 * with AETHER_BINARY naming the aether program the agent runs requests
 * with. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "exitcodes.h"
#include "util.h"

int main(int argc, char **argv)
{
	const char *hostconf = NULL;
	int ch;

	while ((ch = getopt(argc, argv, "+c:vq")) != -1) {
		switch (ch) {
		case 'c':
			hostconf = optarg;
			break;
		case 'v':
			ae_log_level++;
			break;
		case 'q':
			ae_log_level = 3;
			break;
		default:
			return AE_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc >= 1 && !strcmp(argv[0], "serve"))
		return ae_cmd_serve(argc, argv, hostconf);
	if (argc >= 1 && !strcmp(argv[0], "remote"))
		return ae_cmd_remote(argc, argv, hostconf);
	fprintf(stderr, "aether-agent: run as `aether serve` or `aether "
			"remote` (see aether-remote(7))\n");
	return AE_EXIT_USAGE;
}
