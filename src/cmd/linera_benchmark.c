/* `linera benchmark`: see cmd_benchmark. */
#include "cmd/linera_cli.h"

int cmd_benchmark(cli_globals *g, int argc, char **argv) {
    (void)g;
    (void)argc;
    (void)argv;
    cli_error("benchmark: not available yet");
    return CLI_EXIT_ERROR;
}
