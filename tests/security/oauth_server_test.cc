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
#include <filesystem>
#include <mutex>

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
  EXPECT_EQ(Error(other), "invalid_grant");
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
  ASSERT_TRUE(store::RunInTransaction(*store_, [](store::Transaction& t) -> Status {
                std::string json =
                    R"({"resourceType":"Patient","id":"bn-7","meta":{"versionId":"1"}})";
                store::NewVersion v;
                v.type = "Patient";
                v.id = "bn-7";
                v.version = 1;
                v.last_updated_us = SystemClock().NowMicros();
                v.method = "POST";
                v.json = json;
                fhir::IndexEntries none;
                v.index = &none;
                return t.Put(v).status();
              }).ok());
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
  // Garbage.
  for (std::string bad : {std::string(""), std::string("x"), std::string(600, 'a'), at + "x"})
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

INSTANTIATE_TEST_SUITE_P(Backends, OAuthServerTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace benhan::security
