#include "server/http_server.h"

#include <httplib.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "server/auth.h"
#include "server/errors.h"
#include "server/handler.h"
#include "server/response_json.h"
#include "server/web_assets.h"
#include "util/error.h"

namespace whale::server {

namespace {

using Clock = std::chrono::steady_clock;

enum class Route { kChat, kCompletions, kModels, kModel, kBalance, kHealth, kMetrics, kAsset };

struct RouteMatch {
  Route route;
  const char* method;  // the one allowed method
  std::string arg;     // model id / asset path
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string content_type_for(const std::string& path) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
      {".ico", "image/x-icon"}, {".woff2", "font/woff2"}, {".txt", "text/plain; charset=utf-8"},
      {".webmanifest", "application/manifest+json"}, {".map", "application/json"}};
  for (const auto& [ext, type] : kTypes)
    if (ends_with(path, ext)) return type;
  return "application/octet-stream";
}

struct HttpServer::Impl {
  Backend& backend;
  ServerOptions options;
  Metrics metrics;
  ApiKeys keys;
  ServerContext ctx;
  httplib::Server http;
  std::atomic<bool> draining{false};
  std::atomic<bool> bound{false};
  int port = 0;
  std::mutex shutdown_mu;
  bool shut_down = false;

  Impl(Backend& b, ServerOptions o)
      : backend(b),
        options(std::move(o)),
        keys(options.api_keys),
        ctx{backend, options.api, metrics, options.keepalive_interval, options.request_timeout,
            options.log_prompts} {}

  std::optional<RouteMatch> match(const std::string& path) const {
    static const std::pair<const char*, Route> kExact[] = {
        {"/chat/completions", Route::kChat},       {"/v1/chat/completions", Route::kChat},
        {"/beta/chat/completions", Route::kChat},  {"/completions", Route::kCompletions},
        {"/v1/completions", Route::kCompletions},  {"/beta/completions", Route::kCompletions},
        {"/models", Route::kModels},               {"/v1/models", Route::kModels},
        {"/health", Route::kHealth},               {"/metrics", Route::kMetrics},
        {"/user/balance", Route::kBalance}};
    for (const auto& [p, r] : kExact) {
      if (path == p) {
        const bool post = r == Route::kChat || r == Route::kCompletions;
        if (r == Route::kBalance && !options.balance_stub) return std::nullopt;
        return RouteMatch{r, post ? "POST" : "GET", {}};
      }
    }
    for (const char* prefix : {"/models/", "/v1/models/"}) {
      const std::string p = prefix;
      if (path.size() > p.size() && path.compare(0, p.size(), p) == 0)
        return RouteMatch{Route::kModel, "GET", path.substr(p.size())};
    }
    const std::string asset = path == "/" ? "/index.html" : path;
    for (const auto& a : web_assets())
      if (a.path == asset) return RouteMatch{Route::kAsset, "GET", asset};
    return std::nullopt;
  }

  static std::string normalize(const std::string& path) {
    std::string p = path.empty() ? "/" : path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();  // a trailing '/' is tolerated
    return p;
  }

  void send_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status();
    res.set_content(error_body(e), "application/json");
  }

  void models_list(httplib::Response& res) const {
    ojson data = ojson::array();
    for (const auto& m : options.api.models)
      data.push_back({{"id", m.name}, {"object", "model"}, {"owned_by", "deepseek"}});
    ojson j;
    j["object"] = "list";
    j["data"] = std::move(data);
    res.set_content(dump_json(j), "application/json");
  }

  void health(httplib::Response& res) const {
    if (!backend.ready() || draining) {
      res.status = 503;
      ojson j;
      j["error"] = {{"code", 503},
                    {"message", "Loading model"},  // also while draining (spec §10.1)
                    {"type", "unavailable_error"}};
      res.set_content(dump_json(j), "application/json");
      return;
    }
    const auto s = backend.stats();
    ojson j;
    j["status"] = "ok";
    j["slots_processing"] = s.requests_active;
    j["slots_queued"] = s.requests_queued;
    res.set_content(dump_json(j), "application/json");
  }

  // A CORS preflight: browsers send it without credentials, so it needs no key. Any header
  // the page asks for is allowed (Authorization and Content-Type are what the API uses).
  static void preflight(const httplib::Request& req, httplib::Response& res) {
    res.status = 204;
    res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    const std::string asked = req.get_header_value("Access-Control-Request-Headers");
    res.set_header("Access-Control-Allow-Headers",
                   asked.empty() ? std::string("Authorization, Content-Type") : asked);
    res.set_header("Access-Control-Max-Age", "86400");
  }

