#include "terminology/vn_address.h"

#include <boost/json.hpp>

#include "core/text.h"
#include "terminology/concept_index.h"

namespace json = boost::json;

namespace benhan::terminology {
namespace {

// Resolution 202/2025/QH15 (in force 2025-07-01); codes as in Decision 19/2025/QĐ-TTg.
const std::vector<ProvinceInfo> kCurrent = {
    {"01", "Hà Nội", "Ha Noi", true, "01"},
    {"04", "Cao Bằng", "Cao Bang", false, "04"},
    {"08", "Tuyên Quang", "Tuyen Quang", false, "08"},
    {"11", "Điện Biên", "Dien Bien", false, "11"},
    {"12", "Lai Châu", "Lai Chau", false, "12"},
    {"14", "Sơn La", "Son La", false, "14"},
    {"15", "Lào Cai", "Lao Cai", false, "15"},
    {"19", "Thái Nguyên", "Thai Nguyen", false, "19"},
    {"20", "Lạng Sơn", "Lang Son", false, "20"},
    {"22", "Quảng Ninh", "Quang Ninh", false, "22"},
    {"24", "Bắc Ninh", "Bac Ninh", false, "24"},
    {"25", "Phú Thọ", "Phu Tho", false, "25"},
    {"31", "Hải Phòng", "Hai Phong", true, "31"},
    {"33", "Hưng Yên", "Hung Yen", false, "33"},
    {"37", "Ninh Bình", "Ninh Binh", false, "37"},
    {"38", "Thanh Hóa", "Thanh Hoa", false, "38"},
    {"40", "Nghệ An", "Nghe An", false, "40"},
    {"42", "Hà Tĩnh", "Ha Tinh", false, "42"},
    {"44", "Quảng Trị", "Quang Tri", false, "44"},
    {"46", "Huế", "Hue", true, "46"},
    {"48", "Đà Nẵng", "Da Nang", true, "48"},
    {"51", "Quảng Ngãi", "Quang Ngai", false, "51"},
    {"52", "Gia Lai", "Gia Lai", false, "52"},
    {"56", "Khánh Hòa", "Khanh Hoa", false, "56"},
    {"66", "Đắk Lắk", "Dak Lak", false, "66"},
    {"68", "Lâm Đồng", "Lam Dong", false, "68"},
    {"75", "Đồng Nai", "Dong Nai", false, "75"},
    {"79", "Hồ Chí Minh", "Ho Chi Minh", true, "79"},
    {"80", "Tây Ninh", "Tay Ninh", false, "80"},
    {"82", "Đồng Tháp", "Dong Thap", false, "82"},
    {"86", "Vĩnh Long", "Vinh Long", false, "86"},
    {"91", "An Giang", "An Giang", false, "91"},
    {"92", "Cần Thơ", "Can Tho", true, "92"},
    {"96", "Cà Mau", "Ca Mau", false, "96"},
};

// The 63 units before 2025-07-01 and the current unit each is part of (Resolution 202/2025/QH15).
const std::vector<ProvinceInfo> kLegacy = {
    {"01", "Hà Nội", "Ha Noi", true, "01"},
    {"02", "Hà Giang", "Ha Giang", false, "08"},
    {"04", "Cao Bằng", "Cao Bang", false, "04"},
    {"06", "Bắc Kạn", "Bac Kan", false, "19"},
    {"08", "Tuyên Quang", "Tuyen Quang", false, "08"},
    {"10", "Lào Cai", "Lao Cai", false, "15"},
    {"11", "Điện Biên", "Dien Bien", false, "11"},
    {"12", "Lai Châu", "Lai Chau", false, "12"},
    {"14", "Sơn La", "Son La", false, "14"},
    {"15", "Yên Bái", "Yen Bai", false, "15"},
    {"17", "Hòa Bình", "Hoa Binh", false, "25"},
    {"19", "Thái Nguyên", "Thai Nguyen", false, "19"},
    {"20", "Lạng Sơn", "Lang Son", false, "20"},
    {"22", "Quảng Ninh", "Quang Ninh", false, "22"},
    {"24", "Bắc Giang", "Bac Giang", false, "24"},
    {"25", "Phú Thọ", "Phu Tho", false, "25"},
    {"26", "Vĩnh Phúc", "Vinh Phuc", false, "25"},
    {"27", "Bắc Ninh", "Bac Ninh", false, "24"},
    {"30", "Hải Dương", "Hai Duong", false, "31"},
    {"31", "Hải Phòng", "Hai Phong", true, "31"},
    {"33", "Hưng Yên", "Hung Yen", false, "33"},
    {"34", "Thái Bình", "Thai Binh", false, "33"},
    {"35", "Hà Nam", "Ha Nam", false, "37"},
    {"36", "Nam Định", "Nam Dinh", false, "37"},
    {"37", "Ninh Bình", "Ninh Binh", false, "37"},
    {"38", "Thanh Hóa", "Thanh Hoa", false, "38"},
    {"40", "Nghệ An", "Nghe An", false, "40"},
    {"42", "Hà Tĩnh", "Ha Tinh", false, "42"},
    {"44", "Quảng Bình", "Quang Binh", false, "44"},
    {"45", "Quảng Trị", "Quang Tri", false, "44"},
    {"46", "Thừa Thiên Huế", "Thua Thien Hue", false, "46"},
    {"48", "Đà Nẵng", "Da Nang", true, "48"},
    {"49", "Quảng Nam", "Quang Nam", false, "48"},
    {"51", "Quảng Ngãi", "Quang Ngai", false, "51"},
    {"52", "Bình Định", "Binh Dinh", false, "52"},
    {"54", "Phú Yên", "Phu Yen", false, "66"},
    {"56", "Khánh Hòa", "Khanh Hoa", false, "56"},
    {"58", "Ninh Thuận", "Ninh Thuan", false, "56"},
    {"60", "Bình Thuận", "Binh Thuan", false, "68"},
    {"62", "Kon Tum", "Kon Tum", false, "51"},
    {"64", "Gia Lai", "Gia Lai", false, "52"},
    {"66", "Đắk Lắk", "Dak Lak", false, "66"},
    {"67", "Đắk Nông", "Dak Nong", false, "68"},
    {"68", "Lâm Đồng", "Lam Dong", false, "68"},
    {"70", "Bình Phước", "Binh Phuoc", false, "75"},
    {"72", "Tây Ninh", "Tay Ninh", false, "80"},
    {"74", "Bình Dương", "Binh Duong", false, "79"},
    {"75", "Đồng Nai", "Dong Nai", false, "75"},
    {"77", "Bà Rịa - Vũng Tàu", "Ba Ria - Vung Tau", false, "79"},
    {"79", "Hồ Chí Minh", "Ho Chi Minh", true, "79"},
    {"80", "Long An", "Long An", false, "80"},
    {"82", "Tiền Giang", "Tien Giang", false, "82"},
    {"83", "Bến Tre", "Ben Tre", false, "86"},
    {"84", "Trà Vinh", "Tra Vinh", false, "86"},
    {"86", "Vĩnh Long", "Vinh Long", false, "86"},
    {"87", "Đồng Tháp", "Dong Thap", false, "82"},
    {"89", "An Giang", "An Giang", false, "91"},
    {"91", "Kiên Giang", "Kien Giang", false, "91"},
    {"92", "Cần Thơ", "Can Tho", true, "92"},
    {"93", "Hậu Giang", "Hau Giang", false, "92"},
    {"94", "Sóc Trăng", "Soc Trang", false, "92"},
    {"95", "Bạc Liêu", "Bac Lieu", false, "96"},
    {"96", "Cà Mau", "Ca Mau", false, "96"},
};

// Other names people write for a unit (keys as UnitNameKey gives them), by code.
struct Alias {
  const char* code;
  const char* key;
};
const Alias kCurrentAliases[] = {{"79", "hcm"},       {"79", "tphcm"}, {"79", "sai gon"},
                                 {"79", "hochiminh"}, {"01", "hanoi"}, {"46", "thua thien hue"}};
const Alias kLegacyAliases[] = {{"79", "hcm"}, {"79", "tphcm"},           {"79", "sai gon"},
                                {"46", "hue"}, {"77", "ba ria vung tau"}, {"01", "hanoi"}};

// Prefixes of the unit type, folded, longest first.
const char* const kPrefixes[] = {"thanh pho truc thuoc trung uong ",
                                 "thanh pho ",
                                 "tinh ",
                                 "tp ",
                                 "phuong ",
                                 "dac khu ",
                                 "thi tran ",
                                 "xa ",
                                 "p ",
                                 "x ",
                                 "tt "};

std::string Str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::string Msg(const std::string& vi, const std::string& en) { return vi + " / " + en; }

const ProvinceInfo* ByName(const std::vector<ProvinceInfo>& list, const Alias* aliases, size_t n,
                           std::string_view name) {
  std::string key = UnitNameKey(name);
  if (key.empty()) return nullptr;
  for (const auto& p : list)
    if (UnitNameKey(p.name) == key) return &p;
  for (size_t i = 0; i < n; ++i) {
    if (key != aliases[i].key) continue;
    for (const auto& p : list)
      if (std::string_view(p.code) == aliases[i].code) return &p;
  }
  return nullptr;
}

std::shared_ptr<const CodeSystemVersion> Build(bool legacy) {
  auto cs = std::make_shared<CodeSystemVersion>();
  cs->url = legacy ? kLegacyProvinceSystem : kProvinceSystem;
  cs->value_set = legacy ? kLegacyProvinceValueSet : kProvinceValueSet;
  cs->version = "2025";
  cs->builtin = true;
  if (legacy) {
    cs->name = "VNProvinceLegacy";
    cs->title =
        "Danh mục 63 tỉnh, thành phố trước ngày 01/07/2025 / the 63 provinces before 2025-07-01";
    cs->valid_to = kReorganisationDate;
  } else {
    cs->name = "VNProvince";
    cs->title =
        "Danh mục 34 tỉnh, thành phố từ ngày 01/07/2025 (Nghị quyết 202/2025/QH15) / the 34 "
        "provinces and cities since 2025-07-01";
    cs->valid_from = kReorganisationDate;
  }
  for (const auto& p : legacy ? kLegacy : kCurrent) {
    Concept c;
    c.code = p.code;
    c.display = ProvinceDisplay(p);
    c.display_en = std::string(p.name_en) + (p.city ? " City" : " Province");
    if (p.city) {
      c.properties.emplace_back("alias", std::string("TP ") + p.name);
      c.properties.emplace_back("alias", std::string("TP. ") + p.name);
    }
    for (const auto& a :
         legacy ? std::vector<Alias>(std::begin(kLegacyAliases), std::end(kLegacyAliases))
                : std::vector<Alias>(std::begin(kCurrentAliases), std::end(kCurrentAliases)))
      if (std::string_view(a.code) == p.code) c.properties.emplace_back("alias", a.key);
    c.properties.emplace_back("type", p.city ? "thành phố trực thuộc trung ương" : "tỉnh");
    if (legacy) c.properties.emplace_back("current", p.current);
    cs->concepts.push_back(std::move(c));
  }
  cs->Build();
  return cs;
}

// The element path of extension `k` of address `i`.
std::string ExtPath(size_t i, size_t k) {
  return "Patient.address[" + std::to_string(i) + "].extension[" + std::to_string(k) +
         "].valueCoding.code";
}

// The ward concept named `name` (UnitNameKey equality), in province `province` if not empty.
const Concept* WardByName(const CodeSystemVersion& cs, const std::string& name,
                          const std::string& province) {
  std::string key = UnitNameKey(name);
  if (key.empty()) return nullptr;
  // The name as written may itself start like a unit type ("Xa Dung" for "Xã Xa Dung").
  std::string whole;
  for (const auto& w : SplitWords(text::Fold(name))) whole += (whole.empty() ? "" : " ") + w;
  size_t total = 0;
  auto hits = cs.index().Search(key, 0, 200, &total);
  const Concept* any = nullptr;
  for (const auto& h : hits) {
    if (h.kind == ConceptIndex::MatchKind::kFuzzy) break;
    std::string k = UnitNameKey(h.item->display);
    if (k != key && k != whole) continue;
    std::string prov;
    for (const auto& [k, v] : h.item->properties)
      if (k == "province") prov = v;
    if (province.empty() || prov == province) return h.item;
    if (!any) any = h.item;
  }
  return province.empty() ? any : nullptr;
}

std::string PropertyOf(const Concept& c, std::string_view name) {
  for (const auto& [k, v] : c.properties)
    if (k == name) return v;
  return {};
}

}  // namespace

const std::vector<ProvinceInfo>& CurrentProvinces() { return kCurrent; }
const std::vector<ProvinceInfo>& LegacyProvinces() { return kLegacy; }

const ProvinceInfo* FindCurrentProvince(std::string_view code) {
  for (const auto& p : kCurrent)
    if (code == p.code) return &p;
  return nullptr;
}
const ProvinceInfo* FindLegacyProvince(std::string_view code) {
  for (const auto& p : kLegacy)
    if (code == p.code) return &p;
  return nullptr;
}
const ProvinceInfo* FindCurrentProvinceByName(std::string_view name) {
  return ByName(kCurrent, kCurrentAliases, std::size(kCurrentAliases), name);
}
const ProvinceInfo* FindLegacyProvinceByName(std::string_view name) {
  return ByName(kLegacy, kLegacyAliases, std::size(kLegacyAliases), name);
}

std::string ProvinceDisplay(const ProvinceInfo& p) {
  return std::string(p.city ? "Thành phố " : "Tỉnh ") + p.name;
}

std::string UnitNameKey(std::string_view name) {
  std::string folded = text::Fold(name);
  std::string key;
  for (const auto& w : SplitWords(folded)) {
    if (!key.empty()) key += ' ';
    key += w;
  }
  // "tp.hcm" splits into "tp hcm"; strip one unit-type prefix.
  for (const char* p : kPrefixes) {
    std::string_view pv(p);
    if (key.size() > pv.size() && key.compare(0, pv.size(), pv) == 0) {
      key.erase(0, pv.size());
      break;
    }
  }
  return key;
}

std::shared_ptr<const CodeSystemVersion> BuiltinProvinces() {
  static const auto cs = Build(false);
  return cs;
}
std::shared_ptr<const CodeSystemVersion> BuiltinLegacyProvinces() {
  static const auto cs = Build(true);
  return cs;
}

json::object ProvinceConceptMap() {
  json::array elements;
  for (const auto& p : kLegacy) {
    const ProvinceInfo* cur = FindCurrentProvince(p.current);
    // The current unit is wider than the legacy one when others were merged into it.
    bool merged = false;
    for (const auto& q : kLegacy) merged = merged || (q.current == p.current && q.code != p.code);
    json::object target{{"code", p.current},
                        {"display", cur ? ProvinceDisplay(*cur) : ""},
                        {"equivalence", merged ? "wider" : "equivalent"}};
    if (merged)
      target["comment"] =
          "Hợp nhất theo Nghị quyết 202/2025/QH15 / merged by Resolution "
          "202/2025/QH15";
    elements.push_back(json::object{{"code", p.code},
                                    {"display", ProvinceDisplay(p)},
                                    {"target", json::array{std::move(target)}}});
  }
  return json::object{
      {"resourceType", "ConceptMap"},
      {"id", "vn-province-legacy-to-current"},
      {"url", kProvinceMap},
      {"version", "2025"},
      {"name", "VNProvinceLegacyToCurrent"},
      {"title",
       "Tỉnh, thành phố trước và sau ngày 01/07/2025 / provinces before and after 2025-07-01"},
      {"status", "active"},
      {"sourceUri", kLegacyProvinceValueSet},
      {"targetUri", kProvinceValueSet},
      {"group", json::array{json::object{{"source", kLegacyProvinceSystem},
                                         {"target", kProvinceSystem},
                                         {"element", std::move(elements)}}}}};
}

std::vector<Issue> CheckPatientAddresses(const json::object& patient, const WardData& wards) {
  std::vector<Issue> out;
  auto* addrs = patient.if_contains("address");
  if (!addrs || !addrs->is_array()) return out;
  auto issue = [&](const char* severity, const std::string& vi, const std::string& en,
                   std::string where) {
    out.push_back(Issue{severity[0] == 'e' ? Code::kCodeInvalid : Code::kValue, severity,
                        Msg(vi, en), std::move(where)});
  };
  const auto& arr = addrs->get_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_object()) continue;
    const auto& a = arr[i].get_object();
    const std::string at = "Patient.address[" + std::to_string(i) + "]";
    // The coded units, with the index of their extension.
    const json::object* prov_coding = nullptr;
    const json::object* ward_coding = nullptr;
    size_t prov_k = 0, ward_k = 0;
    if (auto* exts = a.if_contains("extension"); exts && exts->is_array()) {
      const auto& ea = exts->get_array();
      for (size_t k = 0; k < ea.size(); ++k) {
        if (!ea[k].is_object()) continue;
        std::string url = Str(ea[k].get_object(), "url");
        auto* vc = ea[k].get_object().if_contains("valueCoding");
        if (!vc || !vc->is_object()) continue;
        if (url == kProvinceExt) prov_coding = &vc->get_object(), prov_k = k;
        if (url == kWardExt) ward_coding = &vc->get_object(), ward_k = k;
      }
    }
    std::string country = UnitNameKey(Str(a, "country"));
    bool vn = country == "vn" || country == "vnm" || country == "viet nam" ||
              country == "vietnam" || country == "cong hoa xa hoi chu nghia viet nam";
    if (!vn && !prov_coding && !ward_coding) continue;

