// security::Accounts and security::OAuthServer over a real store, on SQLite and on PostgreSQL
// (skipped with a message when PostgreSQL cannot run here): lock-out, TOTP for administrators,
// authorization code + PKCE, code reuse, redirect_uri mismatch, refresh rotation and scope
// escalation, client credentials with a signed assertion (replay, expiry, audience, wrong key),
// revocation and expiry taking effect at once, introspection, and the audit rows of it all.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "api/oauth_api.h"
#include "core/ids.h"
#include "security/credentials.h"
#include "security/crypto.h"
#include "security/oauth.h"
#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"
#include "support/pg_cluster.h"

namespace benhan::security {
namespace {
namespace json = boost::json;

class FakeClock final : public Clock {
 public:
  int64_t NowMicros() const override { return now_.load(); }
  void Advance(int64_t seconds) { now_ += seconds * 1000000; }
  int64_t Seconds() const { return now_.load() / 1000000; }

 private:
  std::atomic<int64_t> now_{SystemClock().NowMicros()};
};

std::string EcKeyPem() {
  EVP_PKEY* k = EVP_EC_gen("P-384");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(k);
  return pem;
}

constexpr const char* kRedirect = "http://127.0.0.1:9999/callback";
constexpr const char* kTokenUrl = "https://ehr.example/auth/token";
constexpr const char* kPassword = "Cây-đa-giếng-nước-77";

// Stores a resource (for launch contexts and patient choices).
void PutResource(store::Store& st, const std::string& type, const std::string& id,
                 const std::string& json) {
  ASSERT_TRUE(store::RunInTransaction(st, [&](store::Transaction& t) -> Status {
                store::NewVersion v;
                v.type = type;
                v.id = id;
                v.version = 1;
                v.last_updated_us = SystemClock().NowMicros();
                v.method = "POST";
                v.json = json;
                fhir::IndexEntries none;
                v.index = &none;
                return t.Put(v).status();
              }).ok());
}

class OAuthServerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() /
             ("benhan-oauth-" + std::to_string(::getpid()) + "-" + RandomToken(6));
      std::filesystem::create_directories(dir_);
      store::SqliteOptions o;
      o.path = (dir_ / "benhan.db").string();
      auto s = store::OpenSqliteStore(o);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      store_ = std::move(*s);
    } else {
      std::string why;
      if (testing::TestPostgres(&why).empty())
        GTEST_SKIP() << "PostgreSQL is not available: " << why;
      auto db = testing::CreateTestDatabase();
      ASSERT_TRUE(db.ok()) << db.status().ToString();
      db_ = *db;
      store::PostgresOptions o;
      o.url = testing::TestPostgres(nullptr) + db_;
      o.pool_size = 2;
      auto s = store::OpenPostgresStore(o);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      store_ = std::move(*s);
    }
    AuthSettings settings;
    settings.lockout_attempts = 3;
    settings.lockout_minutes = 10;
    settings.access_token_minutes = 5;
    accounts_ = std::make_unique<Accounts>(*store_, settings, clock_);
    oauth_ = std::make_unique<OAuthServer>(
        *store_, *accounts_,
        [this](store::AuditRecord r) {
          std::lock_guard<std::mutex> l(mu_);
          audit_.push_back(std::move(r));
        },
        clock_);
    UserAccount doc;
    doc.name = "bs.lan";
    doc.role = "doctor";
    doc.practitioner = "pr-1";
    doc.department = "khoa-noi";
    ASSERT_TRUE(accounts_->Add(doc, kPassword).ok());
    OAuthClient app;
    app.id = "growth-chart";
    app.name = "Biểu đồ tăng trưởng";
    app.redirect_uris = {kRedirect};
    app.scopes = {"user/*.rs", "patient/*.read", "launch/patient", "offline_access", "openid"};
    ASSERT_TRUE(oauth_->AddClient(app).ok());
  }
  void TearDown() override {
    oauth_.reset();
    accounts_.reset();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    if (!db_.empty() && !HasFailure()) testing::DropTestDatabase(db_);
  }

  // An approved code for `scopes` with a verifier; returns {code, verifier}.
  std::pair<std::string, std::string> Approve(const std::string& scopes) {
    std::string verifier = RandomToken(40);
    Params p{{"response_type", "code"},
             {"client_id", "growth-chart"},
             {"redirect_uri", kRedirect},
             {"scope", scopes},
             {"state", "xyz"},
             {"aud", "https://ehr.example/fhir"},
             {"code_challenge", Base64UrlEncode(Sha256(verifier))},
             {"code_challenge_method", "S256"}};
    bool redirectable = false;
    std::string err;
    auto ar = oauth_->CheckAuthorize(p, "https://ehr.example/fhir", &redirectable, &err);
    EXPECT_TRUE(ar.ok()) << ar.status().ToString();
    if (!ar.ok()) return {};
    auto user = oauth_->Login("bs.lan", kPassword, "", "127.0.0.1");
    EXPECT_TRUE(user.ok()) << user.status().ToString();
    auto code = oauth_->IssueCode(*ar, *user, "", "127.0.0.1");
    EXPECT_TRUE(code.ok()) << code.status().ToString();
    return {code.ok() ? *code : "", verifier};
  }
  OAuthReply Exchange(const std::string& code, const std::string& verifier,
                      const std::string& redirect = kRedirect) {
    return oauth_->Token({{"grant_type", "authorization_code"},
                          {"code", code},
                          {"client_id", "growth-chart"},
                          {"redirect_uri", redirect},
                          {"code_verifier", verifier}},
                         kTokenUrl, "127.0.0.1");
  }
  std::string Error(const OAuthReply& r) {
    return r.body.contains("error") ? std::string(r.body.at("error").as_string()) : "";
  }
  int Audited(const std::string& action) {
    std::lock_guard<std::mutex> l(mu_);
    int n = 0;
    for (const auto& r : audit_) n += r.action == action;
    return n;
  }

  std::filesystem::path dir_;
  std::string db_;
  FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<OAuthServer> oauth_;
  std::mutex mu_;
  std::vector<store::AuditRecord> audit_;
};

