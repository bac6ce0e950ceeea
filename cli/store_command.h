// `mecai store check`: verifies a copy of a coordinator's record store, such as a backup, before
// it is restored (docs/OPERATIONS.md "Backup and restore").
#ifndef MECAI_CLI_STORE_COMMAND_H_
#define MECAI_CLI_STORE_COMMAND_H_

namespace mecai {

// argv[1] is "store"; returns the process exit code.
int StoreCommand(int argc, char** argv);

}  // namespace mecai

#endif  // MECAI_CLI_STORE_COMMAND_H_
