// The access policy end to end over HTTP (security/policy.h, config/policy.json):
//  - the permission matrix: every role of the shipped policy x resource type x interaction
//    (view, create, edit, cancel, restore) gives the allowed/denied outcome the policy data says;
//  - patients: care and department reach, a search that must not reveal a hidden patient (no count
//    leak), patient-context tokens, SMART scopes, Consent deny, break-the-glass (time-limited,
//    audited, flagged), access hours, Bundles, history, $everything, AuditEvent for the patient.
// Searches run on SQLite and PostgreSQL (when the pg_cluster fixture is available).
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "security_test_util.h"
#include "support/pg_cluster.h"

namespace json = boost::json;

namespace benhan::testing {
namespace {

const char* kSystem = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

// A minimal valid R4 resource of `type` belonging to Patient/`patient`.
std::string Template(const std::string& type, const std::string& patient, const std::string& id) {
  std::string subj = R"("subject":{"reference":"Patient/)" + patient + R"("})";
  std::string head = R"({"resourceType":")" + type + R"(")" +
                     (id.empty() ? std::string() : R"(,"id":")" + id + R"(")");
  if (type == "Patient") return head + R"(,"name":[{"family":"Trần","given":["Thử"]}]})";
  if (type == "Encounter")
    return head + R"(,"status":"finished","class":{"system":")" + kSystem + R"(","code":"AMB"},)" +
           subj + "}";
  if (type == "Observation")
    return head + R"(,"status":"final","code":{"text":"Mạch"},)" + subj +
           R"(,"valueQuantity":{"value":80}})";
  if (type == "Condition") return head + R"(,"code":{"text":"Tăng huyết áp"},)" + subj + "}";
  if (type == "MedicationRequest")
    return head +
           R"(,"status":"active","intent":"order","medicationCodeableConcept":{"text":"Paracetamol"},)" +
           subj + "}";
  if (type == "MedicationDispense")
    return head + R"(,"status":"completed","medicationCodeableConcept":{"text":"Paracetamol"},)" +
           subj + "}";
  if (type == "AllergyIntolerance")
    return head +
           R"(,"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]},"code":{"text":"Penicillin"},"patient":{"reference":"Patient/)" +
           patient + R"("}})";
  if (type == "ServiceRequest")
    return head + R"(,"status":"draft","intent":"order","code":{"text":"Công thức máu"},)" + subj +
           "}";
  if (type == "DiagnosticReport")
    return head + R"(,"status":"final","code":{"text":"Công thức máu"},)" + subj + "}";
  if (type == "Appointment")
    return head + R"(,"status":"proposed","participant":[{"actor":{"reference":"Patient/)" +
           patient + R"("},"status":"needs-action"}]})";
  if (type == "Specimen") return head + "," + subj + "}";
  if (type == "Practitioner") return head + R"(,"name":[{"family":"Lê","given":["Bác sĩ"]}]})";
  if (type == "Organization") return head + R"(,"name":"Khoa Nội"})";
  ADD_FAILURE() << "no template for " << type;
  return "";
}

const std::vector<std::string>& MatrixTypes() {
  static const std::vector<std::string> k = {
      "Patient",           "Encounter",          "Observation",        "Condition",
      "MedicationRequest", "MedicationDispense", "AllergyIntolerance", "ServiceRequest",
      "DiagnosticReport",  "Appointment",        "Specimen",           "Practitioner",
      "Organization"};
  return k;
}

// A care relationship of Practitioner/doc1 (department Organization/dept1) with `patient`.
std::string CareEncounter(const std::string& patient, bool with_doctor, const std::string& dept) {
  std::string participant =
      with_doctor ? R"(,"participant":[{"individual":{"reference":"Practitioner/doc1"}}])" : "";
  return R"({"resourceType":"Encounter","status":"in-progress","class":{"system":")" +
         std::string(kSystem) + R"(","code":"IMP"},"subject":{"reference":"Patient/)" + patient +
         R"("})" + participant + R"(,"serviceProvider":{"reference":"Organization/)" + dept +
         R"("}})";
}

// Server with the patients of every test: p-care (an Encounter with doc1 in dept1), p-dept (an
// Encounter of dept1 without doc1) and p-hidden (dept2 only); the same family name.
struct World {
  std::string dir;
  std::unique_ptr<TestServer> server;
  std::map<std::string, std::string> tokens;  // principal id -> token
  std::string admin;