    // Province: the current unit this address is in ("" if unknown), from the code or the name.
    std::string province;
    if (prov_coding) {
      std::string system = Str(*prov_coding, "system");
      std::string code = Str(*prov_coding, "code");
      std::string where = ExtPath(i, prov_k);
      const bool legacy_system = system == kLegacyProvinceSystem;
      if (!system.empty() && system != kProvinceSystem && !legacy_system) {
        issue("warning", "Hệ mã tỉnh '" + system + "' không được hỗ trợ, dùng " + kProvinceSystem,
              "province code system '" + system + "' is not supported; use " + kProvinceSystem,
              at + ".extension[" + std::to_string(prov_k) + "].valueCoding.system");
      } else if (const ProvinceInfo* p = legacy_system ? nullptr : FindCurrentProvince(code)) {
        province = p->code;
      } else if (const ProvinceInfo* l = FindLegacyProvince(code)) {
        const ProvinceInfo* cur = FindCurrentProvince(l->current);
        province = l->current;
        issue("warning",
              "Mã tỉnh cũ " + code + " (" + ProvinceDisplay(*l) +
                  ", trước 01/07/2025); nay thuộc " + ProvinceDisplay(*cur) + " (mã " + cur->code +
                  ")",
              "legacy province code " + code + " (" + l->name_en + ", before 2025-07-01); now " +
                  cur->name_en + " (code " + cur->code + ")",
              where);
      } else {
        issue("error",
              "Mã tỉnh/thành phố '" + code +
                  "' không có trong danh mục 34 tỉnh, thành phố (từ 01/07/2025) hay 63 tỉnh, "
                  "thành phố trước đó",
              "province code '" + code +
                  "' is neither a current (since 2025-07-01) nor a legacy province code",
              where);
      }
    }
    if (std::string state = Str(a, "state"); !state.empty()) {
      const ProvinceInfo* cur = FindCurrentProvinceByName(state);
      const ProvinceInfo* old = cur ? nullptr : FindLegacyProvinceByName(state);
      if (cur) {
        if (!province.empty() && province != cur->code)
          issue("warning", "Tỉnh/thành phố '" + state + "' không khớp với mã tỉnh " + province,
                "state '" + state + "' does not match province code " + province, at + ".state");
        if (province.empty()) province = cur->code;
      } else if (old) {
        const ProvinceInfo* now = FindCurrentProvince(old->current);
        issue("warning",
              "'" + state + "' là tỉnh cũ (trước 01/07/2025); nay thuộc " + ProvinceDisplay(*now) +
                  " (mã " + now->code + ")",
              "'" + state + "' is a legacy province (before 2025-07-01); now " + now->name_en +
                  " (code " + now->code + ")",
              at + ".state");
        if (province.empty()) province = now->code;
      } else {
        issue("error",
              "Tỉnh/thành phố '" + state +
                  "' không có trong danh mục 34 tỉnh, thành phố hiện hành hay 63 tỉnh, thành phố "
                  "cũ",
              "state '" + state + "' is neither a current nor a legacy Vietnamese province",
              at + ".state");
      }
    }

