// Template: parse once, render many times (jinja.h).
#include "chat/jinja.h"
#include "chat/jinja_renderer.h"

namespace whale::chat::jinja {

Template::Template(const std::string& source) : root_(parse_template(source)) {}
Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const nlohmann::ordered_json& context, const RenderLimits& limits) const {
  auto globals = std::make_shared<Dict>();
  install_globals(*globals);
  if (context.is_object())
    for (auto it = context.begin(); it != context.end(); ++it) globals->set(it.key(), from_json(it.value()));
  Renderer r(limits, globals);
  return r.run(root_->body);
}

std::string render(const std::string& source, const nlohmann::ordered_json& context, const RenderLimits& limits) {
  return Template(source).render(context, limits);
}

}  // namespace whale::chat::jinja