TEST_P(OAuthServerTest, LockOutAfterFailedLoginsAndUnlock) {
  for (int i = 0; i < 2; ++i) {
    auto r = oauth_->Login("bs.lan", "wrong-password-1", "", "10.0.0.9");
    EXPECT_EQ(r.status().code(), Code::kUnauthenticated);
  }
  EXPECT_TRUE(oauth_->Login("bs.lan", kPassword, "", "10.0.0.9").ok())
      << "success resets the count";
  for (int i = 0; i < 3; ++i) (void)oauth_->Login("bs.lan", "wrong-password-1", "", "10.0.0.9");
  auto locked = oauth_->Login("bs.lan", kPassword, "", "10.0.0.9");
  EXPECT_EQ(locked.status().code(), Code::kForbidden) << "locked even with the right password";
  EXPECT_NE(locked.status().message().find("khoá"), std::string::npos);
  clock_.Advance(11 * 60);
  EXPECT_TRUE(oauth_->Login("bs.lan", kPassword, "", "10.0.0.9").ok()) << "the lock expires";
  for (int i = 0; i < 3; ++i) (void)oauth_->Login("bs.lan", "wrong-password-1", "", "10.0.0.9");
  ASSERT_TRUE(accounts_->Unlock("bs.lan").ok());
  EXPECT_TRUE(oauth_->Login("bs.lan", kPassword, "", "10.0.0.9").ok());
  // Unknown user: the same answer as a wrong password.
  auto unknown = oauth_->Login("nobody", kPassword, "", "10.0.0.9");
  EXPECT_EQ(unknown.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(unknown.status().message(),
            oauth_->Login("bs.lan", "wrong-password-1", "", "x").status().message());
  // A disabled account: said only after the right password.
  ASSERT_TRUE(accounts_->SetDisabled("bs.lan", true).ok());
  EXPECT_EQ(oauth_->Login("bs.lan", "wrong-password-1", "", "x").status().code(),
            Code::kUnauthenticated);
  EXPECT_EQ(oauth_->Login("bs.lan", kPassword, "", "x").status().code(), Code::kForbidden);
  UserAccount reserved;
  reserved.name = "admin";
  reserved.role = "admin";
  EXPECT_EQ(accounts_->Add(reserved, kPassword).code(), Code::kInvalid);
  EXPECT_GE(Audited("login-failed"), 9);
  EXPECT_EQ(Audited("login"), 3);
}

// Login sessions (the authorization pages' cookie) end after AuthSettings::session_idle_minutes
// (30) without use, and each use restarts that time; logging out ends one at once. The fake clock
// stands for the time of a session's last use (the store expires rows by the real time).
TEST_P(OAuthServerTest, IdleLoginSessionsExpireAndUseKeepsThemAlive) {
  LoginSession made;
  clock_.Advance(-31 * 60);  // last used 31 minutes ago
  auto idle = oauth_->NewSession("bs.lan", &made);
  ASSERT_TRUE(idle.ok()) << idle.status().ToString();
  auto gone = oauth_->GetSession(*idle);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value()) << "idle for longer than 30 minutes";
  // Two sessions last used 29 minutes 58 seconds ago: 2 s of idle time left. One is used now.
  clock_.Advance(60 + 2);
  auto used = oauth_->NewSession("bs.lan", &made);
  auto unused = oauth_->NewSession("bs.lan", &made);
  ASSERT_TRUE(used.ok() && unused.ok());
  clock_.Advance(30 * 60 - 2);  // now
  auto in_use = oauth_->GetSession(*used);
  ASSERT_TRUE(in_use.ok() && in_use->has_value());
  EXPECT_EQ((*in_use)->user, "bs.lan");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto kept = oauth_->GetSession(*used);
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->has_value()) << "its use restarted the idle time";
  auto lapsed = oauth_->GetSession(*unused);
  ASSERT_TRUE(lapsed.ok());
  EXPECT_FALSE(lapsed->has_value()) << "not used: idle for longer than 30 minutes";
  ASSERT_TRUE(oauth_->EndSession(*used).ok());
  auto ended = oauth_->GetSession(*used);
  ASSERT_TRUE(ended.ok());
  EXPECT_FALSE(ended->has_value()) << "logged out";
}

TEST_P(OAuthServerTest, AdministratorsNeedTotp) {
  UserAccount admin;
  admin.name = "qtv";
  admin.role = "admin";
  ASSERT_TRUE(accounts_->Add(admin, kPassword).ok());
  EXPECT_EQ(oauth_->Login("qtv", kPassword, "", "x").status().code(), Code::kForbidden)
      << "no TOTP secret yet";
  auto uri = accounts_->NewTotp("qtv");
  ASSERT_TRUE(uri.ok());
  auto pos = uri->find("secret=");
  auto secret = Base32Decode(uri->substr(pos + 7, uri->find('&', pos) - pos - 7));
  ASSERT_TRUE(secret);
  EXPECT_EQ(oauth_->Login("qtv", kPassword, "", "x").status().code(), Code::kUnauthenticated);
  std::string wrong = TotpCode(*secret, clock_.Seconds() + 300);
  EXPECT_EQ(oauth_->Login("qtv", kPassword, wrong, "x").status().code(), Code::kUnauthenticated);
  std::string code = TotpCode(*secret, clock_.Seconds());
  auto ok = oauth_->Login("qtv", kPassword, code, "x");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(oauth_->Login("qtv", kPassword, code, "x").status().code(), Code::kUnauthenticated)
      << "a TOTP code is used once";
  EXPECT_EQ(accounts_->Add(admin, kPassword).code(), Code::kConflict);
  UserAccount bad;
  bad.name = "Bad Name";
  bad.role = "x";
  EXPECT_EQ(accounts_->Add(bad, kPassword).code(), Code::kInvalid);
}

TEST_P(OAuthServerTest, AuthorizationCodeWithPkce) {
  auto [code, verifier] = Approve("user/*.rs offline_access");
  auto r = Exchange(code, verifier);
  ASSERT_EQ(r.status, 200) << json::serialize(r.body);
  std::string at(r.body.at("access_token").as_string());
  std::string rt(r.body.at("refresh_token").as_string());
  EXPECT_EQ(r.body.at("token_type").as_string(), "Bearer");
  EXPECT_EQ(r.body.at("scope").as_string(), "user/*.rs offline_access");
  auto who = oauth_->PrincipalOf(at);
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(who->id, "bs.lan");
  EXPECT_EQ(who->role, "doctor");
  EXPECT_EQ(who->practitioner, "Practitioner/pr-1");
  EXPECT_EQ(who->department, "Organization/khoa-noi");
  EXPECT_EQ(who->client_id, "growth-chart");
  EXPECT_EQ(who->scopes, (std::vector<std::string>{"user/*.rs", "offline_access"}));
  EXPECT_FALSE(who->all_access);
  // The code works once.
  EXPECT_EQ(Error(Exchange(code, verifier)), "invalid_grant");
  // Refresh: rotation, narrower scope allowed, wider refused.
  auto wide = oauth_->Token({{"grant_type", "refresh_token"},
                             {"refresh_token", rt},
                             {"client_id", "growth-chart"},
                             {"scope", "user/*.cruds"}},
                            kTokenUrl, "x");
  EXPECT_EQ(Error(wide), "invalid_scope");
  auto r2 = oauth_->Token({{"grant_type", "refresh_token"},
                           {"refresh_token", rt},
                           {"client_id", "growth-chart"},
                           {"scope", "user/Observation.rs"}},
                          kTokenUrl, "x");
  ASSERT_EQ(r2.status, 200) << json::serialize(r2.body);
  EXPECT_EQ(r2.body.at("scope").as_string(), "user/Observation.rs");
  std::string rt2(r2.body.at("refresh_token").as_string());
  EXPECT_NE(rt2, rt);
  auto reuse = oauth_->Token(
      {{"grant_type", "refresh_token"}, {"refresh_token", rt}, {"client_id", "growth-chart"}},
      kTokenUrl, "x");
  EXPECT_EQ(Error(reuse), "invalid_grant") << "a rotated refresh token is used up";
  // The rotated token keeps the original grant: the full scope can come back.
  auto r3 = oauth_->Token(
      {{"grant_type", "refresh_token"}, {"refresh_token", rt2}, {"client_id", "growth-chart"}},
      kTokenUrl, "x");
  ASSERT_EQ(r3.status, 200);
  EXPECT_EQ(r3.body.at("scope").as_string(), "user/*.rs offline_access");
  // Another client cannot use it.
  std::string rt3(r3.body.at("refresh_token").as_string());
  auto other = oauth_->Token(
      {{"grant_type", "refresh_token"}, {"refresh_token", rt3}, {"client_id", "intruder"}},
      kTokenUrl, "x");
  EXPECT_EQ(Error(other), "invalid_client") << "an unknown client";
  OAuthClient app2 = *oauth_->GetClient("growth-chart");
  app2.id = "other-app";
  ASSERT_TRUE(oauth_->AddClient(app2).ok());
  other = oauth_->Token(
      {{"grant_type", "refresh_token"}, {"refresh_token", rt3}, {"client_id", "other-app"}},
      kTokenUrl, "x");
  EXPECT_EQ(Error(other), "invalid_grant") << "another client's refresh token";
  EXPECT_GE(Audited("token"), 3);
  EXPECT_GE(Audited("token-refused"), 3);
}