    // Ward: by code, then by name; only with the lists loaded.
    const CodeSystemVersion* cur_list = wards.current.get();
    const CodeSystemVersion* old_list = wards.legacy.get();
    auto legacy_hint = [&](const std::string& code, std::string* vi, std::string* en) {
      std::vector<std::pair<std::string, std::string>> to;
      if (wards.map) to = wards.map(code);
      if (to.empty()) {
        *vi = "tra bảng chuyển đổi đơn vị hành chính để có phường/xã hiện hành";
        *en = "see the conversion table for the current ward";
        return;
      }
      std::string list;
      for (const auto& [c, d] : to) list += (list.empty() ? "" : ", ") + d + " (" + c + ")";
      *vi = "nay thuộc " + list;
      *en = "now " + list;
    };
    if (ward_coding) {
      std::string system = Str(*ward_coding, "system");
      std::string code = Str(*ward_coding, "code");
      std::string where = ExtPath(i, ward_k);
      const bool legacy_system = system == kLegacyWardSystem;
      const Concept* c = nullptr;
      if (!legacy_system && cur_list) {
        c = cur_list->Find(code);
        if (c && c->code != code) c = nullptr;
      }
      const Concept* old = nullptr;
      if (!c && old_list) {
        old = old_list->Find(code);
        if (old && old->code != code) old = nullptr;
      }
      bool five_digits =
          code.size() == 5 && code.find_first_not_of("0123456789") == std::string::npos;
      if (c) {
        std::string p = PropertyOf(*c, "province");
        if (!province.empty() && !p.empty() && p != province)
          issue("warning",
                "Phường/xã " + c->display + " (mã " + code + ") thuộc tỉnh mã " + p +
                    ", không thuộc tỉnh mã " + province + " của địa chỉ",
                "ward " + code + " is in province " + p + ", not in the address's province " +
                    province,
                where);
      } else if (old) {
        std::string vi, en;
        legacy_hint(code, &vi, &en);
        issue("warning",
              "Mã phường/xã cũ " + code + " (" + old->display + ", trước 01/07/2025); " + vi,
              "legacy ward code " + code + " (before 2025-07-01); " + en, where);
      } else if (!five_digits) {
        issue("error", "Mã phường/xã '" + code + "' phải gồm 5 chữ số",
              "ward code '" + code + "' must be 5 digits", where);
      } else if ((legacy_system && old_list) || (!legacy_system && cur_list)) {
        issue("error",
              "Mã phường/xã '" + code + "' không có trong danh mục " +
                  (legacy_system ? "phường/xã cũ" : "phường/xã hiện hành") +
                  (old_list && !legacy_system ? " hay danh mục cũ" : ""),
              "ward code '" + code + "' is not in the " + (legacy_system ? "legacy" : "current") +
                  " ward list",
              where);
      }
    }
    if (std::string city = Str(a, "city"); !city.empty() && cur_list) {
      if (WardByName(*cur_list, city, province)) {
        // a current ward of this province
      } else if (const Concept* old = old_list ? WardByName(*old_list, city, "") : nullptr) {
        std::string vi, en;
        legacy_hint(old->code, &vi, &en);
        issue("warning",
              "'" + city + "' là phường/xã cũ (trước 01/07/2025, mã " + old->code + "); " + vi,
              "'" + city + "' is a legacy ward (before 2025-07-01, code " + old->code + "); " + en,
              at + ".city");
      } else if (FindCurrentProvinceByName(city) || FindLegacyProvinceByName(city)) {
        issue("warning",
              "'" + city + "' là tên tỉnh/thành phố: ghi tỉnh vào state, phường/xã vào city",
              "'" + city + "' is a province: the province goes in state, the ward in city",
              at + ".city");
      } else if (const Concept* elsewhere = WardByName(*cur_list, city, ""); elsewhere) {
        issue("warning",
              "Phường/xã '" + city + "' không thuộc tỉnh mã " + province + " của địa chỉ",
              "ward '" + city + "' is not in the address's province " + province, at + ".city");
      } else {
        issue("error",
              "Phường/xã '" + city + "' không có trong danh mục phường/xã hiện hành" +
                  (old_list ? " hay danh mục cũ" : "") +
                  (province.empty() ? "" : " (tỉnh mã " + province + ")"),
              "ward '" + city + "' is not in the current" +
                  std::string(old_list ? " or legacy" : "") + " ward list",
              at + ".city");
      }
    }
  }
  return out;
}

}  // namespace benhan::terminology