  static std::unique_ptr<World> Make(const std::string& backend,
                                     std::map<std::string, std::string> config = {}) {
    auto w = std::make_unique<World>();
    w->dir = NewTempDir();
    if (backend == "postgresql") config["storage"] = "postgresql";
    auto add = [&](Principal p) { w->tokens[p.id] = AddToken(w->dir, p); };
    for (const char* role : {"admin", "doctor", "nurse", "department-head", "receptionist",
                             "pharmacist", "lab", "records", "auditor"}) {
      Principal p = Who(std::string("u-") + role, role);
      p.all_access = false;
      p.practitioner = "Practitioner/doc1";
      p.department = "Organization/dept1";
      add(p);
    }
    Principal pat = Who("u-patient", "patient");
    pat.patient = "Patient/p-care";
    add(pat);
    Principal doc2 = Who("u-doctor2", "doctor");
    doc2.practitioner = "Practitioner/doc2";
    doc2.department = "Organization/dept2";
    add(doc2);
    ServerOptions o;
    o.data_dir = w->dir;
    o.config = config;
    w->server = TestServer::Start(o);
    if (!w->server) return nullptr;
    w->admin = w->tokens.at("u-admin");  // role admin: all_access (no admin.token is made)
    auto put = [&](const std::string& path, const std::string& body) {
      auto r = As(*w->server, w->admin, "PUT", path, body);
      EXPECT_TRUE(r.status == 200 || r.status == 201) << path << ": " << r.body;
    };
    put("/fhir/Organization/dept1",
        R"({"resourceType":"Organization","id":"dept1","name":"Khoa Nội"})");
    put("/fhir/Organization/dept2",
        R"({"resourceType":"Organization","id":"dept2","name":"Khoa Ngoại"})");
    put("/fhir/Practitioner/doc1",
        R"({"resourceType":"Practitioner","id":"doc1","name":[{"family":"Lê"}]})");
    put("/fhir/Practitioner/doc2",
        R"({"resourceType":"Practitioner","id":"doc2","name":[{"family":"Phạm"}]})");
    for (const char* p : {"p-care", "p-dept", "p-hidden"}) {
      put(std::string("/fhir/Patient/") + p,
          std::string(R"({"resourceType":"Patient","id":")") + p +
              R"(","name":[{"family":"Nguyễn","given":["Văn"]}]})");
    }
    put("/fhir/Encounter/e-care",
        CareEncounter("p-care", true, "dept1").insert(1, R"("id":"e-care",)"));
    put("/fhir/Encounter/e-dept",
        CareEncounter("p-dept", false, "dept1").insert(1, R"("id":"e-dept",)"));
    put("/fhir/Encounter/e-hidden",
        CareEncounter("p-hidden", false, "dept2").insert(1, R"("id":"e-hidden",)"));
    put("/fhir/Observation/o-care", Template("Observation", "p-care", "o-care"));
    put("/fhir/Observation/o-dept", Template("Observation", "p-dept", "o-dept"));
    put("/fhir/Observation/o-hidden", Template("Observation", "p-hidden", "o-hidden"));
    return w;
  }
  ~World() {
    server.reset();
    std::error_code ec;
    if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir, ec);
  }
  Response Do(const std::string& who, const std::string& method, const std::string& path,
              const std::string& body = {}, std::map<std::string, std::string> headers = {}) {
    return As(*server, tokens.at(who), method, path, body, std::move(headers));
  }
};

// --- The permission matrix ------------------------------------------------------------------

// The shipped policy without access hours (those are tested on their own below).
std::string PolicyWithoutHours(const std::string& dir) {
  json::value v = json::parse(ReadFile(std::string(BENHAN_SOURCE_DIR) + "/config/policy.json"));
  for (auto& [name, role] : v.at("roles").get_object()) {
    role.get_object().erase("hours");
    role.get_object().erase("days");
  }
  std::string path = dir + "/policy-nohours.json";
  std::ofstream(path) << json::serialize(v);
  return path;
}

