#include "backend/cl/cl_device.h"

#include "backend/cl/cl_error.h"
#include "graph/base/error.h"
#include "graph/base/log.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace bluecl {

namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

bool has_ext(const std::string& exts, std::string_view name) {
  size_t pos = 0;
  while ((pos = exts.find(name, pos)) != std::string::npos) {
    const size_t end = pos + name.size();
    if ((pos == 0 || exts[pos - 1] == ' ') && (end == exts.size() || exts[end] == ' ')) return true;
    pos = end;
  }
  return false;
}

}  // namespace

std::string DeviceFeatures::summary() const {
  return fmt::format(
      "OpenCL C {}.{}, {} compute units at {} MHz, {} MiB global ({} MiB max alloc), {} KiB local, "
      "work-group <= {}, fp16 {}, subgroups {}{}, int8 dot {}, images {}, unified memory {}, base align {} "
      "B{}",
      cl_c_major, cl_c_minor, compute_units, max_clock_mhz, global_mem_bytes >> 20, max_alloc_bytes >> 20,
      local_mem_bytes >> 10, max_work_group_size, fp16 ? "yes" : "no", subgroups ? "yes" : "no",
      required_subgroup_sizes.empty()
          ? ""
          : fmt::format(" (required sizes {})", fmt::join(required_subgroup_sizes, "/")),
      int_dot ? "yes" : "no", images ? "yes" : "no", unified_memory ? "yes" : "no", base_align_bytes,
      profile.empty() ? "" : fmt::format(", {} profile", profile));
}

std::optional<DeviceProfile> device_profile(std::string_view name) {
  if (name.empty()) return std::nullopt;
  // Limits that current Adreno (6xx-7xx) and Mali (G7x) GPUs all meet.
  if (name == "mobile") return DeviceProfile{"mobile", 256, 32u << 10, 1ull << 30};
  fail(Status::InvalidArgument,
       "BLUECL_DEVICE_PROFILE={}: unknown device profile (known: mobile; unset for the device's own limits)",
       name);
}

std::optional<DeviceProfile> device_profile_from_env() {
  const char* env = std::getenv("BLUECL_DEVICE_PROFILE");
  return device_profile(env ? env : "");
}

void apply_device_profile(DeviceFeatures& f, const DeviceProfile& p) {
  f.profile = p.name;
  f.max_work_group_size = std::min(f.max_work_group_size, p.max_work_group_size);
  f.local_mem_bytes = std::min(f.local_mem_bytes, p.local_mem_bytes);
  f.max_alloc_bytes = std::min(f.max_alloc_bytes, p.max_alloc_bytes);
}

DeviceFeatures read_device_features(const cl::Platform& p, const cl::Device& d) {
  return cl_guard("reading OpenCL device info", [&] {
    DeviceFeatures f;
    f.platform_name = p.getInfo<CL_PLATFORM_NAME>();
    f.platform_version = p.getInfo<CL_PLATFORM_VERSION>();
    f.device_name = d.getInfo<CL_DEVICE_NAME>();
    f.device_vendor = d.getInfo<CL_DEVICE_VENDOR>();
    f.device_version = d.getInfo<CL_DEVICE_VERSION>();
    f.driver_version = d.getInfo<CL_DRIVER_VERSION>();
    f.opencl_c_version = d.getInfo<CL_DEVICE_OPENCL_C_VERSION>();
    // "OpenCL C <major>.<minor> ..."
    if (f.opencl_c_version.size() > 9) {
      const char* s = f.opencl_c_version.c_str() + 9;
      std::from_chars(s, s + 1, f.cl_c_major);
      std::from_chars(s + 2, s + 3, f.cl_c_minor);
    }
    const cl_device_type type = d.getInfo<CL_DEVICE_TYPE>();
    f.is_gpu = type & CL_DEVICE_TYPE_GPU;
    f.is_cpu = type & CL_DEVICE_TYPE_CPU;
    f.extensions = d.getInfo<CL_DEVICE_EXTENSIONS>();
    f.fp16 = has_ext(f.extensions, "cl_khr_fp16");
    f.fp64 = has_ext(f.extensions, "cl_khr_fp64");
    f.subgroups = has_ext(f.extensions, "cl_khr_subgroups") || has_ext(f.extensions, "cl_intel_subgroups");
    f.command_buffer = has_ext(f.extensions, "cl_khr_command_buffer");
    f.int_dot = has_ext(f.extensions, "cl_khr_integer_dot_product");
    if (has_ext(f.extensions, "cl_intel_required_subgroup_size") &&
        has_ext(f.extensions, "cl_intel_subgroups")) {
      constexpr cl_device_info kSubGroupSizesIntel = 0x4108;  // CL_DEVICE_SUB_GROUP_SIZES_INTEL
      size_t bytes = 0;
      if (clGetDeviceInfo(d(), kSubGroupSizesIntel, 0, nullptr, &bytes) == CL_SUCCESS && bytes > 0) {
        f.required_subgroup_sizes.resize(bytes / sizeof(size_t));
        if (clGetDeviceInfo(d(), kSubGroupSizesIntel, bytes, f.required_subgroup_sizes.data(), nullptr) !=
            CL_SUCCESS)
          f.required_subgroup_sizes.clear();
      }
    }
    f.simd_work_items = f.is_cpu && f.subgroups;
    f.images = d.getInfo<CL_DEVICE_IMAGE_SUPPORT>();
    f.unified_memory = f.is_cpu || d.getInfo<CL_DEVICE_HOST_UNIFIED_MEMORY>();
    f.compute_units = d.getInfo<CL_DEVICE_MAX_COMPUTE_UNITS>();
    f.max_clock_mhz = d.getInfo<CL_DEVICE_MAX_CLOCK_FREQUENCY>();
    f.global_mem_bytes = d.getInfo<CL_DEVICE_GLOBAL_MEM_SIZE>();
    f.max_alloc_bytes = d.getInfo<CL_DEVICE_MAX_MEM_ALLOC_SIZE>();
    f.local_mem_bytes = d.getInfo<CL_DEVICE_LOCAL_MEM_SIZE>();
    f.max_work_group_size = d.getInfo<CL_DEVICE_MAX_WORK_GROUP_SIZE>();
    f.base_align_bytes = d.getInfo<CL_DEVICE_MEM_BASE_ADDR_ALIGN>() / 8;
    if (f.images) f.image_max_buffer_size = d.getInfo<CL_DEVICE_IMAGE_MAX_BUFFER_SIZE>();
    if (const std::optional<DeviceProfile> prof = device_profile_from_env()) apply_device_profile(f, *prof);
    return f;
  });
}