TEST_P(OAuthServerTest, PkceAndRedirectMistakesAreRefused) {
  {
    auto [code, verifier] = Approve("user/*.rs");
    EXPECT_EQ(Error(Exchange(code, RandomToken(40))), "invalid_grant") << "wrong verifier";
    EXPECT_EQ(Error(Exchange(code, verifier)), "invalid_grant") << "the code is spent";
  }
  {
    auto [code, verifier] = Approve("user/*.rs");
    EXPECT_EQ(Error(Exchange(code, verifier, "http://127.0.0.1:9999/other")), "invalid_grant");
  }
  {
    auto [code, verifier] = Approve("user/*.rs");
    EXPECT_EQ(Error(Exchange(code, "short")), "invalid_grant") << "malformed verifier";
  }
  {
    auto [code, verifier] = Approve("user/*.rs");
    clock_.Advance(61);
    EXPECT_EQ(Error(Exchange(code, verifier)), "invalid_grant") << "expired code";
  }
  // Authorization requests: unknown client and unregistered redirect are not redirected; PKCE
  // plain, a missing challenge, scopes beyond the registration and a foreign aud are.
  Params base{{"response_type", "code"},
              {"client_id", "growth-chart"},
              {"redirect_uri", kRedirect},
              {"scope", "user/*.rs"},
              {"code_challenge", Base64UrlEncode(Sha256("v"))},
              {"code_challenge_method", "S256"}};
  auto check = [&](Params p, bool want_redirect, const std::string& want_error) {
    bool redirectable = false;
    std::string err;
    auto r = oauth_->CheckAuthorize(p, "https://ehr.example/fhir", &redirectable, &err);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(redirectable, want_redirect);
    if (want_redirect) {
      EXPECT_EQ(err, want_error) << r.status().message();
    }
  };
  auto with = [&](const std::string& k, const std::string& v) {
    Params p = base;
    p[k] = v;
    return p;
  };
  check(with("client_id", "nope"), false, "");
  check(with("redirect_uri", "https://evil.example/cb"), false, "");
  check(with("code_challenge_method", "plain"), true, "invalid_request");
  check(with("code_challenge", ""), true, "invalid_request");
  check(with("scope", "user/*.cruds"), true, "invalid_scope");
  check(with("scope", "system/*.read"), true, "invalid_scope");
  check(with("aud", "https://other.example/fhir"), true, "invalid_request");
  check(with("response_type", "token"), true, "unsupported_response_type");
}

TEST_P(OAuthServerTest, PatientContext) {
  std::string verifier = RandomToken(40);
  Params p{{"response_type", "code"},
           {"client_id", "growth-chart"},
           {"redirect_uri", kRedirect},
           {"scope", "launch/patient patient/*.read"},
           {"code_challenge", Base64UrlEncode(Sha256(verifier))},
           {"code_challenge_method", "S256"}};
  bool redirectable;
  std::string err;
  auto ar = oauth_->CheckAuthorize(p, "https://ehr.example/fhir", &redirectable, &err);
  ASSERT_TRUE(ar.ok());
  EXPECT_TRUE(ar->wants_patient);
  auto user = accounts_->Get("bs.lan");
  EXPECT_EQ(oauth_->IssueCode(*ar, *user, "", "x").status().code(), Code::kInvalid);
  EXPECT_EQ(oauth_->IssueCode(*ar, *user, "no-such-patient", "x").status().code(), Code::kInvalid);
  // A patient that exists.
  PutResource(*store_, "Patient", "bn-7",
              R"({"resourceType":"Patient","id":"bn-7","meta":{"versionId":"1"}})");
  auto code = oauth_->IssueCode(*ar, *user, "bn-7", "x");
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  auto r = Exchange(*code, verifier);
  ASSERT_EQ(r.status, 200) << json::serialize(r.body);
  EXPECT_EQ(r.body.at("patient").as_string(), "bn-7");
  EXPECT_FALSE(r.body.contains("refresh_token")) << "no offline_access asked";
  auto who = oauth_->PrincipalOf(std::string(r.body.at("access_token").as_string()));
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->patient, "Patient/bn-7");
}

TEST_P(OAuthServerTest, RevokedExpiredAndDisabledTokensStopAtOnce) {
  auto [code, verifier] = Approve("user/*.rs offline_access");
  auto r = Exchange(code, verifier);
  ASSERT_EQ(r.status, 200);
  std::string at(r.body.at("access_token").as_string());
  std::string rt(r.body.at("refresh_token").as_string());
  ASSERT_TRUE(oauth_->PrincipalOf(at).ok());
  EXPECT_TRUE(oauth_->Introspect(at).at("active").as_bool());
  EXPECT_EQ(oauth_->Introspect(at).at("username").as_string(), "bs.lan");
  // Another client cannot revoke it (RFC 7009: silently ignored).
  ASSERT_TRUE(oauth_->Revoke(at, "intruder", "x").ok());
  EXPECT_TRUE(oauth_->PrincipalOf(at).ok());
  // Revoking the refresh token ends its access token too.
  ASSERT_TRUE(oauth_->Revoke(rt, "growth-chart", "x").ok());
  EXPECT_EQ(oauth_->PrincipalOf(at).status().code(), Code::kUnauthenticated);
  EXPECT_FALSE(oauth_->Introspect(at).at("active").as_bool());
  EXPECT_FALSE(oauth_->Introspect(rt).at("active").as_bool());
  // Expiry.
  auto [c2, v2] = Approve("user/*.rs");
  auto r2 = Exchange(c2, v2);
  std::string at2(r2.body.at("access_token").as_string());
  ASSERT_TRUE(oauth_->PrincipalOf(at2).ok());
  clock_.Advance(5 * 60 + 1);
  EXPECT_EQ(oauth_->PrincipalOf(at2).status().code(), Code::kUnauthenticated);
  // A disabled user's tokens stop working.
  clock_.Advance(-(5 * 60 + 1));
  auto [c3, v3] = Approve("user/*.rs");
  std::string at3(Exchange(c3, v3).body.at("access_token").as_string());
  ASSERT_TRUE(oauth_->PrincipalOf(at3).ok());
  ASSERT_TRUE(accounts_->SetDisabled("bs.lan", true).ok());
  EXPECT_EQ(oauth_->PrincipalOf(at3).status().code(), Code::kUnauthenticated);
  // Validated tokens are cached for at most OAuthServer::kTokenCacheSeconds: a token deleted
  // behind this server's back (the CLI, another server on the same PostgreSQL) stops within it.
  ASSERT_TRUE(accounts_->SetDisabled("bs.lan", false).ok());
  auto [c4, v4] = Approve("user/*.rs");
  std::string at4(Exchange(c4, v4).body.at("access_token").as_string());
  ASSERT_TRUE(oauth_->PrincipalOf(at4).ok());
  auto taken = store_->KvTake("at", Sha256Hex(at4));
  ASSERT_TRUE(taken.ok() && *taken);
  EXPECT_TRUE(oauth_->PrincipalOf(at4).ok()) << "still cached";
  clock_.Advance(OAuthServer::kTokenCacheSeconds);
  EXPECT_EQ(oauth_->PrincipalOf(at4).status().code(), Code::kUnauthenticated);
  // And never past the token's own expiry.
  auto [c5, v5] = Approve("user/*.rs");
  std::string at5(Exchange(c5, v5).body.at("access_token").as_string());
  clock_.Advance(5 * 60 - 1);
  ASSERT_TRUE(oauth_->PrincipalOf(at5).ok());
  clock_.Advance(1);
  EXPECT_EQ(oauth_->PrincipalOf(at5).status().code(), Code::kUnauthenticated);
  // Garbage, and tokens one byte off a cached one (the cache is keyed by the token itself).
  auto [c6, v6] = Approve("user/*.rs");
  std::string at6(Exchange(c6, v6).body.at("access_token").as_string());
  ASSERT_TRUE(oauth_->PrincipalOf(at6).ok());  // now cached
  std::string near6 = at6;
  near6.back() = near6.back() == 'A' ? 'B' : 'A';
  for (std::string bad : {std::string(""), std::string("x"), std::string(600, 'a'), at + "x",
                          at6 + "x", at6.substr(0, at6.size() - 1), near6})
    EXPECT_FALSE(oauth_->PrincipalOf(bad).ok());
}