bool Allowed(const json::object& role, const std::string& type, const std::string& interaction) {
  const json::object& perms = role.at("permissions").get_object();
  const json::value* list = perms.if_contains(type);
  if (list == nullptr) list = perms.if_contains("*");
  if (list == nullptr) return false;
  for (const auto& x : list->get_array())
    if (x.get_string() == interaction) return true;
  return false;
}

TEST(PermissionMatrix, EveryRoleTypeAndInteractionOverHttp) {
  std::string pdir = NewTempDir();
  auto w = World::Make("sqlite", {{"security.policy", PolicyWithoutHours(pdir)}});
  ASSERT_TRUE(w);
  json::value policy =
      json::parse(ReadFile(std::string(BENHAN_SOURCE_DIR) + "/config/policy.json"));
  int cells = 0, allowed_cells = 0;
  int serial = 0;
  // A fresh target of `type` for p-care (a Patient gets a care Encounter of its own).
  auto fresh = [&](const std::string& type) {
    std::string id = "m" + std::to_string(++serial);
    auto r =
        As(*w->server, w->admin, "PUT", "/fhir/" + type + "/" + id, Template(type, "p-care", id));
    EXPECT_TRUE(r.status == 201) << type << ": " << r.body;
    if (type == "Patient") {
      auto e =
          As(*w->server, w->admin, "POST", "/fhir/Encounter", CareEncounter(id, true, "dept1"));
      EXPECT_EQ(e.status, 201) << e.body;
    }
    return id;
  };
  std::map<std::string, std::string> viewable;  // type -> id made once
  for (const auto& type : MatrixTypes()) viewable[type] = fresh(type);
  for (const auto& [role_name, role_v] : policy.at("roles").get_object()) {
    std::string who = role_name == "patient" ? "u-patient" : "u-" + std::string(role_name);
    const json::object& role = role_v.get_object();
    for (const auto& type : MatrixTypes()) {
      std::string where = std::string(role_name) + " x " + type + " x ";
      // view: read by id, and search (the resource found or not). The patient's own Patient
      // record is p-care (every other target belongs to p-care already).
      {
        bool want = Allowed(role, type, "view");
        std::string target =
            role_name == "patient" && type == "Patient" ? "p-care" : viewable[type];
        auto r = w->Do(who, "GET", "/fhir/" + type + "/" + target);
        EXPECT_EQ(r.status, want ? 200 : 403) << where << "view (read): " << r.body;
        auto s = w->Do(who, "GET", "/fhir/" + type + "?_id=" + target);
        if (want) {
          EXPECT_EQ(s.status, 200) << where << "view (search): " << s.body;
          EXPECT_EQ(IdsOf(s), std::vector<std::string>{target}) << where << "view";
        } else {
          EXPECT_EQ(s.status, 403) << where << "view (search): " << s.body;
        }
        ++cells;
        allowed_cells += want;
      }
      // create
      {
        bool want = Allowed(role, type, "create");
        auto r = w->Do(who, "POST", "/fhir/" + type, Template(type, "p-care", ""));
        EXPECT_EQ(r.status, want ? 201 : 403) << where << "create: " << r.body;
        ++cells;
        allowed_cells += want;
      }
      // edit (update)
      {
        bool want = Allowed(role, type, "edit");
        std::string id = fresh(type);
        auto r = w->Do(who, "PUT", "/fhir/" + type + "/" + id, Template(type, "p-care", id));
        EXPECT_EQ(r.status, want ? 200 : 403) << where << "edit: " << r.body;
        ++cells;
        allowed_cells += want;
      }
      // cancel (delete)
      {
        bool want = Allowed(role, type, "cancel");
        std::string id = fresh(type);
        auto r = w->Do(who, "DELETE", "/fhir/" + type + "/" + id);
        EXPECT_EQ(r.status == 200 || r.status == 204, want)
            << where << "cancel: " << r.status << " " << r.body;
        if (!want) {
          EXPECT_EQ(r.status, 403) << where << "cancel";
        }
        ++cells;
        allowed_cells += want;
      }
      // restore (update of a deleted resource)
      {
        bool want = Allowed(role, type, "restore");
        std::string id = fresh(type);
        auto d = As(*w->server, w->admin, "DELETE", "/fhir/" + type + "/" + id);
        EXPECT_TRUE(d.status == 200 || d.status == 204) << d.body;
        auto r = w->Do(who, "PUT", "/fhir/" + type + "/" + id, Template(type, "p-care", id));
        EXPECT_EQ(r.status, want ? 201 : 403) << where << "restore: " << r.body;
        ++cells;
        allowed_cells += want;
      }
    }
  }
  // 10 roles x 13 types x 5 interactions, both outcomes present.
  EXPECT_EQ(cells, 10 * 13 * 5);
  EXPECT_GT(allowed_cells, 100);
  EXPECT_LT(allowed_cells, cells - 100);
  std::filesystem::remove_all(pdir);
}

