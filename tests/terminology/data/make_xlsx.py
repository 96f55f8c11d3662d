"""Writes icd10_annex_sample.xlsx, the XLSX test file of tests/terminology (run from this folder):
the Ministry annex's column layout, shared strings (with a rich-text run and entities), an inline
string, numbers, an empty cell and a skipped column, deflate-compressed."""
import zipfile
from xml.sax.saxutils import escape

header = ["STT", "Mã chương", "Mã nhóm chính", "Mã bệnh", "Mã bệnh không dấu", "Tên tiếng Anh",
          "Tên tiếng Việt", "Không dùng làm bệnh chính", "Giới tính", "Có mã chi tiết hơn"]
rows = [
    [1, "I", "A00-A09", "A00", "A00", "Cholera", "Bệnh tả", "", "", "x"],
    [2, "I", "A00-A09", "A00.0", "A000", "Cholera due to Vibrio cholerae 01, biovar cholerae",
     "Bệnh tả do Vibrio cholerae 01, típ sinh học cổ điển", "", "", ""],
    [3, "XIV", "N40-N51", "N40", "N40", "Hyperplasia of prostate", "Tăng sản tuyến tiền liệt", "", "Nam", ""],
    [4, "XX", "W00-X59", "W19", "W19", "Unspecified fall", "Ngã, không xác định", "x", "", ""],
    [5, "XV", "O94-O99", "O95", "O95", "Obstetric death of unspecified cause", "Tử vong sản khoa <không rõ> & khác", "", "Nữ", ""],
]
strings, index = [], {}
def sid(s):
    if s not in index:
        index[s] = len(strings)
        strings.append(s)
    return index[s]
def col(i):
    return chr(ord("A") + i)
def cell(r, c, v, inline=False):
    ref = f"{col(c)}{r}"
    if v == "":
        return ""
    if isinstance(v, int):
        return f'<c r="{ref}"><v>{v}</v></c>'
    if inline:
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(v)}</t></is></c>'
    return f'<c r="{ref}" t="s"><v>{sid(v)}</v></c>'
sheet_rows = ['<row r="1">' + "".join(cell(1, c, h) for c, h in enumerate(header)) + "</row>"]
for i, row in enumerate(rows):
    r = i + 2
    sheet_rows.append(f'<row r="{r}">' + "".join(
        cell(r, c, v, inline=(c == 6 and i == 3)) for c, v in enumerate(row)) + "</row>")
sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
         + "".join(sheet_rows) + "</sheetData></worksheet>")
si = []
for s in strings:
    if s == "Cholera":  # a rich-text run: two <r><t> parts
        si.append("<si><r><t>Chol</t></r><r><rPr><b/></rPr><t>era</t></r></si>")
    else:
        si.append(f'<si><t xml:space="preserve">{escape(s)}</t></si>')
sst = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
       f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{len(strings)}">'
       + "".join(si) + "</sst>")
with zipfile.ZipFile("icd10_annex_sample.xlsx", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
    z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="ICD10" sheetId="1"/></sheets></workbook>')
    z.writestr("xl/sharedStrings.xml", sst)
    z.writestr("xl/worksheets/sheet1.xml", sheet)
