// OpenCL platform/device discovery, feature detection and selection.
// Selection: a spec that is a number picks that device in list order; any other text picks the first
// device whose "platform device" name contains it (case-insensitive). An empty spec reads BLUECL_DEVICE,
// and without that picks the first GPU, else the first device.
// Profile: BLUECL_DEVICE_PROFILE=mobile clamps every device's limits at detection to what current phone GPUs
// all meet (work-group <= 256, local memory <= 32 KiB, largest allocation <= 1 GiB), so every launcher and
// the tuner see the clamped limits and a kernel that would not fit a phone fails on a desktop device too.
#pragma once

#include <CL/opencl.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bluecl {

// What a device can do, read once; kernel variants and launch parameters are chosen from this.
struct DeviceFeatures {
  std::string platform_name, platform_version;
  std::string device_name, device_vendor, device_version, driver_version;
  std::string opencl_c_version;  // "OpenCL C 1.2 PoCL"
  int cl_c_major = 1, cl_c_minor = 2;
  bool is_gpu = false, is_cpu = false;
  bool fp16 = false;  // cl_khr_fp16: half arithmetic
  bool fp64 = false;
  bool subgroups = false;  // cl_khr_subgroups or cl_intel_subgroups
  bool images = false;
  bool unified_memory = false;  // host and device share memory (CPU devices, APUs, mobile GPUs)
  bool command_buffer = false;  // cl_khr_command_buffer
  bool int_dot = false;         // cl_khr_integer_dot_product (packed 4x8-bit dot products)
  // A CPU runtime that packs neighbouring work-items into one thread's SIMD lanes (Intel's: it has
  // subgroups, which are those lanes), so kernels written for lanes (matmul "cols") vectorise there;
  // PoCL's CPU device runs work-items as loops and prefers the CPU-style kernels.
  bool simd_work_items = false;
  // Subgroup sizes a kernel may require (cl_intel_required_subgroup_size); empty: none can be required.
  std::vector<size_t> required_subgroup_sizes;
  uint32_t compute_units = 0;
  uint32_t max_clock_mhz = 0;
  uint64_t global_mem_bytes = 0;
  uint64_t max_alloc_bytes = 0;
  uint64_t local_mem_bytes = 0;
  size_t max_work_group_size = 0;
  uint32_t base_align_bytes = 0;  // CL_DEVICE_MEM_BASE_ADDR_ALIGN, in bytes
  size_t image_max_buffer_size = 0;
  std::string extensions;
  std::string
      profile;  // the device profile that clamped the limits above ("mobile"), "" for the device's own

  std::string summary() const;  // one line: "OpenCL C 1.2, 2 CU, fp16 no, subgroups no, ..."
};

struct ClDeviceInfo {
  int index = 0;  // position in list_cl_devices()
  cl::Platform platform;
  cl::Device device;
  DeviceFeatures features;
};

// Limits a profile imposes on any device; a device's own tighter limits stay.
struct DeviceProfile {
  std::string name;
  size_t max_work_group_size = 0;
  uint64_t local_mem_bytes = 0;
  uint64_t max_alloc_bytes = 0;
};

// The profile BLUECL_DEVICE_PROFILE names; nullopt when unset or empty (the device's own limits).
// An unknown name throws Status::InvalidArgument listing the known ones.
std::optional<DeviceProfile> device_profile_from_env();
std::optional<DeviceProfile> device_profile(std::string_view name);  // same, for a given name
void apply_device_profile(DeviceFeatures& f, const DeviceProfile& p);

// Reads the device's features and applies the BLUECL_DEVICE_PROFILE profile, if any.
DeviceFeatures read_device_features(const cl::Platform& p, const cl::Device& d);

// Every device of every platform. No ICD or no platform gives an empty list, not an error; an unknown
// BLUECL_DEVICE_PROFILE is one.
std::vector<ClDeviceInfo> list_cl_devices();

// nullopt when no device matches (or there are none); the reason goes to *why if given.
std::optional<ClDeviceInfo> select_cl_device(std::string_view spec, std::string* why = nullptr);

}  // namespace bluecl