// --- Patients, searches, scopes, consent, break-the-glass -----------------------------------

class AccessPolicy : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      std::string why;
      if (TestPostgres(&why).empty()) GTEST_SKIP() << "PostgreSQL not available: " << why;
    }
  }
};

TEST_P(AccessPolicy, SearchDoesNotRevealHiddenPatients) {
  auto w = World::Make(GetParam());
  ASSERT_TRUE(w);
  // Admin sees all three Nguyễn.
  auto a = As(*w->server, w->admin, "GET", "/fhir/Patient?family=nguyen&_total=accurate");
  EXPECT_EQ(TotalOf(a), 3) << a.body;
  // The doctor: only the patient under their care; the total counts only that one.
  auto d = w->Do("u-doctor", "GET", "/fhir/Patient?family=nguyen&_total=accurate");
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(TotalOf(d), 1);
  EXPECT_EQ(IdsOf(d), std::vector<std::string>{"p-care"});
  EXPECT_EQ(d.body.find("p-hidden"), std::string::npos);
  auto dc = w->Do("u-doctor", "GET", "/fhir/Patient?family=nguyen&_summary=count");
  EXPECT_EQ(TotalOf(dc), 1) << dc.body;
  // Paging over permitted patients only: _count=1 has no next page.
  auto d1 = w->Do("u-doctor", "GET", "/fhir/Patient?family=nguyen&_count=1");
  EXPECT_EQ(d1.body.find("\"next\""), std::string::npos) << d1.body;
  // The nurse: the department's patients.
  auto n = w->Do("u-nurse", "GET", "/fhir/Patient?family=nguyen&_total=accurate");
  EXPECT_EQ(TotalOf(n), 2) << n.body;
  std::set<std::string> ids;
  for (auto& id : IdsOf(n)) ids.insert(id);
  EXPECT_EQ(ids, (std::set<std::string>{"p-care", "p-dept"}));
  // Searching the hidden patient's data by reference: nothing, not a refusal that confirms it.
  auto o = w->Do("u-doctor", "GET", "/fhir/Observation?subject=Patient/p-hidden&_total=accurate");
  EXPECT_EQ(o.status, 200);
  EXPECT_EQ(TotalOf(o), 0) << o.body;
  // Chains through patient data are refused for care-limited roles.
  auto ch = w->Do("u-doctor", "GET", "/fhir/Observation?subject:Patient.family=nguyen");
  EXPECT_EQ(ch.status, 403) << ch.body;
  // _include / _revinclude leave out what the role may not see.
  auto inc =
      w->Do("u-nurse", "GET", "/fhir/Encounter?_id=e-care,e-hidden&_include=Encounter:subject");
  EXPECT_EQ(inc.body.find("p-hidden"), std::string::npos) << inc.body;
  EXPECT_NE(inc.body.find("p-care"), std::string::npos);
  // Reads by id of hidden records: 403 naming the reason.
  auto rh = w->Do("u-doctor", "GET", "/fhir/Observation/o-hidden");
  EXPECT_EQ(rh.status, 403);
  EXPECT_NE(rh.body.find("X-Break-Glass"), std::string::npos) << rh.body;
  EXPECT_EQ(w->Do("u-doctor", "GET", "/fhir/Patient/p-hidden/$everything").status, 403);
  EXPECT_EQ(w->Do("u-doctor", "GET", "/fhir/Patient/p-care/$everything").status, 200);
  // History: one resource of a patient under care yes; a whole type no.
  EXPECT_EQ(w->Do("u-doctor", "GET", "/fhir/Observation/o-care/_history").status, 200);
  EXPECT_EQ(w->Do("u-doctor", "GET", "/fhir/Observation/_history").status, 403);
  EXPECT_EQ(w->Do("u-doctor", "GET", "/fhir/Observation/o-hidden/_history").status, 403);
  // Whole-system search: only for roles that see every patient.
  EXPECT_EQ(w->Do("u-doctor", "GET", "/fhir?_type=Patient").status, 403);
  // Writes for a hidden patient, also inside a transaction and a batch.
  EXPECT_EQ(w->Do("u-doctor", "POST", "/fhir/Observation", Template("Observation", "p-hidden", ""))
                .status,
            403);
  std::string txn = R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":)" +
                    Template("Observation", "p-care", "") +
                    R"(,"request":{"method":"POST","url":"Observation"}},{"resource":)" +
                    Template("Observation", "p-hidden", "") +
                    R"(,"request":{"method":"POST","url":"Observation"}}]})";
  EXPECT_EQ(w->Do("u-doctor", "POST", "/fhir", txn).status, 403);
  auto after = As(*w->server, w->admin, "GET", "/fhir/Observation?_total=accurate");
  EXPECT_EQ(TotalOf(after), 3) << "nothing of the refused transaction was stored";
  std::string batch = R"({"resourceType":"Bundle","type":"batch","entry":[)"
                      R"({"request":{"method":"GET","url":"Observation/o-care"}},)"
                      R"({"request":{"method":"GET","url":"Observation/o-hidden"}}]})";
  auto b = w->Do("u-doctor", "POST", "/fhir", batch);
  ASSERT_EQ(b.status, 200) << b.body;
  auto bj = b.Json();
  EXPECT_EQ(bj.at("entry").at(0).at("response").at("status").get_string(), "200 OK");
  EXPECT_EQ(bj.at("entry").at(1).at("response").at("status").get_string(), "403");
  // Moving a record away from a patient one may see is an update of that record: refused.
  EXPECT_EQ(w->Do("u-doctor", "PUT", "/fhir/Observation/o-hidden",
                  Template("Observation", "p-care", "o-hidden"))
                .status,
            403);
}

