// FHIRPath lexer and Pratt parser (grammar of FHIRPath N1,
// http://hl7.org/fhirpath/N1/grammar.html).
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include <boost/json/serialize.hpp>

#include "fhir/fhirpath/ast.h"
#include "fhir/fhirpath/fhirpath.h"

namespace benhan::fhir::fhirpath {

using internal::Kind;
using internal::Node;
using internal::Op;

namespace {

// Parse errors unwind the recursive descent to Compile(), which turns them into a Status.
struct SyntaxError {
  size_t pos;
  std::string reason;
};

enum class Tok : uint8_t {
  kEnd,
  kIdent,      // identifier or keyword (text)
  kDelimited,  // `identifier`
  kString,     // 'string' (unescaped in text)
  kNumber,     // 123 or 1.5 (text)
  kDate,       // @... (text without '@')
  kVariable,   // %name (text without '%')
  kSpecial,    // $this, $index, $total (text without '$')
  kPunct,      // operator / punctuation (text)
};

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;
  size_t pos = 0;
};

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  Token Next() {
    SkipSpace();
    Token t;
    t.pos = i_;
    if (i_ >= s_.size()) return t;
    char c = s_[i_];
    if (IsIdentStart(c)) {
      size_t b = i_;
      while (i_ < s_.size() && IsIdentChar(s_[i_])) ++i_;
      t.kind = Tok::kIdent;
      t.text = std::string(s_.substr(b, i_ - b));
      return t;
    }
    if (c == '`') {
      t.kind = Tok::kDelimited;
      t.text = Quoted('`');
      return t;
    }
    if (c == '\'') {
      t.kind = Tok::kString;
      t.text = Quoted('\'');
      return t;
    }
    if (IsDigit(c)) {
      size_t b = i_;
      while (i_ < s_.size() && IsDigit(s_[i_])) ++i_;
      if (i_ + 1 < s_.size() && s_[i_] == '.' && IsDigit(s_[i_ + 1])) {
        ++i_;
        while (i_ < s_.size() && IsDigit(s_[i_])) ++i_;
      }
      t.kind = Tok::kNumber;
      t.text = std::string(s_.substr(b, i_ - b));
      return t;
    }
    if (c == '@') {
      ++i_;
      t.kind = Tok::kDate;
      t.text = DateText(t.pos);
      return t;
    }
    if (c == '%') {
      ++i_;
      t.kind = Tok::kVariable;
      if (i_ < s_.size() && s_[i_] == '`') {
        t.text = Quoted('`');
      } else if (i_ < s_.size() && s_[i_] == '\'') {
        t.text = Quoted('\'');
      } else if (i_ < s_.size() && IsIdentStart(s_[i_])) {
        size_t b = i_;
        while (i_ < s_.size() && (IsIdentChar(s_[i_]) || s_[i_] == '-')) ++i_;
        t.text = std::string(s_.substr(b, i_ - b));
      } else {
        throw SyntaxError{t.pos, "expected a variable name after '%'"};
      }
      return t;
    }
    if (c == '$') {
      ++i_;
      size_t b = i_;
      while (i_ < s_.size() && IsIdentChar(s_[i_])) ++i_;
      t.kind = Tok::kSpecial;
      t.text = std::string(s_.substr(b, i_ - b));
      if (t.text != "this" && t.text != "index" && t.text != "total") {
        throw SyntaxError{t.pos, "unknown special variable '$" + t.text + "'"};
      }
      return t;
    }
    static const char* const kTwo[] = {"<=", ">=", "!=", "!~"};
    for (const char* p : kTwo) {
      if (s_.substr(i_, 2) == p) {
        i_ += 2;
        t.kind = Tok::kPunct;
        t.text = p;
        return t;
      }
    }
    if (std::string_view("().,[]{}+-*/&|<>=~").find(c) != std::string_view::npos) {
      ++i_;
      t.kind = Tok::kPunct;
      t.text = std::string(1, c);
      return t;
    }
    throw SyntaxError{i_, std::string("unexpected character '") + c + "'"};
  }

