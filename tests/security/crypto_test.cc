// security/ primitives: TOTP against the RFC 6238 test vectors, base32/base64url, Argon2id, the
// password rules, SMART scope parsing (v1 and v2), JWT parsing and RS384/ES384 verification with
// keys made by OpenSSL here.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>

#include "security/accounts.h"
#include "security/auth.h"
#include "security/credentials.h"
#include "security/crypto.h"
#include "security/oauth.h"
#include "security/scopes.h"

namespace benhan::security {
namespace {
namespace json = boost::json;

// The administrator token authenticates; a token found once is remembered (not hashed again) but
// tokens that differ from it in one character, in length or in case of the scheme's payload stay
// refused, before and after it was remembered.
TEST(TokenAuthenticator, RememberedTokensStayExact) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "benhan-auth-XXXXXX").string();
  std::string dir = mkdtemp(tmpl.data());
  std::string created;
  auto a = TokenAuthenticator::Open(dir, &created);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_FALSE(created.empty());
  std::string token;
  std::ifstream(created) >> token;
  ASSERT_EQ(token.size(), 64u);
  std::string other = token;
  other[63] = other[63] == 'a' ? 'b' : 'a';
  for (int round = 0; round < 3; ++round) {
    auto p = (*a)->Authenticate("Bearer " + token);
    ASSERT_TRUE(p.ok()) << round;
    EXPECT_EQ(p->role, "admin");
    EXPECT_TRUE(p->all_access);
    EXPECT_EQ((*a)->Authenticate("bearer " + token + " ").ok(),
              true);  // scheme case, trailing space
    EXPECT_EQ((*a)->Authenticate("Bearer " + other).status().code(), Code::kUnauthenticated);
    EXPECT_EQ((*a)->Authenticate("Bearer " + token.substr(0, 63)).status().code(),
              Code::kUnauthenticated);
    EXPECT_EQ((*a)->Authenticate("Bearer " + token + "0").status().code(), Code::kUnauthenticated);
    EXPECT_EQ((*a)->Authenticate("").status().code(), Code::kUnauthenticated);
  }
  std::filesystem::remove_all(dir);
}

// RFC 6238 Appendix B: seeds are ASCII "1234567890" repeated to the hash's length.
TEST(Totp, Rfc6238Vectors) {
  const std::string s1 = "12345678901234567890";
  const std::string s256 = "12345678901234567890123456789012";
  const std::string s512 = "1234567890123456789012345678901234567890123456789012345678901234";
  struct V {
    int64_t t;
    const char* sha1;
    const char* sha256;
    const char* sha512;
  };
  const V vectors[] = {{59, "94287082", "46119246", "90693936"},
                       {1111111109, "07081804", "68084774", "25091201"},
                       {1111111111, "14050471", "67062674", "99943326"},
                       {1234567890, "89005924", "91819424", "93441116"},
                       {2000000000, "69279037", "90698825", "38618901"},
                       {20000000000, "65353130", "77737706", "47863826"}};
  for (const auto& v : vectors) {
    EXPECT_EQ(TotpCode(s1, v.t, 8, "SHA1"), v.sha1) << v.t;
    EXPECT_EQ(TotpCode(s256, v.t, 8, "SHA256"), v.sha256) << v.t;
    EXPECT_EQ(TotpCode(s512, v.t, 8, "SHA512"), v.sha512) << v.t;
  }
}

TEST(Totp, VerifyWindowAndReplay) {
  const std::string secret = "12345678901234567890";
  int64_t now = 1234567890;
  std::string code = TotpCode(secret, now);
  EXPECT_EQ(code.size(), 6u);
  EXPECT_TRUE(VerifyTotp(secret, code, now + 30));   // one step of skew
  EXPECT_FALSE(VerifyTotp(secret, code, now + 95));  // three steps later
  int64_t last = 0;
  EXPECT_TRUE(VerifyTotp(secret, code, now, &last));
  EXPECT_FALSE(VerifyTotp(secret, code, now, &last)) << "a code works once";
  EXPECT_FALSE(VerifyTotp(secret, "12345", now));
  EXPECT_EQ(TotpUri("bs.an", "12345678901234567890"),
            "otpauth://totp/benhan:bs.an?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=benhan&"
            "algorithm=SHA1&digits=6&period=30");
}

TEST(Codecs, Base64UrlAndBase32) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
    EXPECT_EQ(*Base64UrlDecode(Base64UrlEncode(s)), s);
    EXPECT_EQ(*Base32Decode(Base32Encode(s)), s);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base32Encode("foobar"), "MZXW6YTBOI");
  EXPECT_FALSE(Base64UrlDecode("ab+c"));  // not the URL alphabet
  EXPECT_FALSE(Base64UrlDecode("a"));     // a lone character
  EXPECT_FALSE(Base32Decode("MZ1"));
}