TEST_P(AccessPolicy, PatientContextSeesOwnCompartmentAndOwnAuditTrail) {
  auto w = World::Make(GetParam());
  ASSERT_TRUE(w);
  EXPECT_EQ(w->Do("u-patient", "GET", "/fhir/Observation/o-care").status, 200);
  EXPECT_EQ(w->Do("u-patient", "GET", "/fhir/Observation/o-dept").status, 403);
  auto s = w->Do("u-patient", "GET", "/fhir/Observation?_total=accurate");
  EXPECT_EQ(TotalOf(s), 1) << s.body;
  EXPECT_EQ(IdsOf(s), std::vector<std::string>{"o-care"});
  EXPECT_EQ(IdsOf(w->Do("u-patient", "GET", "/fhir/Patient")), std::vector<std::string>{"p-care"});
  EXPECT_EQ(
      w->Do("u-patient", "POST", "/fhir/Observation", Template("Observation", "p-care", "")).status,
      403);
  // Who viewed my record: the doctor's read shows in the patient's own audit trail.
  ASSERT_EQ(w->Do("u-doctor", "GET", "/fhir/Observation/o-care").status, 200);
  ASSERT_TRUE(w->server->node().audit().Flush().ok());
  auto mine = w->Do("u-patient", "GET", "/fhir/AuditEvent?_count=200");
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_NE(mine.body.find("\"u-doctor\""), std::string::npos) << mine.body;
  EXPECT_EQ(mine.body.find("p-hidden"), std::string::npos);
  EXPECT_EQ(mine.body.find("Patient/p-dept"), std::string::npos);
  // Another patient's trail: nothing.
  auto other = w->Do("u-patient", "GET", "/fhir/AuditEvent?patient=p-hidden");
  EXPECT_TRUE(IdsOf(other).empty()) << other.body;
  // The auditor: who viewed patient X, what did user Y do. The doctor may not.
  auto who_viewed = w->Do("u-auditor", "GET", "/fhir/AuditEvent?patient=p-care&agent=u-doctor");
  ASSERT_EQ(who_viewed.status, 200) << who_viewed.body;
  EXPECT_FALSE(IdsOf(who_viewed).empty());
  auto what_did = w->Do("u-auditor", "GET", "/fhir/AuditEvent?agent=u-patient&_count=500");
  EXPECT_NE(what_did.body.find("AuditEvent"), std::string::npos);
  EXPECT_EQ(what_did.body.find("\"u-doctor\""), std::string::npos) << "only u-patient's rows";
  EXPECT_EQ(w->Do("u-doctor", "GET", "/fhir/AuditEvent?patient=p-care").status, 403);
  auto one = w->Do("u-auditor", "GET", "/fhir/AuditEvent/" + IdsOf(who_viewed)[0]);
  EXPECT_EQ(one.status, 200) << one.body;
  auto bad = w->Do("u-auditor", "GET", "/fhir/AuditEvent?address=1.2.3.4");
  EXPECT_EQ(bad.status, 400) << bad.body;
}