 private:
  void SkipSpace() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f') {
        ++i_;
      } else if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '/') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '*') {
        size_t e = s_.find("*/", i_ + 2);
        if (e == std::string_view::npos) throw SyntaxError{i_, "unterminated comment"};
        i_ = e + 2;
      } else {
        break;
      }
    }
  }

  std::string Quoted(char q) {
    size_t start = i_;
    ++i_;
    std::string out;
    while (true) {
      if (i_ >= s_.size()) throw SyntaxError{start, "unterminated quoted text"};
      char c = s_[i_++];
      if (c == q) break;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= s_.size()) throw SyntaxError{start, "unterminated quoted text"};
      char e = s_[i_++];
      switch (e) {
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case '\'':
          out.push_back('\'');
          break;
        case '"':
          out.push_back('"');
          break;
        case '`':
          out.push_back('`');
          break;
        case 'u': {
          if (i_ + 4 > s_.size()) throw SyntaxError{i_ - 2, "bad \\u escape"};
          uint32_t cp = 0;
          for (int k = 0; k < 4; ++k) {
            char h = s_[i_++];
            cp <<= 4;
            if (h >= '0' && h <= '9')
              cp |= static_cast<uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f')
              cp |= static_cast<uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F')
              cp |= static_cast<uint32_t>(h - 'A' + 10);
            else
              throw SyntaxError{i_ - 1, "bad \\u escape"};
          }
          AppendUtf8(&out, cp);
          break;
        }
        default:
          throw SyntaxError{i_ - 2, std::string("unknown escape '\\") + e + "'"};
      }
    }
    return out;
  }

  size_t Digits(size_t max) {
    size_t n = 0;
    while (i_ < s_.size() && n < max && IsDigit(s_[i_])) ++i_, ++n;
    return n;
  }

  // Time part after 'T' (already consumed): HH(:mm(:ss(.fff)?)?)?
  void TimePart(size_t pos) {
    if (Digits(2) != 2) return;
    if (i_ + 2 < s_.size() + 0 && s_[i_] == ':' && i_ + 1 < s_.size() && IsDigit(s_[i_ + 1])) {
      ++i_;
      if (Digits(2) != 2) throw SyntaxError{pos, "bad time literal"};
      if (i_ < s_.size() && s_[i_] == ':' && i_ + 1 < s_.size() && IsDigit(s_[i_ + 1])) {
        ++i_;
        if (Digits(2) != 2) throw SyntaxError{pos, "bad time literal"};
        if (i_ + 1 < s_.size() && s_[i_] == '.' && IsDigit(s_[i_ + 1])) {
          ++i_;
          Digits(9);
        }
      }
    }
  }

  void ZonePart(size_t pos) {
    if (i_ < s_.size() && s_[i_] == 'Z') {
      ++i_;
    } else if (i_ + 5 < s_.size() + 0 + 1 && i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-') &&
               i_ + 1 < s_.size() && IsDigit(s_[i_ + 1])) {
      ++i_;
      if (Digits(2) != 2 || i_ >= s_.size() || s_[i_] != ':')
        throw SyntaxError{pos, "bad time zone"};
      ++i_;
      if (Digits(2) != 2) throw SyntaxError{pos, "bad time zone"};
    }
  }

  std::string DateText(size_t pos) {
    size_t b = i_;
    if (i_ < s_.size() && s_[i_] == 'T') {
      ++i_;
      if (i_ >= s_.size() || !IsDigit(s_[i_])) throw SyntaxError{pos, "bad time literal"};
      TimePart(pos);
      size_t before = i_;
      ZonePart(pos);
      if (i_ != before) throw SyntaxError{pos, "a time literal cannot have a time zone"};
      return std::string(s_.substr(b, i_ - b));
    }
    if (Digits(4) != 4) throw SyntaxError{pos, "bad date literal"};
    if (i_ + 1 < s_.size() && s_[i_] == '-' && IsDigit(s_[i_ + 1])) {
      ++i_;
      if (Digits(2) != 2) throw SyntaxError{pos, "bad date literal"};
      if (i_ + 1 < s_.size() && s_[i_] == '-' && IsDigit(s_[i_ + 1])) {
        ++i_;
        if (Digits(2) != 2) throw SyntaxError{pos, "bad date literal"};
      }
    }
    if (i_ < s_.size() && s_[i_] == 'T') {
      ++i_;
      TimePart(pos);
      ZonePart(pos);
    }
    return std::string(s_.substr(b, i_ - b));
  }

  std::string_view s_;
  size_t i_ = 0;
};