TEST_P(OAuthServerTest, ClientCredentialsWithSignedAssertion) {
  std::string pem = EcKeyPem();
  auto jwk = PublicJwkOfPem(pem, "lis-key");
  ASSERT_TRUE(jwk.ok());
  OAuthClient lis;
  lis.id = "lis";
  lis.name = "Hệ thống xét nghiệm";
  lis.auth_method = "private_key_jwt";
  lis.scopes = {"system/Observation.cruds", "system/Patient.rs"};
  lis.jwks.push_back(*jwk);
  ASSERT_TRUE(oauth_->AddClient(lis).ok());
  int n = 0;
  auto assertion = [&](json::object extra = {}) {
    json::object claims{{"iss", "lis"},
                        {"sub", "lis"},
                        {"aud", kTokenUrl},
                        {"exp", clock_.Seconds() + 240},
                        {"jti", "jti-" + std::to_string(++n)}};
    for (auto& [k, v] : extra) claims[k] = v;
    return *SignJwt(claims, pem, "lis-key");
  };
  auto token = [&](const std::string& a, const std::string& scope) {
    return oauth_->Token(
        {{"grant_type", "client_credentials"},
         {"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
         {"client_assertion", a},
         {"scope", scope}},
        kTokenUrl, "10.1.1.1");
  };
  std::string good = assertion();
  auto r = token(good, "system/Observation.cruds");
  ASSERT_EQ(r.status, 200) << json::serialize(r.body);
  EXPECT_FALSE(r.body.contains("refresh_token"));
  auto who = oauth_->PrincipalOf(std::string(r.body.at("access_token").as_string()));
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->id, "client:lis");
  EXPECT_EQ(who->role, "system");
  EXPECT_EQ(who->client_id, "lis");
  EXPECT_EQ(who->scopes, std::vector<std::string>{"system/Observation.cruds"});
  EXPECT_EQ(Error(token(good, "system/Observation.cruds")), "invalid_client") << "jti replay";
  EXPECT_EQ(Error(token(assertion(), "system/*.cruds")), "invalid_scope") << "escalation";
  EXPECT_EQ(Error(token(assertion(), "user/Observation.rs")), "invalid_scope");
  EXPECT_EQ(Error(token(assertion({{"aud", "https://evil.example/token"}}), "system/Patient.rs")),
            "invalid_client");
  EXPECT_EQ(Error(token(assertion({{"exp", clock_.Seconds() - 120}}), "system/Patient.rs")),
            "invalid_client")
      << "expired";
  EXPECT_EQ(Error(token(assertion({{"exp", clock_.Seconds() + 3600}}), "system/Patient.rs")),
            "invalid_client")
      << "too far ahead";
  EXPECT_EQ(Error(token(assertion({{"sub", "other"}}), "system/Patient.rs")), "invalid_client");
  // Signed by another key.
  json::object claims{{"iss", "lis"},
                      {"sub", "lis"},
                      {"aud", kTokenUrl},
                      {"exp", clock_.Seconds() + 60},
                      {"jti", "x1"}};
  EXPECT_EQ(Error(token(*SignJwt(claims, EcKeyPem(), "lis-key"), "system/Patient.rs")),
            "invalid_client");
  EXPECT_EQ(Error(token("not.a.jwt", "system/Patient.rs")), "invalid_client");
  EXPECT_EQ(Error(token("", "system/Patient.rs")), "invalid_client");
  // A public client cannot use client credentials.
  auto pub = oauth_->Token({{"grant_type", "client_credentials"}, {"client_id", "growth-chart"}},
                           kTokenUrl, "x");
  EXPECT_EQ(Error(pub), "invalid_client");
  EXPECT_EQ(pub.status, 401);
  EXPECT_EQ(Error(oauth_->Token({{"grant_type", "password"}}, kTokenUrl, "x")),
            "unsupported_grant_type");
  EXPECT_EQ(Error(oauth_->Token({}, kTokenUrl, "x")), "invalid_request");
}

TEST_P(OAuthServerTest, ClientRegistrationChecks) {
  OAuthClient c;
  c.id = "x";
  EXPECT_EQ(oauth_->AddClient(c).code(), Code::kInvalid) << "id too short";
  c.id = "app2";
  c.scopes = {"user/*.rs"};
  EXPECT_EQ(oauth_->AddClient(c).code(), Code::kInvalid) << "a public app needs a redirect";
  c.redirect_uris = {"http://evil.example/cb"};
  EXPECT_EQ(oauth_->AddClient(c).code(), Code::kInvalid) << "http only on loopback";
  c.redirect_uris = {"https://app.example/cb"};
  c.scopes = {"user/*.zz"};
  EXPECT_EQ(oauth_->AddClient(c).code(), Code::kInvalid);
  c.scopes = {"user/*.rs"};
  EXPECT_TRUE(oauth_->AddClient(c).ok());
  EXPECT_EQ(oauth_->AddClient(c).code(), Code::kConflict);
  c.id = "sys2";
  c.auth_method = "private_key_jwt";
  c.jwks = json::array{json::object{{"kty", "RSA"}, {"n", "AQAB"}, {"e", "AQAB"}}};
  EXPECT_EQ(oauth_->AddClient(c).code(), Code::kInvalid) << "a 24-bit RSA key";
  auto list = oauth_->ListClients();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
}

std::string BasicAuth(const std::string& id, const std::string& secret) {
  std::string raw = id + ":" + secret;
  std::string b = Base64UrlEncode(raw);
  for (char& c : b) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (b.size() % 4) b += '=';
  return "Basic " + b;
}