// The patients of a stored version are remembered (by its change sequence) after the first
// check: a read repeated is judged the same, and a new version is judged by its own content (a
// record moved to another patient is refused to the first at once, its old version still theirs).
TEST_P(AccessPolicy, EachVersionIsJudgedByItsOwnPatients) {
  auto w = World::Make(GetParam());
  ASSERT_TRUE(w);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(w->Do("u-patient", "GET", "/fhir/Observation/o-care").status, 200) << i;
  auto put = w->Do("u-admin", "PUT", "/fhir/Observation/o-care",
                   Template("Observation", "p-hidden", "o-care"));
  ASSERT_EQ(put.status, 200) << put.body;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(w->Do("u-patient", "GET", "/fhir/Observation/o-care").status, 403) << i;
    EXPECT_EQ(w->Do("u-patient", "GET", "/fhir/Observation/o-care/_history/1").status, 200) << i;
    EXPECT_TRUE(IdsOf(w->Do("u-patient", "GET", "/fhir/Observation?_id=o-care")).empty()) << i;
  }
  // The audit rows name each version's own patient.
  ASSERT_TRUE(w->server->node().audit().Flush().ok());
  auto hidden = w->Do("u-auditor", "GET", "/fhir/AuditEvent?patient=p-hidden&agent=u-patient");
  ASSERT_EQ(hidden.status, 200) << hidden.body;
  EXPECT_GE(IdsOf(hidden).size(), 3u) << hidden.body;
}

TEST_P(AccessPolicy, SmartScopes) {
  auto w = World::Make(GetParam());
  ASSERT_TRUE(w);
  auto token = [&](const std::string& id, const std::string& role, std::vector<std::string> scopes,
                   const std::string& patient = "") {
    Principal p = Who(id, role);
    p.practitioner = "Practitioner/doc1";
    p.department = "Organization/dept1";
    p.patient = patient;
    p.scopes = std::move(scopes);
    return AddToken(w->dir, p);
  };
  std::string v2_patient =
      token("app-1", "doctor", {"openid", "patient/Observation.rs"}, "Patient/p-care");
  std::string v1_user = token("app-2", "doctor", {"user/Observation.read"});
  std::string v1_write = token("app-3", "doctor", {"user/*.write", "user/*.read"});
  std::string system_read = token("lis", "records", {"system/*.read"});
  std::string granular = token("app-4", "doctor", {"user/Observation.rs?category=laboratory"});
  std::string malformed = token("app-5", "doctor", {"user/Observation.sr"});
  // Tokens are loaded at start: restart on the same directory.
  w->server->Stop();
  ServerOptions o;
  o.data_dir = w->dir;
  if (GetParam() == "postgresql") o.config["storage"] = "postgresql";
  w->server = TestServer::Start(o);
  ASSERT_TRUE(w->server);
  auto& s = *w->server;
  // patient/Observation.rs in patient context: own Observations only; no Patient, no writes.
  EXPECT_EQ(As(s, v2_patient, "GET", "/fhir/Observation/o-care").status, 200);
  EXPECT_EQ(As(s, v2_patient, "GET", "/fhir/Observation/o-dept").status, 403);
  EXPECT_EQ(IdsOf(As(s, v2_patient, "GET", "/fhir/Observation")),
            std::vector<std::string>{"o-care"});
  EXPECT_EQ(As(s, v2_patient, "GET", "/fhir/Patient/p-care").status, 403);
  EXPECT_EQ(
      As(s, v2_patient, "POST", "/fhir/Observation", Template("Observation", "p-care", "")).status,
      403);
  // user/Observation.read (v1 = r + s): read and search within the doctor's care; no writes.
  EXPECT_EQ(As(s, v1_user, "GET", "/fhir/Observation/o-care").status, 200);
  EXPECT_EQ(As(s, v1_user, "GET", "/fhir/Observation?_id=o-care").status, 200);
  EXPECT_EQ(As(s, v1_user, "GET", "/fhir/Observation/o-hidden").status, 403);
  EXPECT_EQ(As(s, v1_user, "GET", "/fhir/Condition").status, 403);
  EXPECT_EQ(
      As(s, v1_user, "PUT", "/fhir/Observation/o-care", Template("Observation", "p-care", "o-care"))
          .status,
      403);
  // user/*.write + read: the role still decides (a doctor may not create Practitioners).
  EXPECT_EQ(
      As(s, v1_write, "POST", "/fhir/Observation", Template("Observation", "p-care", "")).status,
      201);
  EXPECT_EQ(As(s, v1_write, "POST", "/fhir/Practitioner", Template("Practitioner", "", "")).status,
            403);
  // system/*.read: reads everything the role reaches; never writes.
  EXPECT_EQ(As(s, system_read, "GET", "/fhir/Observation/o-hidden").status, 200);
  EXPECT_EQ(As(s, system_read, "DELETE", "/fhir/Observation/o-hidden").status, 403);
  // Scope escalation attempts grant nothing.
  EXPECT_EQ(As(s, granular, "GET", "/fhir/Observation/o-care").status, 403);
  EXPECT_EQ(As(s, malformed, "GET", "/fhir/Observation/o-care").status, 403);
}