// Binding powers: higher binds tighter.
int InfixPower(const Token& t, Op* op) {
  if (t.kind == Tok::kPunct) {
    const std::string& s = t.text;
    if (s == "*") return *op = Op::kMul, 80;
    if (s == "/") return *op = Op::kDiv, 80;
    if (s == "+") return *op = Op::kPlus, 70;
    if (s == "-") return *op = Op::kMinus, 70;
    if (s == "&") return *op = Op::kConcat, 70;
    if (s == "|") return *op = Op::kUnion, 50;
    if (s == "<") return *op = Op::kLt, 40;
    if (s == "<=") return *op = Op::kLe, 40;
    if (s == ">") return *op = Op::kGt, 40;
    if (s == ">=") return *op = Op::kGe, 40;
    if (s == "=") return *op = Op::kEq, 30;
    if (s == "!=") return *op = Op::kNe, 30;
    if (s == "~") return *op = Op::kEquiv, 30;
    if (s == "!~") return *op = Op::kNotEquiv, 30;
    return 0;
  }
  if (t.kind == Tok::kIdent) {
    const std::string& s = t.text;
    if (s == "div") return *op = Op::kIntDiv, 80;
    if (s == "mod") return *op = Op::kMod, 80;
    if (s == "is" || s == "as") return *op = Op::kNone, 60;
    if (s == "in") return *op = Op::kIn, 20;
    if (s == "contains") return *op = Op::kContains, 20;
    if (s == "and") return *op = Op::kAnd, 15;
    if (s == "or") return *op = Op::kOr, 10;
    if (s == "xor") return *op = Op::kXor, 10;
    if (s == "implies") return *op = Op::kImplies, 5;
  }
  return 0;
}

constexpr int kUnaryPower = 90;

bool IsCalendarUnit(std::string_view u) {
  static const char* const kUnits[] = {
      "year", "years", "month",  "months",  "week",   "weeks",   "day",         "days",
      "hour", "hours", "minute", "minutes", "second", "seconds", "millisecond", "milliseconds"};
  for (const char* k : kUnits) {
    if (u == k) return true;
  }
  return false;
}

class Parser {
 public:
  explicit Parser(std::string_view s) : lex_(s) { Advance(); }

  std::unique_ptr<Node> ParseAll() {
    auto n = Expr(0);
    if (cur_.kind != Tok::kEnd) throw SyntaxError{cur_.pos, "unexpected '" + cur_.text + "'"};
    return n;
  }

 private:
  void Advance() { cur_ = lex_.Next(); }
  bool IsPunct(const char* p) const { return cur_.kind == Tok::kPunct && cur_.text == p; }
  void Expect(const char* p) {
    if (!IsPunct(p)) {
      throw SyntaxError{cur_.pos, std::string("expected '") + p + "'" +
                                      (cur_.kind == Tok::kEnd ? " at end of expression"
                                                              : " but found '" + cur_.text + "'")};
    }
    Advance();
  }