TEST(Passwords, Argon2idHashAndVerify) {
  auto h = HashPassword("Bệnh-viện Bạch Mai 2026");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *h;
  EXPECT_TRUE(VerifyPassword("Bệnh-viện Bạch Mai 2026", *h));
  EXPECT_FALSE(VerifyPassword("Bệnh-viện Bạch Mai 2025", *h));
  EXPECT_FALSE(VerifyPassword("x", "$argon2i$garbage"));
  auto h2 = HashPassword("Bệnh-viện Bạch Mai 2026");
  EXPECT_NE(*h, *h2) << "salted";
}

TEST(Passwords, Rules) {
  EXPECT_TRUE(CheckPasswordRules("binh", "ngựa-vằn-xanh-42", 10).ok());
  EXPECT_EQ(CheckPasswordRules("an", "short", 10).code(), Code::kInvalid);
  EXPECT_EQ(CheckPasswordRules("bacsi.lan", "xxBACSI.LANxx", 10).code(), Code::kInvalid);
  EXPECT_EQ(CheckPasswordRules("an", "matkhau123", 8).code(), Code::kInvalid);
  EXPECT_EQ(CheckPasswordRules("an", "aaaaaaaaaaaa", 10).code(), Code::kInvalid);
  // Length counts characters, not bytes: 9 Vietnamese letters are too short for 10.
  EXPECT_EQ(CheckPasswordRules("an", "ằằằằằằằằb", 10).code(), Code::kInvalid);
  EXPECT_EQ(CheckPasswordRules("an", std::string(300, 'k') + "1", 10).code(), Code::kInvalid);
}

TEST(Scopes, V1AndV2) {
  auto a = ParseSmartScope("patient/*.read");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->context, "patient");
  EXPECT_EQ(a->type, "*");
  EXPECT_TRUE(a->r && a->s && !a->c && !a->u && !a->d && !a->v2);
  auto b = ParseSmartScope("user/Observation.rs");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->r && b->s && !b->c && b->v2);
  EXPECT_EQ(b->type, "Observation");
  auto w = ParseSmartScope("user/Patient.write");
  ASSERT_TRUE(w);
  EXPECT_TRUE(w->c && w->u && w->d && !w->r);
  auto all = ParseSmartScope("system/*.*");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->c && all->r && all->u && all->d && all->s);
  auto q = ParseSmartScope("patient/Observation.rs?category=laboratory");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->query, "category=laboratory");
  for (const char* bad : {"patient/*.sr", "patient/*.rr", "patient/*.x", "admin/*.read",
                          "patient/.read", "patient/observation.read", "patient/*.", "openid",
                          "launch/patient", "patient/*.read?x=1", "patient/Obs-x.r"}) {
    EXPECT_FALSE(ParseSmartScope(bad)) << bad;
  }
  EXPECT_TRUE(ScopeCovers("patient/*.read", "patient/Observation.rs"));
  EXPECT_TRUE(ScopeCovers("patient/*.read", "patient/Observation.read"));
  EXPECT_FALSE(ScopeCovers("patient/*.read", "patient/Observation.cruds"));
  EXPECT_FALSE(ScopeCovers("patient/*.read", "user/Observation.r"));
  EXPECT_FALSE(ScopeCovers("patient/Observation.rs", "patient/*.rs"));
  EXPECT_TRUE(ScopeCovers("offline_access", "offline_access"));
  EXPECT_TRUE(ScopesPermit({"user/Observation.rs"}, "Observation", 's'));
  EXPECT_FALSE(ScopesPermit({"user/Observation.rs"}, "Observation", 'u'));
  EXPECT_FALSE(ScopesPermit({"user/Observation.rs"}, "Patient", 'r'));
  EXPECT_TRUE(ScopesPermit({"patient/*.read"}, "Condition", 'r', "patient"));
  EXPECT_FALSE(ScopesPermit({"patient/*.read"}, "Condition", 'r', "user"));
  EXPECT_EQ(SplitScopes("  a  b a c "), (std::vector<std::string>{"a", "b", "c"}));
}

std::string MakeKeyPem(bool ec) {
  EVP_PKEY* k = ec ? EVP_EC_gen("P-384") : EVP_RSA_gen(2048);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(k);
  return pem;
}

class JwtTest : public ::testing::TestWithParam<bool> {};