TEST_P(AccessPolicy, ConsentDenyAndBreakTheGlass) {
  std::string pdir = NewTempDir();
  // Break-the-glass windows of 2 seconds for the test (break_glass_seconds).
  json::value v = json::parse(ReadFile(std::string(BENHAN_SOURCE_DIR) + "/config/policy.json"));
  v.get_object()["break_glass_seconds"] = 2;
  std::string policy = pdir + "/policy.json";
  std::ofstream(policy) << json::serialize(v);
  auto w = World::Make(GetParam(), {{"security.policy", policy}});
  ASSERT_TRUE(w);
  ASSERT_EQ(w->Do("u-doctor", "GET", "/fhir/Observation/o-care").status, 200);
  // The patient forbids sharing, except with doctor 2 (nested permit).
  std::string consent =
      R"({"resourceType":"Consent","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],"patient":{"reference":"Patient/p-care"},"policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"OPTOUT"}]},"provision":{"type":"deny","provision":[{"type":"permit","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"PRCP"}]},"reference":{"reference":"Practitioner/doc2"}}]}]}})";
  auto c = As(*w->server, w->admin, "POST", "/fhir/Consent", consent);
  ASSERT_EQ(c.status, 201) << c.body;
  auto r = w->Do("u-doctor", "GET", "/fhir/Observation/o-care");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("Consent"), std::string::npos) << r.body;
  auto s = w->Do("u-doctor", "GET", "/fhir/Observation?_total=accurate");
  EXPECT_EQ(TotalOf(s), 0) << s.body;
  // A role that sees every patient is bound by the Consent too; the patient is not.
  auto recs = w->Do("u-records", "GET", "/fhir/Observation?_total=accurate");
  EXPECT_EQ(TotalOf(recs), 2) << recs.body;  // o-dept and o-hidden
  EXPECT_EQ(w->Do("u-records", "GET", "/fhir/Patient/p-care").status, 403);
  EXPECT_EQ(w->Do("u-patient", "GET", "/fhir/Observation/o-care").status, 200);
  // Doctor 2 is permitted by the Consent (but p-care is not under their care: break-the-glass).
  EXPECT_EQ(w->Do("u-doctor2", "GET", "/fhir/Observation/o-care").status, 403);

  // Break-the-glass: too short a reason, then a real one; time-limited; audited and flagged.
  auto short_reason =
      w->Do("u-doctor", "GET", "/fhir/Observation/o-care", "", {{"X-Break-Glass", "gấp"}});
  EXPECT_EQ(short_reason.status, 403) << short_reason.body;
  auto btg = w->Do("u-doctor", "GET", "/fhir/Observation/o-care", "",
                   {{"X-Break-Glass", "Cấp cứu: bệnh nhân hôn mê, cần xem tiền sử dị ứng"}});
  EXPECT_EQ(btg.status, 200) << btg.body;
  EXPECT_EQ(w->Do("u-doctor", "GET", "/fhir/Observation/o-care").status, 200) << "window open";
  auto during = w->Do("u-doctor", "GET", "/fhir/Observation?_total=accurate");
  EXPECT_EQ(TotalOf(during), 1) << during.body;
  // A role without the right cannot break the glass.
  EXPECT_EQ(w->Do("u-records", "GET", "/fhir/Patient/p-care", "",
                  {{"X-Break-Glass", "Cấp cứu: bệnh nhân hôn mê, cần xem hồ sơ"}})
                .status,
            403);
  std::this_thread::sleep_for(std::chrono::milliseconds(2300));
  EXPECT_EQ(w->Do("u-doctor", "GET", "/fhir/Observation/o-care").status, 403) << "window closed";
  ASSERT_TRUE(w->server->node().audit().Flush().ok());
  auto flagged = As(*w->server, w->admin, "GET",
                    "/fhir/AuditEvent?patient=p-care&_tag=break-glass&_count=100");
  ASSERT_EQ(flagged.status, 200) << flagged.body;
  auto ids = IdsOf(flagged);
  EXPECT_GE(ids.size(), 3u) << "the opening, the read with the header and the one after it";
  EXPECT_NE(flagged.body.find("\"BTG\""), std::string::npos);
  EXPECT_NE(flagged.body.find("bệnh nhân hôn mê"), std::string::npos) << "the reason is recorded";
  EXPECT_NE(flagged.body.find("\"subtype\":[{\"system\":\"https://benhan.vn/fhir/audit-action\","
                              "\"code\":\"break-glass\"}]"),
            std::string::npos);
  std::filesystem::remove_all(pdir);
}