// Confidential clients with a server-made secret: client_secret_basic and client_secret_post at
// the token endpoint (codes, refresh, client credentials) and for introspection; only the hash is
// stored; the wrong method, a wrong or missing secret are refused.
TEST_P(OAuthServerTest, ConfidentialClientsWithSecrets) {
  OAuthClient web;
  web.id = "his-web";
  web.auth_method = "client_secret_basic";
  web.redirect_uris = {"https://his.example/cb"};
  web.scopes = {"user/*.rs", "offline_access"};
  std::string secret = OAuthServer::NewClientSecret(web);
  EXPECT_EQ(secret.size(), 43u) << "256 random bits, base64url";
  OAuthClient probe;
  EXPECT_NE(OAuthServer::NewClientSecret(probe), secret);
  ASSERT_TRUE(oauth_->AddClient(web).ok());
  auto raw = store_->KvGet("client", "his-web");
  ASSERT_TRUE(raw.ok() && *raw);
  EXPECT_EQ((*raw)->find(secret), std::string::npos) << "the secret itself is not stored";
  EXPECT_NE((*raw)->find(Sha256Hex(secret)), std::string::npos);
  OAuthClient nohash = web;
  nohash.id = "no-hash";
  nohash.secret_hash.clear();
  EXPECT_EQ(oauth_->AddClient(nohash).code(), Code::kInvalid);

  auto code_for = [&](const std::string& client, const std::string& redirect) {
    std::string verifier = RandomToken(40);
    Params p{{"response_type", "code"},
             {"client_id", client},
             {"redirect_uri", redirect},
             {"scope", "user/*.rs offline_access"},
             {"code_challenge", Base64UrlEncode(Sha256(verifier))},
             {"code_challenge_method", "S256"}};
    bool redirectable = false;
    std::string err;
    auto ar = oauth_->CheckAuthorize(p, "https://ehr.example/fhir", &redirectable, &err);
    EXPECT_TRUE(ar.ok()) << ar.status().ToString();
    auto user = accounts_->Get("bs.lan");
    auto code = oauth_->IssueCode(*ar, *user, "", "x");
    EXPECT_TRUE(code.ok());
    return std::make_pair(*code, verifier);
  };
  auto exchange = [&](const std::pair<std::string, std::string>& cv, Params extra,
                      const std::string& authz, const std::string& redirect) {
    Params f{{"grant_type", "authorization_code"},
             {"code", cv.first},
             {"redirect_uri", redirect},
             {"code_verifier", cv.second}};
    for (auto& [k, v] : extra) f[k] = v;
    return oauth_->Token(f, kTokenUrl, "x", authz);
  };
  const std::string cb = "https://his.example/cb";
  // No secret, a wrong one, the form method for a Basic client: refused (and the code survives
  // none of them being checked first: client authentication comes before the code is used).
  auto cv = code_for("his-web", cb);
  auto none = exchange(cv, {{"client_id", "his-web"}}, "", cb);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(Error(none), "invalid_client");
  EXPECT_EQ(Error(exchange(cv, {}, BasicAuth("his-web", secret + "x"), cb)), "invalid_client");
  EXPECT_EQ(Error(exchange(cv, {{"client_id", "his-web"}, {"client_secret", secret}}, "", cb)),
            "invalid_client")
      << "registered for client_secret_basic";
  EXPECT_EQ(Error(exchange(cv, {{"client_secret", secret}}, BasicAuth("his-web", secret), cb)),
            "invalid_client")
      << "two methods at once";
  EXPECT_EQ(Error(exchange(cv, {}, "Basic !!!", cb)), "invalid_client");
  auto ok = exchange(cv, {}, BasicAuth("his-web", secret), cb);
  ASSERT_EQ(ok.status, 200) << json::serialize(ok.body);
  std::string rt(ok.body.at("refresh_token").as_string());
  std::string at(ok.body.at("access_token").as_string());
  // Refresh needs the secret too.
  EXPECT_EQ(Error(oauth_->Token({{"grant_type", "refresh_token"}, {"refresh_token", rt}}, kTokenUrl,
                                "x")),
            "invalid_client");
  auto r2 = oauth_->Token({{"grant_type", "refresh_token"}, {"refresh_token", rt}}, kTokenUrl, "x",
                          BasicAuth("his-web", secret));
  EXPECT_EQ(r2.status, 200) << json::serialize(r2.body);
  // Introspection by the client itself (HTTP Basic).
  bool authed = false;
  auto caller = oauth_->AuthenticateCaller({}, BasicAuth("his-web", secret), {kTokenUrl}, &authed);
  ASSERT_TRUE(caller.ok());
  EXPECT_TRUE(authed);
  EXPECT_EQ(caller->id, "his-web");
  caller = oauth_->AuthenticateCaller({{"client_id", "his-web"}}, "", {kTokenUrl}, &authed);
  ASSERT_TRUE(caller.ok());
  EXPECT_FALSE(authed) << "client_id alone does not authenticate";

  // client_secret_post, also with client credentials (system scopes).
  OAuthClient sys;
  sys.id = "pacs";
  sys.auth_method = "client_secret_post";
  sys.scopes = {"system/ImagingStudy.cruds"};
  std::string s2 = OAuthServer::NewClientSecret(sys);
  ASSERT_TRUE(oauth_->AddClient(sys).ok());
  auto cc = oauth_->Token({{"grant_type", "client_credentials"},
                           {"client_id", "pacs"},
                           {"client_secret", s2},
                           {"scope", "system/ImagingStudy.cruds"}},
                          kTokenUrl, "x");
  ASSERT_EQ(cc.status, 200) << json::serialize(cc.body);
  auto who = oauth_->PrincipalOf(std::string(cc.body.at("access_token").as_string()));
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->id, "client:pacs");
  EXPECT_EQ(
      Error(oauth_->Token(
          {{"grant_type", "client_credentials"}, {"client_id", "pacs"}, {"client_secret", secret}},
          kTokenUrl, "x")),
      "invalid_client");
  EXPECT_EQ(Error(oauth_->Token({{"grant_type", "client_credentials"}}, kTokenUrl, "x",
                                BasicAuth("pacs", s2))),
            "invalid_client")
      << "registered for client_secret_post";
  // A new secret replaces the old one.
  auto stored = oauth_->GetClient("pacs");
  ASSERT_TRUE(stored.ok());
  std::string s3 = OAuthServer::NewClientSecret(*stored);
  ASSERT_TRUE(oauth_->PutClient(*stored).ok());
  EXPECT_EQ(
      Error(oauth_->Token(
          {{"grant_type", "client_credentials"}, {"client_id", "pacs"}, {"client_secret", s2}},
          kTokenUrl, "x")),
      "invalid_client");
  EXPECT_EQ(
      oauth_
          ->Token(
              {{"grant_type", "client_credentials"}, {"client_id", "pacs"}, {"client_secret", s3}},
              kTokenUrl, "x")
          .status,
      200);
  // Discovery tells the truth.
  auto conf = oauth_->SmartConfiguration("https://ehr.example/auth");
  std::string methods = json::serialize(conf.at("token_endpoint_auth_methods_supported"));
  for (const char* m : {"none", "client_secret_basic", "client_secret_post", "private_key_jwt"})
    EXPECT_NE(methods.find(m), std::string::npos) << m;
}

