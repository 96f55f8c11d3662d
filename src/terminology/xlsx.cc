#include "terminology/xlsx.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>

namespace benhan::terminology {
namespace {

constexpr size_t kMaxEntry = 256u << 20;

uint32_t U16(std::string_view b, size_t at) {
  return static_cast<uint8_t>(b[at]) | static_cast<uint8_t>(b[at + 1]) << 8;
}
uint32_t U32(std::string_view b, size_t at) { return U16(b, at) | U16(b, at + 2) << 16; }

struct Entry {
  std::string name;
  uint32_t method = 0, comp_size = 0, size = 0, local_offset = 0;
};

Result<std::vector<Entry>> Directory(std::string_view z) {
  if (z.size() < 22) return Status(Code::kInvalid, "XLSX: not a ZIP file (too short)");
  size_t eocd = std::string_view::npos;
  size_t lowest = z.size() > 22 + 65535 ? z.size() - 22 - 65535 : 0;
  for (size_t i = z.size() - 22 + 1; i-- > lowest;) {
    if (U32(z, i) == 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string_view::npos) return Status(Code::kInvalid, "XLSX: no ZIP directory");
  uint32_t count = U16(z, eocd + 10), dir_size = U32(z, eocd + 12), dir_off = U32(z, eocd + 16);
  if (dir_off > z.size() || dir_size > z.size() - dir_off)
    return Status(Code::kInvalid, "XLSX: ZIP directory out of the file");
  std::vector<Entry> out;
  size_t p = dir_off, end = dir_off + dir_size;
  for (uint32_t i = 0; i < count; ++i) {
    if (p + 46 > end || U32(z, p) != 0x02014b50)
      return Status(Code::kInvalid, "XLSX: damaged ZIP directory");
    Entry e;
    e.method = U16(z, p + 10);
    e.comp_size = U32(z, p + 20);
    e.size = U32(z, p + 24);
    uint32_t name_len = U16(z, p + 28), extra = U16(z, p + 30), comment = U16(z, p + 32);
    e.local_offset = U32(z, p + 42);
    if (p + 46 + name_len > end) return Status(Code::kInvalid, "XLSX: damaged ZIP directory");
    e.name = std::string(z.substr(p + 46, name_len));
    p += 46 + static_cast<size_t>(name_len) + extra + comment;
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::string> Extract(std::string_view z, const Entry& e) {
  size_t p = e.local_offset;
  if (p + 30 > z.size() || U32(z, p) != 0x04034b50)
    return Status(Code::kInvalid, "XLSX: damaged ZIP entry " + e.name);
  size_t data = p + 30 + U16(z, p + 26) + U16(z, p + 28);
  if (data > z.size() || e.comp_size > z.size() - data)
    return Status(Code::kInvalid, "XLSX: ZIP entry " + e.name + " out of the file");
  std::string_view in = z.substr(data, e.comp_size);
  if (e.size > kMaxEntry) return Status(Code::kTooLarge, "XLSX: " + e.name + " is too large");
  if (e.method == 0) return std::string(in);
  if (e.method != 8) return Status(Code::kInvalid, "XLSX: unsupported compression in " + e.name);
  z_stream s{};
  if (inflateInit2(&s, -MAX_WBITS) != Z_OK) return Status(Code::kInternal, "zlib init failed");
  std::string out;
  out.resize(std::min<size_t>(std::max<size_t>(e.size, 4096), kMaxEntry));
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (s.total_out == out.size()) {
      if (out.size() >= kMaxEntry) {
        inflateEnd(&s);
        return Status(Code::kTooLarge, "XLSX: " + e.name + " inflates beyond 256 MiB");
      }
      out.resize(std::min(out.size() * 2, kMaxEntry));
    }
    s.next_out = reinterpret_cast<Bytef*>(out.data() + s.total_out);
    s.avail_out = static_cast<uInt>(out.size() - s.total_out);
    rc = inflate(&s, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&s);
      return Status(Code::kInvalid, "XLSX: bad compressed data in " + e.name);
    }
    if (rc == Z_OK && s.avail_in == 0 && s.avail_out > 0) {
      inflateEnd(&s);
      return Status(Code::kInvalid, "XLSX: truncated compressed data in " + e.name);
    }
  }
  out.resize(s.total_out);
  inflateEnd(&s);
  return out;
}

// XML text with entities decoded.
std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out.push_back('&');
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    uint32_t cp = 0;
    if (ent == "amp")
      cp = '&';
    else if (ent == "lt")
      cp = '<';
    else if (ent == "gt")
      cp = '>';
    else if (ent == "quot")
      cp = '"';
    else if (ent == "apos")
      cp = '\'';
    else if (ent.size() > 1 && ent[0] == '#') {
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string digits(ent.substr(hex ? 2 : 1));
      char* end = nullptr;
      unsigned long v = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
      if (!digits.empty() && *end == '\0' && v > 0 && v <= 0x10FFFF && (v < 0xD800 || v > 0xDFFF))
        cp = static_cast<uint32_t>(v);
    }
    if (cp == 0) {
      out.push_back('&');
      continue;
    }
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    i = semi;
  }
  return out;
}

// The concatenated text of every <t ...>...</t> inside `xml` (rich-text runs included).
std::string TextOf(std::string_view xml) {
  std::string out;
  size_t p = 0;
  while ((p = xml.find("<t", p)) != std::string_view::npos) {
    if (p + 2 >= xml.size() || (xml[p + 2] != '>' && xml[p + 2] != ' ')) {
      p += 2;
      continue;
    }
    size_t gt = xml.find('>', p);
    if (gt == std::string_view::npos) break;
    if (xml[gt - 1] == '/') {  // <t/>
      p = gt + 1;
      continue;
    }
    size_t close = xml.find("</t>", gt);
    if (close == std::string_view::npos) break;
    out += Unescape(xml.substr(gt + 1, close - gt - 1));
    p = close + 4;
  }
  return out;
}

// The value of attribute `name` in the start tag `tag` ("" if absent).
std::string_view Attr(std::string_view tag, std::string_view name) {
  size_t p = 0;
  while ((p = tag.find(name, p)) != std::string_view::npos) {
    bool start_ok = p > 0 && (tag[p - 1] == ' ' || tag[p - 1] == '\t' || tag[p - 1] == '\n');
    size_t eq = p + name.size();
    if (start_ok && eq + 1 < tag.size() && tag[eq] == '=' &&
        (tag[eq + 1] == '"' || tag[eq + 1] == '\'')) {
      char q = tag[eq + 1];
      size_t end = tag.find(q, eq + 2);
      if (end == std::string_view::npos) return {};
      return tag.substr(eq + 2, end - eq - 2);
    }
    p = eq;
  }
  return {};
}

// Column index of a cell reference ("C12" -> 2), or -1.
long Column(std::string_view ref) {
  long col = 0;
  size_t i = 0;
  for (; i < ref.size() && ref[i] >= 'A' && ref[i] <= 'Z'; ++i) {
    col = col * 26 + (ref[i] - 'A' + 1);
    if (col > 16384) return -1;
  }
  return i == 0 ? -1 : col - 1;
}

}  // namespace

