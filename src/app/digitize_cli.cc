#include "app/digitize_cli.h"

#include <openssl/evp.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/clock.h"
#include "core/log.h"
#include "digitize/digitizer.h"
#include "digitize/fhir_drafts.h"
#include "digitize/icd10_coder.h"
#include "digitize/jobs.h"
#include "digitize/review.h"
#include "fhir/resource.h"
#include "terminology/code_system.h"

namespace benhan::app {

namespace json = boost::json;
using namespace benhan::digitize;

namespace {

DigitizeOptions OptionsFrom(const Config& cfg) {
  DigitizeOptions o;
  o.ocr.tessdata = cfg.digitize_tessdata;
  o.ocr.language = cfg.digitize_language;
  o.ocr.clean_up = cfg.digitize_clean_up;
  o.limits.max_pages = cfg.digitize_max_pages;
  o.limits.max_file_bytes = cfg.digitize_max_file_bytes;
  o.limits.pdf_render_dpi = cfg.digitize_pdf_dpi;
  o.rules_dir = cfg.digitize_rules_dir;
  return o;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, "Không mở được tệp " + path + " (cannot open file)");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string NowInstant() {
  return FormatInstant(std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
}

std::string Basename(const std::string& p) {
  size_t s = p.find_last_of('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

void DigitizeUsage() {
  std::fprintf(
      stderr,
      "usage:\n"
      "  benhan digitize --text FILE              in chữ nhận dạng được (NFC) ra stdout\n"
      "  benhan digitize --dry-run FILE [--patient ID]\n"
      "                 in một Bundle FHIR các bản nháp sẽ tạo, không lưu gì\n"
      "  benhan digitize FILE... --patient ID [--data DIR] [--config FILE]\n"
      "                 lưu bản quét + bản nháp (chờ bác sĩ xác nhận) vào hồ sơ bệnh nhân\n"
      "FILE: PNG, JPEG, TIFF (nhiều trang), PDF (có lớp chữ hoặc bản quét).\n");
}

}  // namespace

int DigitizeCmd(int argc, char** argv) {
  bool text_mode = false, dry_run = false;
  std::string patient, data_dir, config_file;
  std::vector<std::string> files;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : std::string(); };
    if (a == "--text")
      text_mode = true;
    else if (a == "--dry-run")
      dry_run = true;
    else if (a == "--patient")
      patient = next();
    else if (a == "--data")
      data_dir = next();
    else if (a == "--config")
      config_file = next();
    else if (a == "--help" || a == "-h") {
      DigitizeUsage();
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "benhan digitize: tuỳ chọn không rõ %s (unknown option)\n", a.c_str());
      DigitizeUsage();
      return 2;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty() || (text_mode && dry_run)) {
    DigitizeUsage();
    return 2;
  }
  Config cfg;
  if (!config_file.empty()) {
    Status st = cfg.LoadFile(config_file);
    if (!st.ok()) {
      std::fprintf(stderr, "benhan digitize: %s\n", st.message().c_str());
      return 2;
    }
  }
  if (!data_dir.empty()) cfg.data_dir = data_dir;
  const bool store_mode = !text_mode && !dry_run;
  if (store_mode && patient.empty()) {
    std::fprintf(
        stderr, "benhan digitize: cần --patient ID để lưu vào hồ sơ (or use --text / --dry-run)\n");
    return 2;
  }
  std::unique_ptr<Node> node;
  if (store_mode) {
    auto n = Node::Open(cfg);
    if (!n.ok()) {
      std::fprintf(stderr, "benhan digitize: %s\n", n.status().message().c_str());
      return 1;
    }
    node = std::move(*n);
  }
  Icd10Coder coder([&]() -> std::shared_ptr<const terminology::CodeSystemVersion> {
    if (node) {
      if (auto v = node->terminology().Resolve(terminology::kIcd10VnUrl)) return v;
    }
    return terminology::StarterIcd10();
  });
  auto dz = Digitizer::Create(OptionsFrom(cfg), &coder);
  if (!dz.ok()) {
    std::fprintf(stderr, "benhan digitize: %s\n", dz.status().message().c_str());
    return 1;
  }
  int failures = 0;
  for (const auto& file : files) {
    auto bytes = ReadFile(file);
    if (!bytes.ok()) {
      std::fprintf(stderr, "benhan digitize: %s\n", bytes.status().message().c_str());
      ++failures;
      continue;
    }
    auto report = [&](int done, int total) {
      if (total > 1) std::fprintf(stderr, "\r%s: trang %d/%d", file.c_str(), done, total);
      if (total > 1 && done == total) std::fprintf(stderr, "\n");
      return true;
    };
    if (store_mode) {
      service::RequestContext ctx;
      ctx.principal = "cli:digitize";
      auto out = DigitizeAndStore(**dz, node->service(), ctx, std::move(*bytes), Basename(file),
                                  patient, report);
      if (!out.ok()) {
        std::fprintf(stderr, "benhan digitize: %s: %s\n", file.c_str(),
                     out.status().message().c_str());
        ++failures;
        continue;
      }
      for (const auto& w : out->warnings) std::fprintf(stderr, "%s: %s\n", file.c_str(), w.c_str());
      std::cout << fhir::Serialize(out->ToParameters()) << "\n";
      continue;
    }
    auto doc = (*dz)->Recognize(std::move(*bytes), report);
    if (!doc.ok()) {
      std::fprintf(stderr, "benhan digitize: %s: %s\n", file.c_str(),
                   doc.status().message().c_str());
      ++failures;
      continue;
    }
    for (const auto& w : doc->warnings) std::fprintf(stderr, "%s: %s\n", file.c_str(), w.c_str());
    if (text_mode) {
      std::cout << doc->text << "\n";
      continue;
    }
    doc->filename = Basename(file);
    auto ex = (*dz)->Extract(*doc);
    if (!ex.ok()) {
      std::fprintf(stderr, "benhan digitize: %s: %s\n", file.c_str(),
                   ex.status().message().c_str());
      ++failures;
      continue;
    }
    DraftOptions opts;
    opts.patient_id = patient;
    opts.now = NowInstant();
    opts.include_binary = false;  // the dry run prints what would be created, not the scan again
    std::string doc_id;
    std::cout << fhir::Serialize(BuildDraftBundle(*doc, *ex, opts, &doc_id), true) << "\n";
  }
  return failures ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// HTTP operations.

namespace {

void SendJson(api::HttpResponse& res, int status, const json::object& body) {
  res.status = status;
  res.Set("Content-Type", "application/fhir+json; charset=utf-8");
  res.body = fhir::Serialize(body);
}
void SendError(api::HttpResponse& res, const Status& st) {
  SendJson(res, HttpStatusOf(st.code()), fhir::MakeOperationOutcome(st));
}

Result<std::string> DecodeBase64(std::string_view in) {
  std::string clean;
  clean.reserve(in.size());
  for (char c : in)
    if (c != '\n' && c != '\r' && c != ' ') clean += c;
  if (clean.size() % 4 != 0) return Status(Code::kInvalid, "base64 không hợp lệ (length)");
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) return Status(Code::kInvalid, "base64 không hợp lệ");
  size_t pad = 0;
  if (!clean.empty() && clean.back() == '=') ++pad;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string PatientId(std::string v) {
  if (v.rfind("Patient/", 0) == 0) v = v.substr(8);
  return v;
}

const json::object* Param(const json::object& params, std::string_view name) {
  const auto* arr = params.if_contains("parameter");
  if (!arr || !arr->is_array()) return nullptr;
  for (const auto& p : arr->get_array()) {
    const auto* o = p.if_object();
    if (!o) continue;
    const auto* n = o->if_contains("name");
    if (n && n->is_string() && n->get_string() == name) return o;
  }
  return nullptr;
}

std::string ParamString(const json::object& params, std::string_view name) {
  const json::object* p = Param(params, name);
  if (!p) return {};
  for (const char* k : {"valueString", "valueCode", "valueId", "valueUri"}) {
    if (const auto* v = p->if_contains(k); v && v->is_string()) return std::string(v->get_string());
  }
  if (const auto* r = p->if_contains("valueReference"); r && r->is_object()) {
    if (const auto* ref = r->get_object().if_contains("reference"); ref && ref->is_string())
      return std::string(ref->get_string());
  }
  return {};
}

}  // namespace

struct DigitizeHttp::Impl {
  Node* node = nullptr;
  std::unique_ptr<Icd10Coder> coder;
  std::unique_ptr<Digitizer> digitizer;
  std::unique_ptr<DigitizeJobs> jobs;
  std::unique_ptr<ReviewService> review;

  bool Handle(const api::HttpRequest& req, api::HttpResponse& res,
              const std::vector<std::string>& parts, const service::RequestContext& ctx) {
    const size_t n = parts.size();
    if (n == 2 && parts[0] == "DocumentReference" && parts[1] == "$digitize") {
      if (req.method != "POST") {
        SendError(res, Status(Code::kMethodNotAllowed, "$digitize: dùng POST"));
        return true;
      }
      Submit(req, res, ctx);
      return true;
    }
    if (n == 3 && parts[0] == "DocumentReference" && parts[1] == "$digitize") {
      JobState(parts[2], res);
      return true;
    }
    if ((n == 2 && parts[0] == "DocumentReference" && parts[1] == "$drafts") ||
        (n == 3 && parts[0] == "DocumentReference" && parts[2] == "$drafts")) {
      Drafts(req, res, ctx, n == 3 ? parts[1] : std::string());
      return true;
    }
    if (n == 3 && parts[2] == "$review" && ReviewService::IsDraftType(parts[0])) {
      if (req.method != "POST") {
        SendError(res, Status(Code::kMethodNotAllowed, "$review: dùng POST với Parameters"));
        return true;
      }
      Review(req, res, ctx, parts[0], parts[1]);
      return true;
    }
    return false;
  }

  void Submit(const api::HttpRequest& req, api::HttpResponse& res,
              const service::RequestContext& ctx) {
    service::Params q = service::ParseQueryString(req.query);
    std::string patient, filename, bytes;
    for (const auto& [k, v] : q) {
      if (k == "patient") patient = PatientId(v);
      if (k == "filename") filename = v;
    }
    std::string_view ctype = req.Header("content-type");
    if (ctype.find("json") != std::string_view::npos) {
      boost::system::error_code ec;
      json::value body = json::parse(req.body, ec);
      if (ec || !body.is_object() || body.as_object().if_contains("resourceType") == nullptr ||
          body.as_object()["resourceType"] != "Parameters") {
        SendError(res, Status(Code::kInvalid,
                              "$digitize: cần một Parameters (patient, document) "
                              "hoặc gửi thẳng ảnh/PDF"));
        return;
      }
      const json::object& params = body.as_object();
      if (std::string p = ParamString(params, "patient"); !p.empty()) patient = PatientId(p);
      const json::object* doc = Param(params, "document");
      const json::value* att = doc ? doc->if_contains("valueAttachment") : nullptr;
      if (!att || !att->is_object() || !att->get_object().contains("data")) {
        SendError(res, Status(Code::kRequired,
                              "$digitize: thiếu tài liệu (parameter 'document' "
                              "valueAttachment.data)",
                              "Parameters.parameter.document"));
        return;
      }
      const json::value& data = att->get_object().at("data");
      if (!data.is_string()) {
        SendError(res, Status(Code::kInvalid, "$digitize: valueAttachment.data phải là base64"));
        return;
      }
      auto decoded = DecodeBase64(data.get_string());
      if (!decoded.ok()) {
        SendError(res, decoded.status());
        return;
      }
      bytes = std::move(*decoded);
      if (const auto* t = att->get_object().if_contains("title"); t && t->is_string())
        filename = std::string(t->get_string());
    } else {
      bytes = req.body;
    }
    if (patient.empty()) {
      SendError(res, Status(Code::kRequired, "$digitize: thiếu bệnh nhân (patient)", "patient"));
      return;
    }
    if (SniffContentType(bytes).empty()) {
      SendError(res, Status(Code::kUnsupportedMedia,
                            "$digitize: định dạng không được hỗ trợ (PNG, JPEG, TIFF, PDF)"));
      return;
    }
    if (auto p = node->service().Read(ctx, "Patient", patient); !p.ok()) {
      SendError(res, Status(p.status().code(), "$digitize: không tìm thấy Patient/" + patient));
      return;
    }
    auto id = jobs->Submit(ctx, std::move(bytes), filename, patient);
    if (!id.ok()) {
      SendError(res, id.status());
      return;
    }
    res.Set("Content-Location", ctx.base_url + "/DocumentReference/$digitize/" + *id);
    SendJson(res, 202,
             fhir::MakeOperationOutcome(Status::Ok(), "Đã nhận tài liệu, đang số hoá (job " + *id +
                                                          "); xem tiến độ tại Content-Location"));
  }

  void JobState(const std::string& id, api::HttpResponse& res) {
    auto s = jobs->Get(id);
    if (!s) {
      SendError(res, Status(Code::kNotFound, "Không có công việc số hoá " + id));
      return;
    }
    if (s->state == "queued" || s->state == "running") {
      res.Set("X-Progress", s->state == "queued" ? "đang chờ (queued)"
                                                 : "trang " + std::to_string(s->pages_done) + "/" +
                                                       std::to_string(s->pages_total));
      res.Set("Retry-After", "2");
      SendJson(res, 202, fhir::MakeOperationOutcome(Status::Ok(), "Đang xử lý: " + s->state));
      return;
    }
    if (s->state == "failed") {
      SendError(res, s->error);
      return;
    }
    SendJson(res, 200, s->outcome->ToParameters());
  }

  void Drafts(const api::HttpRequest& req, api::HttpResponse& res,
              const service::RequestContext& ctx, std::string document) {
    std::string patient;
    for (const auto& [k, v] : service::ParseQueryString(req.query)) {
      if (k == "patient") patient = PatientId(v);
      if (k == "document") document = v.rfind("DocumentReference/", 0) == 0 ? v.substr(18) : v;
    }
    auto r = review->Pending(ctx, patient, document);
    if (!r.ok()) {
      SendError(res, r.status());
      return;
    }
    json::array entries;
    for (const auto& rec : *r) {
      entries.push_back(json::object{{"fullUrl", ctx.base_url + "/" + rec.type + "/" + rec.id},
                                     {"resource", json::parse(rec.json)},
                                     {"search", json::object{{"mode", "match"}}}});
    }
    SendJson(res, 200,
             json::object{{"resourceType", "Bundle"},
                          {"type", "searchset"},
                          {"total", static_cast<int64_t>(entries.size())},
                          {"entry", std::move(entries)}});
  }

  void Review(const api::HttpRequest& req, api::HttpResponse& res,
              const service::RequestContext& ctx, const std::string& type, const std::string& id) {
    boost::system::error_code ec;
    json::value body = json::parse(req.body, ec);
    if (ec || !body.is_object()) {
      SendError(res, Status(Code::kInvalid, "$review: cần Parameters (decision, resource)"));
      return;
    }
    std::string decision = ParamString(body.as_object(), "decision");
    const json::object* edited = nullptr;
    if (const json::object* p = Param(body.as_object(), "resource")) {
      if (const auto* r = p->if_contains("resource"); r && r->is_object())
        edited = &r->get_object();
    }
    auto out = review->Decide(ctx, type, id, decision, edited);
    if (!out.ok()) {
      SendError(res, out.status());
      return;
    }
    if (out->empty()) {
      SendJson(res, 200,
               fhir::MakeOperationOutcome(Status::Ok(), "Đã loại bỏ bản nháp " + type + "/" + id));
      return;
    }
    SendJson(res, 200, *out);
  }
};

DigitizeHttp::~DigitizeHttp() = default;

Result<std::unique_ptr<DigitizeHttp>> DigitizeHttp::Start(Node& node, api::FhirApi& api) {
  auto impl = std::make_unique<Impl>();
  impl->node = &node;
  Node* np = &node;
  impl->coder =
      std::make_unique<Icd10Coder>([np]() -> std::shared_ptr<const terminology::CodeSystemVersion> {
        if (auto v = np->terminology().Resolve(terminology::kIcd10VnUrl)) return v;
        return terminology::StarterIcd10();
      });
  ASSIGN_OR_RETURN(impl->digitizer,
                   Digitizer::Create(OptionsFrom(node.config()), impl->coder.get()));
  impl->jobs = std::make_unique<DigitizeJobs>(
      *impl->digitizer, node.service(), node.config().digitize_workers,
      static_cast<size_t>(node.config().digitize_max_queued));
  impl->review = std::make_unique<ReviewService>(node.service());
  std::unique_ptr<DigitizeHttp> out(new DigitizeHttp);
  Impl* raw = impl.get();
  out->impl_ = std::move(impl);
  auto handler = [raw](const api::HttpRequest& req, api::HttpResponse& res,
                       const std::vector<std::string>& parts, const service::RequestContext& ctx) {
    return raw->Handle(req, res, parts, ctx);
  };
  const std::string def = "http://benhan.vn/fhir/OperationDefinition/";
  api.AddOperation({"DocumentReference", "digitize", def + "DocumentReference-digitize",
                    "POST a scan (PNG/JPEG/TIFF/PDF body with ?patient=ID, or Parameters patient + "
                    "document Attachment): 202 + Content-Location of the job; GET it for progress "
                    "(202, X-Progress) and the result (200 Parameters). docs/digitize.md",
                    handler});
  api.AddOperation({"DocumentReference", "drafts", def + "DocumentReference-drafts",
                    "GET ?patient=ID and/or ?document=ID (or DocumentReference/{id}/$drafts): the "
                    "digitized drafts waiting for review",
                    nullptr});
  for (const char* t : {"Condition", "Observation", "MedicationStatement"}) {
    api.AddOperation({t, "review", def + "digitize-review",
                      "POST Parameters decision=confirm|edit|reject (resource: the edited draft): "
                      "a clinician's decision on a digitized draft (audited)",
                      nullptr});
  }
  return out;
}

}  // namespace benhan::app