  static std::unique_ptr<Node> Make(Kind k, size_t pos) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    n->pos = static_cast<uint32_t>(pos);
    return n;
  }

  std::unique_ptr<Node> Expr(int min_power) {
    if (++depth_ > 400) throw SyntaxError{cur_.pos, "expression nested too deeply"};
    std::unique_ptr<Node> left;
    if (IsPunct("+") || IsPunct("-")) {
      size_t pos = cur_.pos;
      Op op = cur_.text == "+" ? Op::kPlus : Op::kMinus;
      Advance();
      auto operand = Expr(kUnaryPower);
      left = Make(Kind::kUnary, pos);
      left->op = op;
      left->args.push_back(std::move(operand));
    } else {
      left = Term();
    }
    left = Postfix(std::move(left));
    while (true) {
      Op op = Op::kNone;
      int power = InfixPower(cur_, &op);
      if (power == 0 || power <= min_power) break;
      Token t = cur_;
      Advance();
      if (t.kind == Tok::kIdent && (t.text == "is" || t.text == "as")) {
        auto n = Make(t.text == "is" ? Kind::kIs : Kind::kAs, t.pos);
        n->args.push_back(std::move(left));
        n->type = TypeSpec();
        left = std::move(n);
        continue;
      }
      auto right = Expr(power);
      auto n = Make(Kind::kBinary, t.pos);
      n->op = op;
      n->args.push_back(std::move(left));
      n->args.push_back(std::move(right));
      left = std::move(n);
    }
    --depth_;
    return left;
  }

  internal::TypeName TypeSpec() {
    internal::TypeName tn;
    std::string first = Identifier("a type name");
    if (IsPunct(".")) {
      Advance();
      tn.ns = first;
      tn.name = Identifier("a type name");
    } else {
      tn.name = first;
    }
    return tn;
  }

  std::string Identifier(const char* what) {
    if (cur_.kind != Tok::kIdent && cur_.kind != Tok::kDelimited) {
      throw SyntaxError{cur_.pos, std::string("expected ") + what};
    }
    std::string s = cur_.text;
    Advance();
    return s;
  }

  std::unique_ptr<Node> Postfix(std::unique_ptr<Node> left) {
    while (true) {
      if (IsPunct(".")) {
        Advance();
        auto inv = Invocation();
        auto n = Make(Kind::kInvoke, inv->pos);
        n->args.push_back(std::move(left));
        n->args.push_back(std::move(inv));
        left = std::move(n);
      } else if (IsPunct("[")) {
        size_t pos = cur_.pos;
        Advance();
        auto idx = Expr(0);
        Expect("]");
        auto n = Make(Kind::kIndexer, pos);
        n->args.push_back(std::move(left));
        n->args.push_back(std::move(idx));
        left = std::move(n);
      } else {
        return left;
      }
    }
  }

  // identifier | function call | $this/$index/$total
  std::unique_ptr<Node> Invocation() {
    if (cur_.kind == Tok::kSpecial) {
      auto n = Make(cur_.text == "this"    ? Kind::kThis
                    : cur_.text == "index" ? Kind::kIndex
                                           : Kind::kTotal,
                    cur_.pos);
      Advance();
      return n;
    }
    if (cur_.kind != Tok::kIdent && cur_.kind != Tok::kDelimited) {
      throw SyntaxError{cur_.pos, cur_.kind == Tok::kEnd
                                      ? "expected a name at end of expression"
                                      : "expected a name, found '" + cur_.text + "'"};
    }
    bool delimited = cur_.kind == Tok::kDelimited;
    size_t pos = cur_.pos;
    std::string name = cur_.text;
    Advance();
    if (!delimited && IsPunct("(")) {
      Advance();
      auto n = Make(Kind::kFunction, pos);
      n->name = name;
      n->fn = internal::FunctionId(name);
      if (n->fn < 0) throw SyntaxError{pos, "unknown function '" + name + "'"};
      bool type_arg = name == "is" || name == "as" || name == "ofType";
      if (!IsPunct(")")) {
        if (type_arg) {
          n->type = TypeSpec();
        } else {
          while (true) {
            n->args.push_back(Expr(0));
            if (IsPunct(",")) {
              Advance();
              continue;
            }
            break;
          }
        }
      }
      Expect(")");
      int mn = 0, mx = 0;
      internal::FunctionArity(n->fn, &mn, &mx);
      int count = type_arg ? (n->type.name.empty() ? 0 : 1) : static_cast<int>(n->args.size());
      if (count < mn || count > mx) {
        throw SyntaxError{pos, "function '" + name + "' takes " +
                                   (mn == mx ? std::to_string(mn)
                                             : std::to_string(mn) + " to " + std::to_string(mx)) +
                                   " argument(s), got " + std::to_string(count)};
      }
      return n;
    }
    auto n = Make(Kind::kMember, pos);
    n->name = name;
    return n;
  }

  std::unique_ptr<Node> Term() {
    const Token t = cur_;
    switch (t.kind) {
      case Tok::kEnd:
        throw SyntaxError{t.pos, "unexpected end of expression"};
      case Tok::kString: {
        Advance();
        auto n = Make(Kind::kLiteral, t.pos);
        n->literal = Item::Computed(boost::json::value(t.text), "String");
        return n;
      }
      case Tok::kNumber: {
        Advance();
        auto n = Make(Kind::kLiteral, t.pos);
        bool is_decimal = t.text.find('.') != std::string::npos;
        // A quantity: number followed by a unit string or a calendar duration keyword.
        if (cur_.kind == Tok::kString || (cur_.kind == Tok::kIdent && IsCalendarUnit(cur_.text))) {
          boost::json::object q;
          q["value"] = is_decimal ? boost::json::value(std::strtod(t.text.c_str(), nullptr))
                                  : boost::json::value(std::strtoll(t.text.c_str(), nullptr, 10));
          q["unit"] = cur_.text;
          Advance();
          n->literal = Item::Computed(boost::json::value(std::move(q)), "Quantity");
          return n;
        }
        if (is_decimal) {
          int scale = static_cast<int>(t.text.size() - t.text.find('.') - 1);
          n->literal = Item::Decimal(std::strtod(t.text.c_str(), nullptr), scale);
        } else {
          errno = 0;
          long long v = std::strtoll(t.text.c_str(), nullptr, 10);
          if (errno == ERANGE) throw SyntaxError{t.pos, "integer literal out of range"};
          n->literal = Item::Computed(boost::json::value(static_cast<int64_t>(v)), "Integer");
        }
        return n;
      }
      case Tok::kDate: {
        Advance();
        auto n = Make(Kind::kLiteral, t.pos);
        std::string text = t.text;
        const char* type = "Date";
        if (!text.empty() && text[0] == 'T') {
          type = "Time";
          text = text.substr(1);
        } else if (text.find('T') != std::string::npos) {
          type = "DateTime";
          if (text.back() == 'T') text.pop_back();
        }
        n->literal = Item::Computed(boost::json::value(text), type);
        return n;
      }
      case Tok::kVariable: {
        Advance();
        auto n = Make(Kind::kVariable, t.pos);
        n->name = t.text;
        return n;
      }
      case Tok::kPunct:
        if (t.text == "(") {
          Advance();
          auto n = Expr(0);
          Expect(")");
          return n;
        }
        if (t.text == "{") {
          Advance();
          Expect("}");
          return Make(Kind::kEmpty, t.pos);
        }
        throw SyntaxError{t.pos, "unexpected '" + t.text + "'"};
      case Tok::kIdent:
        if (t.text == "true" || t.text == "false") {
          Advance();
          auto n = Make(Kind::kLiteral, t.pos);
          n->literal = Item::Computed(boost::json::value(t.text == "true"), "Boolean");
          return n;
        }
        return Invocation();
      case Tok::kDelimited:
      case Tok::kSpecial:
        return Invocation();
    }
    throw SyntaxError{t.pos, "unexpected token"};
  }

  Lexer lex_;
  Token cur_;
  int depth_ = 0;
};