bool LooksLikeXlsx(std::string_view b) { return b.size() >= 4 && b.substr(0, 4) == "PK\x03\x04"; }

Result<std::vector<std::vector<std::string>>> ReadXlsxFirstSheet(std::string_view z) {
  ASSIGN_OR_RETURN(std::vector<Entry> dir, Directory(z));
  const Entry* sheet = nullptr;
  const Entry* strings = nullptr;
  long best = -1;
  for (const auto& e : dir) {
    if (e.name == "xl/sharedStrings.xml") strings = &e;
    const std::string prefix = "xl/worksheets/sheet";
    if (e.name.rfind(prefix, 0) == 0 && e.name.size() > prefix.size() + 4 &&
        e.name.ends_with(".xml")) {
      long n = std::strtol(e.name.c_str() + prefix.size(), nullptr, 10);
      if (!sheet || n < best) {
        sheet = &e;
        best = n;
      }
    }
  }
  if (!sheet) return Status(Code::kInvalid, "XLSX: the workbook has no worksheet");
  std::vector<std::string> shared;
  if (strings) {
    ASSIGN_OR_RETURN(std::string xml, Extract(z, *strings));
    size_t p = 0;
    while ((p = xml.find("<si", p)) != std::string::npos) {
      size_t end = xml.find("</si>", p);
      size_t self = xml.find("/>", p);
      size_t gt = xml.find('>', p);
      if (gt != std::string::npos && self != std::string::npos && self + 1 == gt) {  // <si/>
        shared.emplace_back();
        p = gt + 1;
        continue;
      }
      if (end == std::string::npos) break;
      shared.push_back(TextOf(std::string_view(xml).substr(p, end - p)));
      p = end + 5;
    }
  }
  ASSIGN_OR_RETURN(std::string xml, Extract(z, *sheet));
  std::string_view x = xml;
  std::vector<std::vector<std::string>> rows;
  size_t p = 0;
  while ((p = x.find("<row", p)) != std::string_view::npos) {
    size_t row_end = x.find("</row>", p);
    size_t tag_end = x.find('>', p);
    if (tag_end == std::string_view::npos) break;
    if (x[tag_end - 1] == '/' || row_end == std::string_view::npos) {  // <row/>: empty row
      rows.emplace_back();
      p = tag_end + 1;
      continue;
    }
    std::vector<std::string> row;
    size_t c = tag_end;
    while ((c = x.find("<c", c)) != std::string_view::npos && c < row_end) {
      if (c + 2 >= x.size() || (x[c + 2] != ' ' && x[c + 2] != '>' && x[c + 2] != '/')) {
        c += 2;
        continue;
      }
      size_t cgt = x.find('>', c);
      if (cgt == std::string_view::npos || cgt > row_end) break;
      std::string_view tag = x.substr(c, cgt - c);
      std::string value;
      size_t next = cgt + 1;
      if (x[cgt - 1] != '/') {
        size_t cend = x.find("</c>", cgt);
        if (cend == std::string_view::npos || cend > row_end) break;
        std::string_view body = x.substr(cgt + 1, cend - cgt - 1);
        std::string_view type = Attr(tag, "t");
        if (type == "inlineStr") {
          value = TextOf(body);
        } else {
          size_t v = body.find("<v>");
          size_t ve = body.find("</v>");
          if (v != std::string_view::npos && ve != std::string_view::npos && ve > v)
            value = Unescape(body.substr(v + 3, ve - v - 3));
          if (type == "s") {
            char* end = nullptr;
            unsigned long i = std::strtoul(value.c_str(), &end, 10);
            value = !value.empty() && *end == '\0' && i < shared.size() ? shared[i] : std::string();
          }
        }
        next = cend + 4;
      }
      long col = Column(Attr(tag, "r"));
      if (col < 0) col = static_cast<long>(row.size());
      if (static_cast<size_t>(col) >= row.size()) row.resize(static_cast<size_t>(col) + 1);
      row[static_cast<size_t>(col)] = std::move(value);
      c = next;
    }
    rows.push_back(std::move(row));
    p = row_end + 6;
  }
  return rows;
}

}  // namespace benhan::terminology
