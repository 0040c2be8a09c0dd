/* bluecl.hpp: owners for the C API's handles, for C++17 and later; header-only, nothing but bluecl.h.
 *
 * Each handle type gets a std::unique_ptr with its free function as the deleter, so a handle is freed on
 * every path out of a scope:
 *
 *   bluecl::ModelPtr model;
 *   if (bluecl_model_load("model.gguf", &params, bluecl::out(model)) != BLUECL_OK) ...
 *   bluecl::SessionPtr session;
 *   bluecl_session_create(model.get(), nullptr, bluecl::out(session));
 *
 * bluecl::out(p) gives the C call a place to write a new handle and hands it to p when the call's full
 * expression ends (a C call that fails writes NULL, so p stays empty). Declare sessions after their model
 * (or reset them first): a session must be freed before its model.
 */
#ifndef BLUECL_BLUECL_HPP
#define BLUECL_BLUECL_HPP

#include "bluecl/bluecl.h"

#include <memory>

namespace bluecl {

/* Calls Free on a handle; unique_ptr never calls a deleter with NULL. */
template <typename T, void (*Free)(T*)>
struct HandleDeleter {
  void operator()(T* p) const noexcept { Free(p); }
};

using ModelPtr = std::unique_ptr<bluecl_model, HandleDeleter<bluecl_model, bluecl_model_free>>;
using SessionPtr = std::unique_ptr<bluecl_session, HandleDeleter<bluecl_session, bluecl_session_free>>;
using ImagePtr = std::unique_ptr<bluecl_image, HandleDeleter<bluecl_image, bluecl_image_free>>;

/* The out-parameter of a C call that creates a handle (see bluecl::out). */
template <typename Ptr>
class OutHandle {
 public:
  explicit OutHandle(Ptr& owner) noexcept : owner_(owner) {}
  OutHandle(const OutHandle&) = delete;
  OutHandle& operator=(const OutHandle&) = delete;
  ~OutHandle() { owner_.reset(raw_); }
  operator typename Ptr::pointer *() noexcept { return &raw_; }

 private:
  Ptr& owner_;
  typename Ptr::pointer raw_ = nullptr;
};

/* bluecl_model_load(path, &params, bluecl::out(model)): when the call's full expression ends, `owner`
 * frees what it held and owns the handle the call wrote (none if it wrote NULL). */
template <typename Ptr>
OutHandle<Ptr> out(Ptr& owner) noexcept {
  return OutHandle<Ptr>(owner);
}

}  // namespace bluecl

#endif /* BLUECL_BLUECL_HPP */
