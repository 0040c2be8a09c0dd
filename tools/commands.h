// The bluecl CLI's subcommands, each `int <name>_main(int argc, char** argv)` with argv[0] = the
// subcommand's name; tools/bluecl.cpp dispatches to them. The inference commands use only the C API
// (bluecl/bluecl.h); gen-model is a development tool that writes GGUF files with the library's writer.
#pragma once

namespace bluecl::cli {

int devices_main(int argc, char** argv);
int run_main(int argc, char** argv);
int tokenize_main(int argc, char** argv);
int logits_main(int argc, char** argv);
int grid_main(int argc, char** argv);
int gen_model_main(int argc, char** argv);
int bench_main(int argc, char** argv);
int plan_main(int argc, char** argv);
int encode_main(int argc, char** argv);
int tune_main(int argc, char** argv);

}  // namespace bluecl::cli