std::string LineCol(std::string_view text, size_t pos) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", col " + std::to_string(col);
}

}  // namespace

Expression::Expression(std::string text, std::unique_ptr<Node> root)
    : text_(std::move(text)), root_(std::move(root)) {}
Expression::~Expression() = default;

std::string Expression::DebugString() const { return internal::DebugString(*root_); }

Result<std::shared_ptr<const Expression>> Compile(std::string_view text) {
  try {
    Parser p(text);
    auto root = p.ParseAll();
    return std::shared_ptr<const Expression>(new Expression(std::string(text), std::move(root)));
  } catch (const SyntaxError& e) {
    return Status(Code::kInvalid,
                  "FHIRPath syntax error at " + std::to_string(e.pos) + " (" +
                      LineCol(text, e.pos) + "): " + e.reason,
                  std::string(text));
  }
}

Result<std::shared_ptr<const Expression>> CompileCached(std::string_view text) {
  struct Cache {
    std::shared_mutex mu;
    std::unordered_map<std::string, std::shared_ptr<const Expression>> map;  // GUARDED_BY(mu)
  };
  static Cache* cache = new Cache();  // never destroyed: usable during static destruction
  {
    std::shared_lock lock(cache->mu);
    auto it = cache->map.find(std::string(text));
    if (it != cache->map.end()) return it->second;
  }
  ASSIGN_OR_RETURN(auto expr, Compile(text));
  std::unique_lock lock(cache->mu);
  if (cache->map.size() > 100000) cache->map.clear();  // bound memory with untrusted input
  auto [it, inserted] = cache->map.emplace(std::string(text), expr);
  return it->second;
}

