// The C API's auto-tuning entry point (bluecl_tune); the tuner is host/runtime/tune.cpp.
#include "backend/cl/cl_device.h"
#include "backend/cl/cl_runtime.h"
#include "host/api/c_api_internal.h"
#include "host/runtime/tune.h"

using namespace bluecl;
using namespace bluecl::capi;

extern "C" {

bluecl_tune_params bluecl_tune_default_params(void) {
  bluecl_tune_params p{};
  p.struct_size = sizeof p;
  p.save = 1;
  return p;
}

bluecl_status bluecl_tune(const bluecl_tune_params* params, char* file, size_t file_cap) {
  return guard([&] {
    const bluecl_tune_params p = read_params(params, bluecl_tune_default_params());
    if (file && file_cap) file[0] = '\0';
    if (p.n_chunk < 0) fail(Status::InvalidArgument, "n_chunk {} (0: 128)", p.n_chunk);
    std::string why;
    const std::string spec = p.device ? p.device : "";
    if (spec == "cpu") fail(Status::InvalidArgument, "tuning needs an OpenCL device, not the CPU");
    const std::optional<ClDeviceInfo> dev = select_cl_device(spec, &why);
    if (!dev) fail(Status::Device, "{}", why);
    const std::vector<TuneShape> shapes =
        p.quick
            ? tune_shapes_quick()
            : tune_shapes(p.model ? p.model : "", p.mmproj ? p.mmproj : "", p.n_chunk > 0 ? p.n_chunk : 128);
    ClBackend cl(*dev, ClBackendOptions{.profiling = true});
    TuneOptions opts{.quick = p.quick != 0, .n_threads = p.n_threads, .progress = {}};
    if (p.progress)
      opts.progress = [&](const std::string& stage, double f) {
        if (p.progress(stage.c_str(), static_cast<float>(f), p.progress_user))
          fail(Status::Cancelled, "tuning cancelled");
      };
    const std::vector<TuneResult> results = tune(cl, shapes, opts);
    ClTuning& tuning = cl.runtime().tuning;
    if (p.save) {
      const std::string path = ClTuning::path_for(cl.features());
      if (path.empty()) fail(Status::InvalidArgument, "BLUECL_CACHE_DIR=none: nowhere to keep the tuning");
      // Keys this run did not measure keep their earlier choices.
      ClTuning merged;
      merged.load(path);
      for (const TuneResult& r : results) {
        if (const ClLaunch* l = tuning.find(r.key))
          merged.set(r.key, *l);
        else
          merged.erase(r.key);
      }
      merged.save(path);
      if (file && file_cap) copy_str(file, file_cap, path);
    }
    if (p.on_result)
      for (const TuneResult& r : results) {
        int32_t rejected = 0;
        for (const TuneCandidate& c : r.tried) rejected += c.ok ? 0 : 1;
        const std::string best = r.best.variant == ClVariant::Default ? "default" : r.best.str();
        const std::string key = r.key.str();
        const bluecl_tune_result out{
            key.c_str(), best.c_str(), r.default_ms, r.best_ms, static_cast<int32_t>(r.tried.size()),
            rejected};
        p.on_result(&out, p.result_user);
      }
  });
}

}  // extern "C"
