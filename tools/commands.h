// The bluecl CLI's subcommands, each `int <name>_main(int argc, char** argv)` with argv[0] = the
// subcommand's name; tools/bluecl.cpp dispatches to them.
#pragma once

namespace bluecl::cli {

int gen_model_main(int argc, char** argv);

}  // namespace bluecl::cli