namespace internal {

std::string DebugString(const Node& n) {
  auto arg = [&](size_t i) {
    return i < n.args.size() ? DebugString(*n.args[i]) : std::string("?");
  };
  switch (n.kind) {
    case Kind::kEmpty:
      return "{}";
    case Kind::kLiteral:
      return boost::json::serialize(n.literal.json());
    case Kind::kMember:
      return n.name;
    case Kind::kFunction: {
      std::string s = n.name + "(";
      if (!n.type.name.empty()) s += (n.type.ns.empty() ? "" : n.type.ns + ".") + n.type.name;
      for (size_t i = 0; i < n.args.size(); ++i) s += (i ? ", " : "") + DebugString(*n.args[i]);
      return s + ")";
    }
    case Kind::kThis:
      return "$this";
    case Kind::kIndex:
      return "$index";
    case Kind::kTotal:
      return "$total";
    case Kind::kVariable:
      return "%" + n.name;
    case Kind::kInvoke:
      return arg(0) + "." + arg(1);
    case Kind::kIndexer:
      return arg(0) + "[" + arg(1) + "]";
    case Kind::kUnary:
      return std::string(n.op == Op::kMinus ? "-" : "+") + "(" + arg(0) + ")";
    case Kind::kBinary: {
      static const char* const kOps[] = {"?",  "+",  "-",        "*",   "/",  "div", "mod",    "&",
                                         "|",  "<",  "<=",       ">",   ">=", "=",   "!=",     "~",
                                         "!~", "in", "contains", "and", "or", "xor", "implies"};
      return "(" + arg(0) + " " + kOps[static_cast<int>(n.op)] + " " + arg(1) + ")";
    }
    case Kind::kIs:
    case Kind::kAs:
      return "(" + arg(0) + (n.kind == Kind::kIs ? " is " : " as ") +
             (n.type.ns.empty() ? "" : n.type.ns + ".") + n.type.name + ")";
  }
  return "?";
}

}  // namespace internal
}  // namespace benhan::fhir::fhirpath
