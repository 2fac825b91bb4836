// libFuzzer's driver entry (compiler-rt's FuzzerInterface.h). SwiftPM links every executable with its own
// `main` (the module's renamed entry point), so the harnesses call libFuzzer's driver from there.
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
