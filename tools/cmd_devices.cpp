// bluecl devices: every OpenCL platform and device with the features bluecl detects and uses.
#include "tools/cli_common.h"
#include "tools/commands.h"

#include <cstdio>

namespace bluecl::cli {

namespace {

int body(int argc, char** argv) {
  Args a("devices", "",
         "Lists OpenCL devices and the features bluecl detects (kernel variants are chosen from them). "
         "BLUECL_DEVICE_PROFILE=mobile clamps the limits to a phone's (work-group 256, local memory 32 KiB, "
         "allocation 1 GiB).");
  if (!a.parse(argc, argv)) return 0;
  const int32_t n = bluecl_device_count();
  if (n < 0) check(BLUECL_ERR_INVALID_ARGUMENT, "listing OpenCL devices");
  if (n == 0) {
    std::printf(
        "no OpenCL device found: bluecl runs every op on the CPU.\n"
        "(On Debian, `apt-get install pocl-opencl-icd` provides a CPU OpenCL device.)\n");
    return 0;
  }
  for (int32_t i = 0; i < n; ++i) {
    bluecl_device_info d;
    check(bluecl_device_get(i, &d), "reading device info");
    std::printf("device %d: %s%s\n", d.index, d.name, d.is_gpu ? " (GPU)" : d.is_cpu ? " (CPU)" : "");
    std::printf("  platform          %s\n", d.platform);
    std::printf("  vendor            %s\n", d.vendor);
    std::printf("  version           %s, driver %s, %s\n", d.version, d.driver, d.opencl_c);
    std::printf("  compute units     %u at %u MHz\n", d.compute_units, d.max_clock_mhz);
    std::printf("  global memory     %.1f GiB (largest allocation %.1f GiB)\n",
                d.global_mem_bytes / 1073741824.0, d.max_alloc_bytes / 1073741824.0);
    std::printf("  local memory      %llu KiB, work-group <= %llu\n",
                static_cast<unsigned long long>(d.local_mem_bytes >> 10),
                static_cast<unsigned long long>(d.max_work_group_size));
    std::printf("  fp16 arithmetic   %s\n",
                d.fp16 ? "yes (cl_khr_fp16)" : "no (fp16 storage only, via vload_half)");
    std::printf("  subgroups         %s\n", d.subgroups ? "yes" : "no");
    std::printf("  images            %s\n", d.images ? "yes" : "no");
    std::printf("  unified memory    %s\n", d.unified_memory ? "yes" : "no");
    std::printf("  command buffers   %s\n", d.command_buffer ? "yes (cl_khr_command_buffer)" : "no");
    std::printf("  base alignment    %u bytes\n", d.base_align_bytes);
    std::printf("  profile           %s\n", d.profile[0] ? d.profile : "none (the device's own limits)");
  }
  return 0;
}

}  // namespace

int devices_main(int argc, char** argv) {
  return run_command("devices", body, argc, argv);
}

}  // namespace bluecl::cli