// RFC 7591: an administrator registers a confidential client whose secret then works; metadata
// is checked strictly (RFC 7591 error codes); open registration takes public apps only; the
// client persists (another OAuthServer over the same store finds it).
TEST_P(OAuthServerTest, DynamicClientRegistration) {
  auto reg = [&](const std::string& text, bool admin = true) {
    return oauth_->RegisterClient(json::parse(text).as_object(), admin, "admin", "10.0.0.1");
  };
  auto r = reg(R"({"client_name":"Cổng bệnh nhân","redirect_uris":["https://portal.example/cb"],
                 "grant_types":["authorization_code","refresh_token"],
                 "token_endpoint_auth_method":"client_secret_post",
                 "scope":"openid fhirUser patient/*.rs launch/patient offline_access"})");
  ASSERT_EQ(r.status, 201) << json::serialize(r.body);
  std::string id(r.body.at("client_id").as_string());
  std::string secret(r.body.at("client_secret").as_string());
  EXPECT_EQ(r.body.at("client_secret_expires_at").as_int64(), 0);
  EXPECT_EQ(r.body.at("token_endpoint_auth_method").as_string(), "client_secret_post");
  EXPECT_EQ(json::serialize(r.body.at("response_types")), R"(["code"])");
  OAuthServer again(*store_, *accounts_, nullptr, clock_);
  auto stored = again.GetClient(id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->registered_by, "admin");
  EXPECT_EQ(stored->secret_hash, Sha256Hex(secret));
  bool authed = false;
  EXPECT_TRUE(again
                  .AuthenticateCaller({{"client_id", id}, {"client_secret", secret}}, "",
                                      {kTokenUrl}, &authed)
                  .ok());
  EXPECT_TRUE(authed);
  EXPECT_FALSE(stored->AllowsGrant("client_credentials"));
  EXPECT_EQ(Audited("client-register"), 1);

  // A system client with a public key (private_key_jwt), default response_types none.
  auto jwk = PublicJwkOfPem(EcKeyPem(), "k1");
  ASSERT_TRUE(jwk.ok());
  auto sys =
      oauth_->RegisterClient(json::object{{"grant_types", json::array{"client_credentials"}},
                                          {"token_endpoint_auth_method", "private_key_jwt"},
                                          {"jwks", json::object{{"keys", json::array{*jwk}}}},
                                          {"scope", "system/Observation.cruds"}},
                             true, "admin", "x");
  ASSERT_EQ(sys.status, 201) << json::serialize(sys.body);
  EXPECT_FALSE(sys.body.contains("client_secret"));

  struct Bad {
    const char* meta;
    const char* error;
    bool admin = true;
  };
  const Bad bad[] = {
      {R"({"redirect_uris":["http://evil.example/cb"],"token_endpoint_auth_method":"none","scope":"user/*.rs"})",
       "invalid_redirect_uri"},
      {R"({"redirect_uris":["https://a.example/cb#frag"],"token_endpoint_auth_method":"none","scope":"user/*.rs"})",
       "invalid_redirect_uri"},
      {R"({"redirect_uris":"https://a.example/cb","token_endpoint_auth_method":"none","scope":"user/*.rs"})",
       "invalid_redirect_uri"},
      {R"({"token_endpoint_auth_method":"none","scope":"user/*.rs"})", "invalid_redirect_uri"},
      {R"({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"none","scope":"user/*.rs","grant_types":["client_credentials"]})",
       "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"none","scope":"system/*.rs"})",
       "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"none"})",
       "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"none","scope":"user/*.zz"})",
       "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"tls_client_auth","scope":"user/*.rs"})",
       "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt","scope":"user/*.rs"})",
       "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt","scope":"user/*.rs","jwks_uri":"https://a.example/jwks"})",
       "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt","scope":"user/*.rs","jwks":{"keys":[{"kty":"EC","crv":"P-384","x":"a","y":"b","d":"secret"}]}})",
       "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_basic","scope":"user/*.rs","jwks":{"keys":[]}})",
       "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"scope":"user/*.rs","response_types":["token"]})",
       "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"scope":"user/*.rs","grant_types":["refresh_token"]})",
       "invalid_client_metadata"},
      {R"({"redirect_uris":["https://a.example/cb"],"scope":"user/*.rs","client_name":7})",
       "invalid_client_metadata"},
      // Open registration: public apps only (the RFC 7591 default method is client_secret_basic).
      {R"({"redirect_uris":["https://a.example/cb"],"scope":"user/*.rs"})",
       "invalid_client_metadata", false},
      {R"({"token_endpoint_auth_method":"client_secret_basic","grant_types":["client_credentials"],"scope":"system/*.rs"})",
       "invalid_client_metadata", false},
  };
  for (const auto& b : bad) {
    auto res = reg(b.meta, b.admin);
    EXPECT_EQ(res.status, 400) << b.meta;
    EXPECT_EQ(Error(res), b.error) << b.meta << " -> " << json::serialize(res.body);
  }
  auto open = reg(R"({"redirect_uris":["http://127.0.0.1:8765/cb"],"token_endpoint_auth_method":
                     "none","scope":"patient/*.rs launch/patient openid fhirUser"})",
                  false);
  ASSERT_EQ(open.status, 201) << json::serialize(open.body);
  EXPECT_FALSE(open.body.contains("client_secret"));
  auto pub = oauth_->GetClient(std::string(open.body.at("client_id").as_string()));
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->registered_by, "open");
  EXPECT_GE(Audited("client-register-refused"), 18);
  auto list = oauth_->ListClients();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 4u) << "nothing half-registered";
}

// OpenID Connect: openid fhirUser profile give an ES256 id_token (iss, sub, aud, nonce, fhirUser
// as a URL) that verifies with the published JWKS; the key persists in the store; no id_token
// without openid.
TEST_P(OAuthServerTest, OpenIdConnectIdToken) {
  std::string verifier = RandomToken(40);
  Params p{{"response_type", "code"},
           {"client_id", "growth-chart"},
           {"redirect_uri", kRedirect},
           {"scope", "openid user/*.rs offline_access"},
           {"nonce", "n-0S6_WzA2Mj"},
           {"aud", "https://ehr.example/fhir"},
           {"code_challenge", Base64UrlEncode(Sha256(verifier))},
           {"code_challenge_method", "S256"}};
  OAuthClient app = *oauth_->GetClient("growth-chart");
  app.scopes.push_back("fhirUser");
  app.scopes.push_back("profile");
  ASSERT_TRUE(oauth_->PutClient(app).ok());
  p["scope"] = "openid fhirUser profile user/*.rs offline_access";
  bool redirectable = false;
  std::string err;
  auto ar = oauth_->CheckAuthorize(p, "https://ehr.example/fhir", &redirectable, &err);
  ASSERT_TRUE(ar.ok()) << ar.status().ToString();
  auto code = oauth_->IssueCode(*ar, *accounts_->Get("bs.lan"), "", "x");
  ASSERT_TRUE(code.ok());
  auto r = Exchange(*code, verifier);
  ASSERT_EQ(r.status, 200) << json::serialize(r.body);
  ASSERT_TRUE(r.body.contains("id_token"));
  auto jwt = ParseJwt(r.body.at("id_token").as_string());
  ASSERT_TRUE(jwt.ok()) << jwt.status().ToString();
  EXPECT_EQ(jwt->alg, "ES256");
  auto jwks = oauth_->Jwks();
  ASSERT_TRUE(jwks.ok());
  const auto& key = jwks->at("keys").as_array()[0].as_object();
  EXPECT_EQ(key.at("kid").as_string(), jwt->kid);
  EXPECT_FALSE(key.contains("d")) << "only the public half is published";
  EXPECT_TRUE(VerifyJwt(*jwt, key).ok());
  const auto& c = jwt->payload;
  EXPECT_EQ(c.at("iss").as_string(), "https://ehr.example/auth");
  EXPECT_EQ(c.at("sub").as_string(), "bs.lan");
  EXPECT_EQ(c.at("aud").as_string(), "growth-chart");
  EXPECT_EQ(c.at("nonce").as_string(), "n-0S6_WzA2Mj");
  EXPECT_EQ(c.at("fhirUser").as_string(), "https://ehr.example/fhir/Practitioner/pr-1");
  EXPECT_EQ(c.at("preferred_username").as_string(), "bs.lan");
  EXPECT_GT(c.at("exp").as_int64(), c.at("iat").as_int64());
  // A tampered payload does not verify.
  Jwt forged = *jwt;
  forged.signing_input[forged.signing_input.size() - 2] ^= 1;
  EXPECT_FALSE(VerifyJwt(forged, key).ok());
  // Refresh: a new id_token, without the nonce.
  auto r2 = oauth_->Token({{"grant_type", "refresh_token"},
                           {"refresh_token", std::string(r.body.at("refresh_token").as_string())}},
                          kTokenUrl, "x");
  ASSERT_EQ(r2.status, 200) << json::serialize(r2.body);
  auto jwt2 = ParseJwt(r2.body.at("id_token").as_string());
  ASSERT_TRUE(jwt2.ok());
  EXPECT_FALSE(jwt2->payload.contains("nonce"));
  EXPECT_TRUE(VerifyJwt(*jwt2, key).ok());
  // The key is kept in the store: another server signs with the same one.
  OAuthServer again(*store_, *accounts_, nullptr, clock_);
  auto jwks2 = again.Jwks();
  ASSERT_TRUE(jwks2.ok());
  EXPECT_EQ(json::serialize(*jwks2), json::serialize(*jwks));
  // No openid, no id_token.
  auto [c2, v2] = Approve("user/*.rs");
  EXPECT_FALSE(Exchange(c2, v2).body.contains("id_token"));
  auto oidc = oauth_->OpenIdConfiguration("https://ehr.example/auth");
  EXPECT_EQ(oidc.at("jwks_uri").as_string(), "https://ehr.example/auth/jwks");
  EXPECT_EQ(oidc.at("issuer").as_string(), "https://ehr.example/auth");
}

// EHR launch: a user's launch context (patient, encounter) is used once, by that user only, and
// gives the token response its patient and encounter; unknown, used, expired, another user's, or
// a launch scope without launch id are refused.
TEST_P(OAuthServerTest, EhrLaunch) {
  PutResource(*store_, "Patient", "bn-9",
              R"({"resourceType":"Patient","id":"bn-9","meta":{"versionId":"1"}})");
  PutResource(*store_, "Encounter", "lk-1",
              R"({"resourceType":"Encounter","id":"lk-1","meta":{"versionId":"1"},)"
              R"("status":"in-progress","subject":{"reference":"Patient/bn-9"}})");
  PutResource(*store_, "Encounter", "lk-2",
              R"({"resourceType":"Encounter","id":"lk-2","meta":{"versionId":"1"},)"
              R"("status":"in-progress","subject":{"reference":"Patient/other"}})");
  UserAccount nurse;
  nurse.name = "dd.mai";
  nurse.role = "nurse";
  ASSERT_TRUE(accounts_->Add(nurse, kPassword).ok());
  OAuthClient app = *oauth_->GetClient("growth-chart");
  app.scopes.push_back("launch");
  ASSERT_TRUE(oauth_->PutClient(app).ok());

  EXPECT_EQ(oauth_->NewLaunch({"bs.lan", "no-such", ""}, "x").status().code(), Code::kInvalid);
  EXPECT_EQ(oauth_->NewLaunch({"bs.lan", "bn-9", "lk-2"}, "x").status().code(), Code::kInvalid)
      << "another patient's encounter";
  EXPECT_EQ(oauth_->NewLaunch({"nobody", "bn-9", ""}, "x").status().code(), Code::kForbidden);
  auto launch = oauth_->NewLaunch({"bs.lan", "Patient/bn-9", "Encounter/lk-1"}, "x");
  ASSERT_TRUE(launch.ok()) << launch.status().ToString();
  EXPECT_EQ(launch->size(), 32u) << "192 random bits";

  auto check = [&](const std::string& scope, const std::string& id, std::string* err) {
    std::string verifier = RandomToken(40);
    Params p{{"response_type", "code"},
             {"client_id", "growth-chart"},
             {"redirect_uri", kRedirect},
             {"scope", scope},
             {"code_challenge", Base64UrlEncode(Sha256(verifier))},
             {"code_challenge_method", "S256"}};
    if (!id.empty()) p["launch"] = id;
    bool redirectable = false;
    auto ar = oauth_->CheckAuthorize(p, "https://ehr.example/fhir", &redirectable, err);
    return std::make_pair(ar, verifier);
  };
  std::string err;
  EXPECT_FALSE(check("launch patient/*.read", "", &err).first.ok());
  EXPECT_EQ(err, "invalid_request") << "launch scope without launch id";
  EXPECT_FALSE(check("patient/*.read", *launch, &err).first.ok());
  EXPECT_EQ(err, "invalid_scope") << "launch id without launch scope";
  EXPECT_FALSE(check("launch patient/*.read", "unknown-launch", &err).first.ok());
  EXPECT_EQ(err, "invalid_request");

  // Another user cannot use it (and the attempt uses it up).
  auto [ar, verifier] = check("launch patient/*.read", *launch, &err);
  ASSERT_TRUE(ar.ok()) << ar.status().ToString();
  EXPECT_FALSE(ar->wants_patient) << "the launch gives the patient";
  auto stolen = oauth_->IssueCode(*ar, *accounts_->Get("dd.mai"), "", "x");
  EXPECT_EQ(stolen.status().code(), Code::kForbidden);
  EXPECT_EQ(oauth_->IssueCode(*ar, *accounts_->Get("bs.lan"), "", "x").status().code(),
            Code::kInvalid)
      << "used";

  auto l2 = oauth_->NewLaunch({"bs.lan", "bn-9", "lk-1"}, "x");
  ASSERT_TRUE(l2.ok());
  auto [ar2, v2] = check("launch patient/*.read", *l2, &err);
  ASSERT_TRUE(ar2.ok());
  auto code = oauth_->IssueCode(*ar2, *accounts_->Get("bs.lan"), "", "x");
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(oauth_->IssueCode(*ar2, *accounts_->Get("bs.lan"), "", "x").status().code(),
            Code::kInvalid)
      << "single use";
  auto r = Exchange(*code, v2);
  ASSERT_EQ(r.status, 200) << json::serialize(r.body);
  EXPECT_EQ(r.body.at("patient").as_string(), "bn-9");
  EXPECT_EQ(r.body.at("encounter").as_string(), "lk-1");
  auto who = oauth_->PrincipalOf(std::string(r.body.at("access_token").as_string()));
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->patient, "Patient/bn-9");
  auto intro = oauth_->Introspect(std::string(r.body.at("access_token").as_string()));
  EXPECT_EQ(intro.at("encounter").as_string(), "lk-1");

  // Expired.
  auto l3 = oauth_->NewLaunch({"bs.lan", "bn-9", ""}, "x");
  ASSERT_TRUE(l3.ok());
  clock_.Advance(OAuthServer::kLaunchSeconds + 1);
  EXPECT_FALSE(check("launch patient/*.read", *l3, &err).first.ok());
  EXPECT_EQ(err, "invalid_request");
  EXPECT_GE(Audited("launch-context"), 3);
  auto conf = oauth_->SmartConfiguration("https://ehr.example/auth");
  std::string caps = json::serialize(conf.at("capabilities"));
  for (const char* cap :
       {"launch-ehr", "context-ehr-patient", "client-confidential-symmetric", "sso-openid-connect"})
    EXPECT_NE(caps.find(cap), std::string::npos) << cap;
  EXPECT_EQ(conf.at("registration_endpoint").as_string(), "https://ehr.example/auth/register");
}

// The HTTP side (api/OAuthApi) under TLS: the session cookie is __Host-, Secure, HttpOnly,
// SameSite=Lax; discovery and the endpoints are https URLs; the login page is Vietnamese first and
// framing is refused.
TEST_P(OAuthServerTest, HttpLoginUnderTlsSetsASecureCookie) {
  api::OAuthApiOptions opts;
  opts.tls = true;
  auto demo = MakeDemoAuthenticator();
  api::OAuthApi http(*oauth_, *demo, opts);
  api::HttpRequest disc;
  disc.method = "GET";
  disc.path = "/fhir/.well-known/smart-configuration";
  disc.headers = {{"host", "ehr.example"}};
  api::HttpResponse dres;
  ASSERT_TRUE(http.Handle(disc, dres));
  EXPECT_EQ(dres.status, 200);
  EXPECT_NE(dres.body.find("\"token_endpoint\":\"https://ehr.example/auth/token\""),
            std::string::npos)
      << dres.body;
  std::string verifier = RandomToken(40);
  std::string q = "response_type=code&client_id=growth-chart&redirect_uri=" +
                  std::string("http%3A%2F%2F127.0.0.1%3A9999%2Fcallback") +
                  "&scope=user%2F*.rs&state=s&code_challenge=" + Base64UrlEncode(Sha256(verifier)) +
                  "&code_challenge_method=S256";
  api::HttpRequest get;
  get.method = "GET";
  get.path = "/auth/authorize";
  get.query = q;
  get.headers = {{"host", "ehr.example"}};
  api::HttpResponse page;
  ASSERT_TRUE(http.Handle(get, page));
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("Đăng nhập"), std::string::npos);
  auto header = [](const api::HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return std::string();
  };
  EXPECT_EQ(header(page, "X-Frame-Options"), "DENY");
  api::HttpRequest post = get;
  post.method = "POST";
  post.query.clear();
  post.body = q + "&action=login&username=bs.lan&password=" +
              std::string("C%C3%A2y-%C4%91a-gi%E1%BA%BFng-n%C6%B0%E1%BB%9Bc-77");
  post.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
  api::HttpResponse consent;
  ASSERT_TRUE(http.Handle(post, consent));
  EXPECT_EQ(consent.status, 200) << consent.body;
  std::string cookie = header(consent, "Set-Cookie");
  EXPECT_EQ(cookie.rfind("__Host-benhan_sid=", 0), 0u) << cookie;
  for (const char* attr : {"; Secure", "; HttpOnly", "; SameSite=Lax", "; Path=/"})
    EXPECT_NE(cookie.find(attr), std::string::npos) << attr << " in " << cookie;
  EXPECT_NE(consent.body.find("Cho phép truy cập"), std::string::npos);
  // Not a route of OAuthApi: left to the FHIR API.
  api::HttpRequest other;
  other.method = "GET";
  other.path = "/fhir/Patient";
  api::HttpResponse ores;
  EXPECT_FALSE(http.Handle(other, ores));
}

// The HTTP side of registration, client secrets and discovery: POST /auth/register without a
// token is 401 unless auth.open_registration is on, and then takes public apps only; a failed
// HTTP Basic client authentication answers with a Basic challenge; openid-configuration and jwks
// are served without a token.
TEST_P(OAuthServerTest, HttpRegistrationSecretsAndDiscovery) {
  struct NoTokens final : Authenticator {
    Result<Principal> Authenticate(std::string_view) const override {
      return Status(Code::kUnauthenticated, "no");
    }
  } nobody;
  auto call = [](api::OAuthApi& http, std::string method, std::string path, std::string body,
                 std::vector<std::pair<std::string, std::string>> headers) {
    api::HttpRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.body = std::move(body);
    r.headers = std::move(headers);
    r.headers.emplace_back("host", "ehr.example");
    api::HttpResponse res;
    EXPECT_TRUE(http.Handle(r, res));
    return res;
  };
  auto header = [](const api::HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return std::string();
  };
  const std::string pub =
      R"({"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"none",)"
      R"("scope":"patient/*.rs launch/patient"})";
  const std::string conf =
      R"({"redirect_uris":["https://app.example/cb"],"scope":"user/*.rs"})";  // secret_basic
  const std::vector<std::pair<std::string, std::string>> json_ct{
      {"content-type", "application/json"}};
  {
    api::OAuthApi closed(*oauth_, nobody, {});
    auto r = call(closed, "POST", "/auth/register", pub, json_ct);
    EXPECT_EQ(r.status, 401);
    EXPECT_NE(r.body.find("invalid_token"), std::string::npos);
  }
  AuthSettings open_settings;
  open_settings.open_registration = true;
  Accounts open_accounts(*store_, open_settings, clock_);
  OAuthServer open_oauth(*store_, open_accounts, nullptr, clock_);
  api::OAuthApi open(open_oauth, nobody, {});
  auto refused = call(open, "POST", "/auth/register", conf, json_ct);
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("invalid_client_metadata"), std::string::npos);
  EXPECT_EQ(call(open, "POST", "/auth/register", pub, {}).status, 400) << "not JSON";
  auto made = call(open, "POST", "/auth/register", pub, json_ct);
  EXPECT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(made.body.find("client_secret\""), std::string::npos);
  EXPECT_EQ(header(made, "Cache-Control"), "no-store");
  // HTTP Basic with a wrong secret: 401 invalid_client and a Basic challenge.
  OAuthClient web;
  web.id = "his-web";
  web.auth_method = "client_secret_basic";
  web.redirect_uris = {"https://his.example/cb"};
  web.scopes = {"user/*.rs"};
  std::string secret = OAuthServer::NewClientSecret(web);
  ASSERT_TRUE(oauth_->AddClient(web).ok());
  auto bad = call(open, "POST", "/auth/token", "grant_type=authorization_code&code=x",
                  {{"content-type", "application/x-www-form-urlencoded"},
                   {"authorization", BasicAuth("his-web", secret + "x")}});
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(header(bad, "WWW-Authenticate").rfind("Basic", 0), 0u);
  EXPECT_NE(bad.body.find("invalid_client"), std::string::npos);
  // Introspection with the client's own secret.
  auto intro = call(open, "POST", "/auth/introspect", "token=nothing",
                    {{"content-type", "application/x-www-form-urlencoded"},
                     {"authorization", BasicAuth("his-web", secret)}});
  EXPECT_EQ(intro.status, 200) << intro.body;
  EXPECT_EQ(intro.body, R"({"active":false})");
  // Discovery and keys without a token.
  auto oidc = call(open, "GET", "/.well-known/openid-configuration", "", {});
  EXPECT_EQ(oidc.status, 200);
  EXPECT_NE(oidc.body.find(R"("jwks_uri":"http://ehr.example/auth/jwks")"), std::string::npos)
      << oidc.body;
  auto jwks = call(open, "GET", "/auth/jwks", "", {});
  EXPECT_EQ(jwks.status, 200);
  EXPECT_NE(jwks.body.find(R"("crv":"P-256")"), std::string::npos) << jwks.body;
  // Launch contexts need a user's token.
  EXPECT_EQ(call(open, "POST", "/auth/launch", R"({"patient":"x"})", json_ct).status, 401);
}

INSTANTIATE_TEST_SUITE_P(Backends, OAuthServerTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace benhan::security
