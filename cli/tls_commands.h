// `mecai s_server`, `mecai s_client` and `mecai serverinfo`: the MECAI TLS extension from the
// command line (ARCHITECTURE.md §5, §10; docs/TLS_EXTENSION.md).
#ifndef MECAI_CLI_TLS_COMMANDS_H_
#define MECAI_CLI_TLS_COMMANDS_H_

namespace mecai {

// Usage lines for the top-level help.
extern const char kTlsCommandsUsage[];

// Each returns the process exit code: 0 success, 1 error, 2 usage, 3 (s_client) no valid VD.
int SServerCommand(int argc, char** argv);
int SClientCommand(int argc, char** argv);
int ServerinfoCommand(int argc, char** argv);

}  // namespace mecai

#endif  // MECAI_CLI_TLS_COMMANDS_H_