TEST(AccessHours, OutsideTheRoleWindowIsRefused) {
  // The receptionist's window set 12 hours away from now (local time +07:00).
  std::string pdir = NewTempDir();
  json::value v = json::parse(ReadFile(std::string(BENHAN_SOURCE_DIR) + "/config/policy.json"));
  auto now = std::chrono::system_clock::now().time_since_epoch();
  int64_t local_min = std::chrono::duration_cast<std::chrono::minutes>(now).count() + 7 * 60;
  int start = static_cast<int>((local_min + 12 * 60) % 1440) / 60;
  auto hh = [](int h) {
    char b[8];
    std::snprintf(b, sizeof b, "%02d:00", h % 24);
    return std::string(b);
  };
  auto& roles = v.at("roles").get_object();
  roles["receptionist"].get_object()["hours"] = hh(start) + "-" + hh(start + 1);
  roles["receptionist"].get_object().erase("days");
  roles["pharmacist"].get_object()["hours"] = hh(start + 12) + "-" + hh(start + 13);
  std::string policy = pdir + "/policy.json";
  std::ofstream(policy) << json::serialize(v);
  auto w = World::Make("sqlite", {{"security.policy", policy}});
  ASSERT_TRUE(w);
  auto r = w->Do("u-receptionist", "GET", "/fhir/Patient/p-care");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("outside the role's access hours"), std::string::npos) << r.body;
  EXPECT_EQ(w->Do("u-pharmacist", "GET", "/fhir/Patient/p-care").status, 200)
      << "inside its window";
  std::filesystem::remove_all(pdir);
}

TEST(AccessPolicyFile, BadPolicyStopsStartUp) {
  std::string pdir = NewTempDir();
  std::ofstream(pdir + "/p.json")
      << R"({"roles":{"doctor":{"patients":"care","permissions":{"Observaton":["view"]}}}})";
  Config cfg;
  cfg.data_dir = pdir + "/data";
  cfg.security_policy = pdir + "/p.json";
  auto n = app::Node::Open(cfg);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("'Observaton' is not an R4 resource type"), std::string::npos)
      << n.status().ToString();
  std::filesystem::remove_all(pdir);
}

INSTANTIATE_TEST_SUITE_P(Backends, AccessPolicy, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace benhan::testing