TEST_P(JwtTest, SignVerifyAndTamper) {
  bool ec = GetParam();
  std::string pem = MakeKeyPem(ec);
  auto jwk = PublicJwkOfPem(pem, "k1");
  ASSERT_TRUE(jwk.ok()) << jwk.status().ToString();
  EXPECT_EQ(jwk->at("alg").as_string(), ec ? "ES384" : "RS384");
  EXPECT_FALSE(jwk->contains("d"));
  json::object payload{{"iss", "lis"}, {"sub", "lis"}, {"exp", 2000000000}};
  auto token = SignJwt(payload, pem, "k1");
  ASSERT_TRUE(token.ok());
  auto jwt = ParseJwt(*token);
  ASSERT_TRUE(jwt.ok()) << jwt.status().ToString();
  EXPECT_EQ(jwt->alg, ec ? "ES384" : "RS384");
  EXPECT_EQ(jwt->kid, "k1");
  EXPECT_EQ(jwt->payload.at("iss").as_string(), "lis");
  EXPECT_TRUE(VerifyJwt(*jwt, *jwk).ok());
  // Another key of the same kind does not verify it.
  auto other = PublicJwkOfPem(MakeKeyPem(ec), "k2");
  EXPECT_EQ(VerifyJwt(*jwt, *other).code(), Code::kUnauthenticated);
  // A changed payload does not verify.
  std::string t = *token;
  size_t d1 = t.find('.');
  size_t d2 = t.find('.', d1 + 1);
  std::string forged = t.substr(0, d1 + 1) +
                       Base64UrlEncode(R"({"iss":"lis","sub":"lis","exp":2000000001})") +
                       t.substr(d2);
  auto fj = ParseJwt(forged);
  ASSERT_TRUE(fj.ok());
  EXPECT_EQ(VerifyJwt(*fj, *jwk).code(), Code::kUnauthenticated);
  // The algorithm must fit the key: an HS256 or RS384-on-EC header is refused.
  Jwt swapped = *jwt;
  swapped.alg = ec ? "RS384" : "ES384";
  EXPECT_NE(VerifyJwt(swapped, *jwk).code(), Code::kOk);
  swapped.alg = "HS256";
  EXPECT_EQ(VerifyJwt(swapped, *jwk).code(), Code::kInvalid);
}

INSTANTIATE_TEST_SUITE_P(RsaAndEc, JwtTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "ES384" : "RS384"; });

TEST(Jwt, MalformedTokensAreRefused) {
  const std::string h = Base64UrlEncode(R"({"alg":"RS384"})");
  const std::string p = Base64UrlEncode(R"({"iss":"x"})");
  for (const std::string& bad :
       {std::string(""), std::string("abc"), std::string("a.b"), std::string("a.b.c.d"),
        h + "." + p + ".", h + "." + p + ".!!", "!!." + p + ".c2ln",
        Base64UrlEncode("[1]") + "." + p + ".c2ln", h + "." + Base64UrlEncode("nope") + ".c2ln",
        Base64UrlEncode(R"({"alg":"none"})") + "." + p + ".c2ln",
        Base64UrlEncode(R"({"typ":"JWT"})") + "." + p + ".c2ln",
        h + "." + std::string(20000, 'A') + ".c2ln"}) {
    auto r = ParseJwt(bad);
    EXPECT_FALSE(r.ok()) << bad.substr(0, 80);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalid);
    }
  }
}

TEST(Accounts, LinkFromPractitionerRole) {
  UserAccount u;
  u.name = "bs.an";
  ASSERT_TRUE(LinkPractitionerRole(u, R"({"resourceType":"PractitionerRole","id":"r1",
      "practitioner":{"reference":"Practitioner/p9"},"organization":{"reference":"Organization/khoa-nhi"},
      "code":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/practitioner-role","code":"doctor"}]}]})")
                  .ok());
  EXPECT_EQ(u.practitioner, "Practitioner/p9");
  EXPECT_EQ(u.department, "Organization/khoa-nhi");
  EXPECT_EQ(u.role, "doctor");
  UserAccount keep;
  keep.role = "department-head";
  ASSERT_TRUE(LinkPractitionerRole(keep, R"({"resourceType":"PractitionerRole",
      "practitioner":{"reference":"Practitioner/p9"},"code":[{"coding":[{"code":"nurse"}]}]})")
                  .ok());
  EXPECT_EQ(keep.role, "department-head") << "an explicit role wins";
  EXPECT_EQ(keep.department, "");
  EXPECT_EQ(LinkPractitionerRole(u, R"({"resourceType":"Practitioner","id":"p9"})").code(),
            Code::kInvalid);
  EXPECT_EQ(LinkPractitionerRole(u, R"({"resourceType":"PractitionerRole"})").code(),
            Code::kInvalid);
  EXPECT_EQ(LinkPractitionerRole(u, "not json").code(), Code::kInvalid);
}

TEST(Bearer, HeaderParsing) {
  EXPECT_EQ(*BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(*BearerToken("bearer  abc \r"), "abc");
  EXPECT_FALSE(BearerToken("Basic abc"));
  EXPECT_FALSE(BearerToken("Bearer "));
  EXPECT_FALSE(BearerToken(""));
}

}  // namespace
}  // namespace benhan::security