std::vector<ClDeviceInfo> list_cl_devices() {
  device_profile_from_env();  // an unknown profile is the caller's error, not a device to skip
  std::vector<ClDeviceInfo> out;
  std::vector<cl::Platform> platforms;
  // No ICD loader configuration, or no platform, is not an error here: the CPU backend still runs.
  cl_int err = CL_SUCCESS;
  try {
    err = cl::Platform::get(&platforms);
  } catch (const cl::Error& e) {
    err = e.err();
  }
  if (err != CL_SUCCESS) {
    log(LogLevel::Debug, "cl", "no OpenCL platform: {}", cl_error_name(err));
    return out;
  }
  for (const cl::Platform& p : platforms) {
    std::vector<cl::Device> devices;
    try {
      p.getDevices(CL_DEVICE_TYPE_ALL, &devices);
    } catch (const cl::Error& e) {
      log(LogLevel::Debug, "cl", "platform without devices: {}", cl_error_name(e.err()));
      continue;
    }
    for (const cl::Device& d : devices) {
      try {
        if (!d.getInfo<CL_DEVICE_AVAILABLE>() || !d.getInfo<CL_DEVICE_COMPILER_AVAILABLE>()) continue;
        out.push_back({static_cast<int>(out.size()), p, d, read_device_features(p, d)});
      } catch (const Error& e) {
        log(LogLevel::Warn, "cl", "skipping a device: {}", e.what());
      }
    }
  }
  return out;
}

std::optional<ClDeviceInfo> select_cl_device(std::string_view spec, std::string* why) {
  std::string from_env;
  if (spec.empty()) {
    if (const char* env = std::getenv("BLUECL_DEVICE")) from_env = env;
    spec = from_env;
  }
  std::vector<ClDeviceInfo> devices = list_cl_devices();
  auto say = [&](std::string msg) {
    if (why) *why = std::move(msg);
    return std::nullopt;
  };
  if (spec == "cpu") return say("'cpu' asks for the CPU alone, no OpenCL device");
  if (devices.empty()) return say("no OpenCL device found (is an ICD such as pocl-opencl-icd installed?)");
  if (spec.empty()) {
    for (const ClDeviceInfo& d : devices)
      if (d.features.is_gpu) return d;
    return devices.front();
  }
  int index = -1;
  auto [ptr, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), index);
  if (ec == std::errc() && ptr == spec.data() + spec.size()) {
    if (index >= 0 && index < static_cast<int>(devices.size())) return devices[index];
    return say(fmt::format("no OpenCL device {} (there are {})", index, devices.size()));
  }
  const std::string needle = lower(spec);
  for (const ClDeviceInfo& d : devices)
    if (lower(d.features.platform_name + " " + d.features.device_name).find(needle) != std::string::npos)
      return d;
  return say(fmt::format("no OpenCL device matches '{}'", spec));
}

}  // namespace bluecl
