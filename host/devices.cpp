#include "host/devices.h"

#include "graph/error.h"
#include "graph/log.h"

namespace bluecl {

Devices::Devices(const DeviceOptions& opts)
    : cpu_(std::make_unique<CpuBackend>(opts.n_threads, opts.cpu_precision)) {
  list_.push_back(cpu_.get());
  sched_.pins = parse_pins(opts.pins);
  if (opts.device != "cpu") {
    std::string why;
    std::optional<ClDeviceInfo> dev = select_cl_device(opts.device, &why);
    if (dev) {
      cl_ = std::make_unique<ClBackend>(*dev, ClBackendOptions{.profiling = opts.profiling, .decline = opts.decline});
      list_.push_back(cl_.get());
      log(LogLevel::Info, "devices", "OpenCL device: {} ({})", dev->features.device_name, dev->features.platform_name);
    } else if (!opts.device.empty()) {
      // The user asked for a particular device: not finding it is an error, not a silent fallback.
      fail(Status::Device, "--device {}: {}", opts.device, why);
    } else {
      log(LogLevel::Warn, "devices", "{}; running every op on the CPU", why);
    }
  }
}

void Devices::release_weight(const void* host_data) {
  for (Backend* b : list_) b->release_weight(host_data);
}

}  // namespace bluecl