  void dispatch(const httplib::Request& req, httplib::Response& res) {
    // Compression would buffer SSE chunks; the payloads are small JSON anyway.
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
    const std::string path = normalize(req.path);
    if (options.cors) {
      res.set_header("Access-Control-Allow-Origin", "*");
      if (req.method == "OPTIONS") return preflight(req, res);
    }
    std::shared_ptr<RequestScope> scope;
    try {
      const auto m = match(path);
      if (!m) throw not_found("Not Found: no route for " + req.method + " " + path);
      if (req.method != m->method && !(req.method == "HEAD" && std::string(m->method) == "GET"))
        throw method_not_allowed("Method Not Allowed: " + req.method + " " + path +
                                 " (use " + m->method + ")");
      const bool ops = m->route == Route::kHealth || m->route == Route::kMetrics;
      const bool open = m->route == Route::kAsset || (ops && !options.auth_on_ops);
      if (!open) keys.check(req.get_header_value("Authorization"));
      switch (m->route) {
        case Route::kHealth: return health(res);
        case Route::kMetrics:
          res.set_content(metrics.render(backend.stats()),
                          "text/plain; version=0.0.4; charset=utf-8");
          return;
        case Route::kModels: return models_list(res);
        case Route::kModel: {
          const ServedModel* sm = options.api.find_model(m->arg);
          if (!sm) throw not_found("Model Not Exist");
          ojson j = {{"id", sm->name}, {"object", "model"}, {"owned_by", "deepseek"}};
          res.set_content(dump_json(j), "application/json");
          return;
        }
        case Route::kBalance:
          res.set_content(R"({"is_available":true,"balance_infos":[]})", "application/json");
          return;
        case Route::kAsset:
          for (const auto& a : web_assets())
            if (a.path == m->arg) {
              res.set_content(std::string(a.body), content_type_for(m->arg));
              res.set_header("Cache-Control", "no-cache");
            }
          return;
        case Route::kChat:
        case Route::kCompletions: break;
      }
      scope = std::make_shared<RequestScope>(ctx, path, req.method);
      if (draining) throw unavailable("Server is shutting down");
      if (!backend.ready()) throw unavailable("Loading model");
      HandlerReply reply = m->route == Route::kChat
                               ? handle_chat_completions(ctx, scope, req.body)
                               : handle_completions(ctx, scope, req.body);
      res.status = reply.status;
      for (const auto& [k, v] : reply.headers) res.set_header(k.c_str(), v);
      if (!reply.producer) {
        res.set_content(reply.body, reply.content_type.c_str());
        return;
      }
      auto producer = std::move(reply.producer);
      res.set_chunked_content_provider(
          reply.content_type, [producer](size_t, httplib::DataSink& sink) {
            const WriteFn write = [&sink](std::string_view bytes) {
              // An empty write would end httplib's chunk loop; there is nothing to send anyway.
              if (bytes.empty()) return true;
              return sink.is_writable() && sink.write(bytes.data(), bytes.size());
            };
            if (!producer(write)) sink.done();
            return true;
          });
    } catch (const ApiError& e) {
      if (scope) scope->complete(e.status());
      send_error(res, e);
    } catch (const whale::Error& e) {
      if (scope) scope->complete(500);
      send_error(res, internal_error(e.what()));
    } catch (const std::exception& e) {
      if (scope) scope->complete(500);
      send_error(res, internal_error(std::string("internal error: ") + e.what()));
    }
  }
};

HttpServer::HttpServer(Backend& backend, ServerOptions options)
    : impl_(std::make_unique<Impl>(backend, std::move(options))) {
  Impl& s = *impl_;
  const int threads = std::max(4, s.options.http_threads);
  s.http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.http.set_payload_max_length(s.options.max_body_bytes);
  s.http.set_keep_alive_timeout(2);
  s.http.set_read_timeout(30, 0);
  s.http.set_write_timeout(30, 0);
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    impl_->dispatch(req, res);
  };
  s.http.Get(".*", handler);
  s.http.Post(".*", handler);
  s.http.Put(".*", handler);
  s.http.Patch(".*", handler);
  s.http.Delete(".*", handler);
  s.http.Options(".*", handler);
  // Errors httplib raises itself (413 body too large, 400 malformed HTTP) get the error object.
  s.http.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (impl_->options.cors) res.set_header("Access-Control-Allow-Origin", "*");
    ApiError e = res.status == 413
                     ? payload_too_large("Request body too large: the limit is " +
                                         std::to_string(impl_->options.max_body_bytes) + " bytes")
                 : res.status == 404 ? not_found("Not Found")
                 : res.status >= 500 ? internal_error("internal error")
                                     : ApiError(res.status, "invalid_request_error",
                                                "Bad request (HTTP status " +
                                                    std::to_string(res.status) + ")");
    impl_->send_error(res, e);
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.http.set_exception_handler(
      [this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        impl_->send_error(res, internal_error(what));
      });
}

HttpServer::~HttpServer() {
  if (impl_->http.is_running()) impl_->http.stop();
}

int HttpServer::bind() {
  Impl& s = *impl_;
  if (s.options.port == 0) {
    s.port = s.http.bind_to_any_port(s.options.host);
    if (s.port <= 0) fail("whale serve: cannot bind to ", s.options.host, " (any port)");
  } else {
    if (!s.http.bind_to_port(s.options.host, s.options.port))
      fail("whale serve: cannot bind to ", s.options.host, ":", s.options.port,
           " (address in use or not available)");
    s.port = s.options.port;
  }
  s.bound = true;
  return s.port;
}

void HttpServer::run() {
  if (!impl_->bound) bind();
  impl_->http.listen_after_bind();
}

void HttpServer::shutdown(std::chrono::milliseconds deadline) {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.shutdown_mu);
    if (s.shut_down) return;
    s.shut_down = true;
  }
  s.draining = true;
  // The engine lets running requests finish until the deadline, then cancels them; their
  // handlers then write their last chunk. Wait for those before closing the listener, because
  // httplib cuts open streams once it stops.
  s.backend.shutdown(deadline);
  const auto give_up = Clock::now() + deadline + std::chrono::seconds(5);
  while (s.metrics.http_in_flight() > 0 && Clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  s.http.stop();
}

int HttpServer::port() const { return impl_->port; }
Metrics& HttpServer::metrics() { return impl_->metrics; }

}  // namespace whale::server
