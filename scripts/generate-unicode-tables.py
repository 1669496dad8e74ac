#!/usr/bin/env python3
"""Generates Sources/Ledger/UnicodeTables.swift: the Unicode 17.0 data behind customer names.

Integra canonicalises names itself (docs/PROTOCOL.md, section 8.2) instead of asking the
toolchain or Foundation, whose Unicode versions change with the platform: a name registered
today must canonicalise to the same bytes after any upgrade. This script writes that data as
sorted tables that the server searches by bisection.

Regenerate (PyPI only; nothing else is downloaded):

    python3 -m venv /tmp/unicode-tables
    /tmp/unicode-tables/bin/pip install icukit-pyicu==78.3.1 unicodedata2==17.0.0
    /tmp/unicode-tables/bin/python scripts/generate-unicode-tables.py          # rewrites the file
    /tmp/unicode-tables/bin/python scripts/generate-unicode-tables.py --check  # exits 1 if stale

Where each property comes from (both packages carry Unicode 17.0.0; the script refuses others):

- icukit-pyicu 78.3.1 (ICU 78.3, Unicode 17.0): Alphabetic, full case folding (CaseFolding.txt
  statuses C and F), NFKC_Casefold (DerivedNormalizationProps.txt, NFKC_CF), Script_Extensions
  (ScriptExtensions.txt) and the confusable prototypes (UTS #39 confusables.txt 17.0, as compiled
  into ICU, read back one code point at a time through the skeleton API).
- unicodedata2 17.0.0 (UnicodeData.txt): General_Category, Canonical_Combining_Class,
  decompositions and NFC/NFD. General_Category and Canonical_Combining_Class are checked
  against ICU, and NFKC_Casefold against its definition (NFKC, case folding, removal of
  Default_Ignorable_Code_Point, NFKC again, until stable).

Tables written (all sorted; the Swift side is Sources/Ledger/NameUnicode.swift):

- properties: one UInt64 per run of code points with equal properties:
  start << 24 | combining class << 16 | name class << 8 | script set index.
- scriptSets: script sets as bit sets, `scriptSetWords` UInt64 words each; index 0 is the
  empty set (characters never allowed in a name), index 1 every script (Common, Inherited).
  Script_Extensions values are augmented as UTS #39 section 5.1 says (Hani adds Hanb, Jpan and
  Kore; Hira and Kana add Jpan; Hang adds Kore; Bopo adds Hanb).
- decompositions: code point << 32 | mapping, where the mapping is NFD(NFKC_Casefold(c)) for
  every code point that is not forbidden (Cc, Cf, Cs, Co, Cn) and changes; Hangul syllables
  are decomposed by arithmetic instead.
- compositions: first << 42 | second << 21 | composite, for every primary composite.
- confusables: code point << 32 | mapping, where the mapping is the fixpoint of
  s -> NFD(toCasefold(prototype(s))) over confusables.txt, for every character that can occur
  in the NFD of a canonical name.
- expansions: the scalars of every mapping longer than one scalar. A mapping is either one
  scalar (below 0x110000) or 0x8000_0000 | offset << 5 | length into expansions.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys

try:
    import icu
    import unicodedata2 as ucd
except ImportError as error:  # pragma: no cover - guidance only
    sys.exit(f"{error}: install icukit-pyicu==78.3.1 and unicodedata2==17.0.0 (see the docstring)")

UNICODE_VERSION = "17.0.0"
OUTPUT = os.path.join(os.path.dirname(__file__), "..", "Sources", "Ledger", "UnicodeTables.swift")

FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
NAME_PUNCTUATION = " .-_"

# Name classes, as NameUnicode.swift reads them.
CLASS_FORBIDDEN = 0  # control, format, surrogate, private use, unassigned: refused as typed
CLASS_OTHER = 1  # assigned, but not allowed in a canonical name (symbols, punctuation, ...)
CLASS_LETTER_OR_DIGIT = 2  # Alphabetic and not a mark, or General_Category Nd
CLASS_MARK = 3  # Alphabetic combining mark (General_Category Mn, Mc or Me)
CLASS_PUNCTUATION = 4  # space, '.', '-', '_'

HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3
MAPPING_EXPANDED = 0x8000_0000
MAXIMUM_EXPANSION_LENGTH = 31
MAXIMUM_SKELETON_ROUNDS = 8

AUGMENTED = {
    "Hani": ("Hanb", "Jpan", "Kore"),
    "Hira": ("Jpan",),
    "Kana": ("Jpan",),
    "Hang": ("Kore",),
    "Bopo": ("Hanb",),
}


def check_versions() -> None:
    if icu.UNICODE_VERSION != "17.0" or icu.ICU_VERSION != "78.3":
        sys.exit(f"need ICU 78.3 (Unicode 17.0), found ICU {icu.ICU_VERSION} (Unicode {icu.UNICODE_VERSION})")
    if ucd.unidata_version != UNICODE_VERSION:
        sys.exit(f"need unicodedata2 with Unicode {UNICODE_VERSION}, found {ucd.unidata_version}")


def category(code: int) -> str:
    return ucd.category(chr(code))


def icu_category(code: int) -> str:
    return icu.Char.getPropertyValueName(
        icu.UProperty.GENERAL_CATEGORY, icu.Char.charType(code), icu.UPropertyNameChoice.SHORT_PROPERTY_NAME
    )


def fold(text: str) -> str:
    """Full case folding (CaseFolding.txt statuses C and F, not the Turkic T mappings)."""
    return str(icu.UnicodeString(text).foldCase())


def name_class(code: int) -> int:
    general = category(code)
    if general in FORBIDDEN_CATEGORIES:
        return CLASS_FORBIDDEN
    if chr(code) in NAME_PUNCTUATION:
        return CLASS_PUNCTUATION
    if general == "Nd":
        return CLASS_LETTER_OR_DIGIT
    if icu.Char.hasBinaryProperty(code, icu.UProperty.ALPHABETIC):
        return CLASS_MARK if general.startswith("M") else CLASS_LETTER_OR_DIGIT
    return CLASS_OTHER


def script_extensions(code: int) -> frozenset[str] | None:
    """Augmented Script_Extensions, or None for "every script" (Common, Inherited)."""
    names = {icu.Script(value).getShortName() for value in icu.Script.getScriptExtensions(code)}
    if "Zyyy" in names or "Zinh" in names:
        return None
    augmented = set(names)
    for name in names:
        augmented.update(AUGMENTED.get(name, ()))
    return frozenset(augmented)


def nfkc_casefold_by_definition(text: str) -> str:
    """NFKC_Casefold as DerivedNormalizationProps.txt defines it, to check ICU's table."""
    for _ in range(MAXIMUM_SKELETON_ROUNDS):
        folded = fold(ucd.normalize("NFKC", text))
        kept = "".join(c for c in folded if not icu.Char.hasBinaryProperty(ord(c), icu.UProperty.DEFAULT_IGNORABLE_CODE_POINT))
        result = ucd.normalize("NFKC", kept)
        if result == text:
            return result
        text = result
    raise AssertionError(f"NFKC_Casefold of {text!r} does not settle")


class Expansions:
    """A shared pool of mappings longer than one scalar, each stored once."""

    def __init__(self) -> None:
        self.scalars: list[int] = []
        self.offsets: dict[tuple[int, ...], int] = {}

    def encode(self, text: str) -> int:
        scalars = tuple(ord(c) for c in text)
        if len(scalars) == 1:
            return scalars[0]
        assert len(scalars) <= MAXIMUM_EXPANSION_LENGTH, f"mapping of {len(scalars)} scalars"
        offset = self.offsets.get(scalars)
        if offset is None:
            offset = len(self.scalars)
            self.offsets[scalars] = offset
            self.scalars.extend(scalars)
        assert offset < (1 << 26)
        return MAPPING_EXPANDED | offset << 5 | len(scalars)


def build() -> dict[str, object]:
    check_versions()
    nfkc_cf = icu.Normalizer2.getNFKCCasefoldInstance()
    spoof = icu.SpoofChecker()
    classes = [name_class(code) for code in range(0x110000)]

    # Cross-checks between the two packages, over every code point.
    for code in range(0x110000):
        assert category(code) == icu_category(code), f"General_Category of U+{code:04X}"
        assert ucd.combining(chr(code)) == icu.Char.getCombiningClass(code), f"ccc of U+{code:04X}"

    # Script sets: index 0 empty, index 1 every script.
    script_names: set[str] = set()
    extensions: dict[int, frozenset[str] | None] = {}
    for code in range(0x110000):
        if classes[code] in (CLASS_LETTER_OR_DIGIT, CLASS_MARK):
            extensions[code] = script_extensions(code)
            script_names.update(extensions[code] or ())
        elif classes[code] == CLASS_PUNCTUATION:
            extensions[code] = script_extensions(code)
            assert extensions[code] is None, "name punctuation is Common"
    script_order = sorted(script_names)
    words = (len(script_order) + 63) // 64
    set_index: dict[frozenset[str] | None, int] = {frozenset(): 0, None: 1}
    for value in sorted((s for s in set(extensions.values()) if s is not None), key=lambda s: sorted(s)):
        set_index.setdefault(value, len(set_index))
    assert len(set_index) < 256
    script_sets: list[int] = []
    for value, _ in sorted(set_index.items(), key=lambda item: item[1]):
        bits = (1 << len(script_order)) - 1 if value is None else sum(1 << script_order.index(s) for s in value)
        script_sets.extend((bits >> (64 * word)) & 0xFFFF_FFFF_FFFF_FFFF for word in range(words))

    # Properties: runs of equal (combining class, name class, script set).
    properties: list[int] = []
    previous = None
    for code in range(0x110000):
        key = (ucd.combining(chr(code)), classes[code], set_index[extensions.get(code, frozenset())])
        if key != previous:
            properties.append(code << 24 | key[0] << 16 | key[1] << 8 | key[2])
            previous = key

    expansions = Expansions()

    # Decompositions: NFD(NFKC_Casefold(c)) for every code point a name may contain as typed.
    decompositions: list[int] = []
    for code in range(0x110000):
        if classes[code] == CLASS_FORBIDDEN or HANGUL_FIRST <= code <= HANGUL_LAST:
            continue
        folded = nfkc_cf.normalize(chr(code))
        assert folded == nfkc_casefold_by_definition(chr(code)), f"NFKC_Casefold of U+{code:04X}"
        mapping = ucd.normalize("NFD", folded)
        if mapping != chr(code):
            decompositions.append(code << 32 | expansions.encode(mapping))

    # Primary composites: canonical pairs that NFC recomposes.
    compositions: list[int] = []
    for code in range(0x110000):
        if HANGUL_FIRST <= code <= HANGUL_LAST:
            continue
        parts = ucd.decomposition(chr(code)).split()
        if len(parts) == 2 and not parts[0].startswith("<") and ucd.normalize("NFC", chr(code)) == chr(code):
            first, second = (int(part, 16) for part in parts)
            compositions.append(first << 42 | second << 21 | code)
    compositions.sort()

    # Confusables, on every character of the NFD of a canonical name.
    def skeleton_step(text: str) -> str:
        return ucd.normalize("NFD", fold(spoof.getSkeleton(0, text)))

    def settled(text: str) -> str:
        for _ in range(MAXIMUM_SKELETON_ROUNDS):
            following = skeleton_step(text)
            if following == text:
                return text
            text = following
        raise AssertionError(f"skeleton of {text!r} does not settle")

    canonical_characters = [
        code for code in range(0x110000)
        if classes[code] in (CLASS_LETTER_OR_DIGIT, CLASS_MARK, CLASS_PUNCTUATION) and nfkc_cf.normalize(chr(code)) == chr(code)
    ]
    domain: set[int] = set()
    for code in canonical_characters:
        domain.update(ord(c) for c in ucd.normalize("NFD", chr(code)))
    confusables: list[int] = []
    skeleton_of: dict[int, str] = {}
    for code in sorted(domain):
        mapping = settled(chr(code))
        skeleton_of[code] = mapping
        for scalar in mapping:
            assert settled(scalar) == scalar, f"skeleton of U+{code:04X} is not settled"
        if mapping != chr(code):
            confusables.append(code << 32 | expansions.encode(mapping))

    # The longest skeleton a canonical name of n UTF-8 bytes can have, per byte.
    ratio = 1
    for code in canonical_characters:
        size = sum(len(skeleton_of[ord(c)].encode()) for c in ucd.normalize("NFD", chr(code)))
        ratio = max(ratio, -(-size // len(chr(code).encode())))

    return {
        "script_order": script_order,
        "words": words,
        "script_sets": script_sets,
        "properties": properties,
        "decompositions": decompositions,
        "compositions": compositions,
        "confusables": confusables,
        "expansions": expansions.scalars,
        "ratio": ratio,
    }


def swift_name(key: str) -> str:
    """script_sets -> scriptSets."""
    first, *rest = key.split("_")
    return first + "".join(word.capitalize() for word in rest)


def swift_array(name: str, element: str, values: list[int], doc: str) -> str:
    width = 16 if element == "UInt64" else 8
    per_line = 6 if element == "UInt64" else 10
    lines = [f"    /// {doc}", f"    static let {name}: [{element}] = ["]
    for start in range(0, len(values), per_line):
        chunk = values[start:start + per_line]
        lines.append("        " + ", ".join(f"0x{value:0{width}X}" for value in chunk) + ",")
    lines.append("    ]")
    return "\n".join(lines)


def render(tables: dict[str, object]) -> str:
    scripts = tables["script_order"]
    header = f"""// GENERATED by scripts/generate-unicode-tables.py from Unicode {UNICODE_VERSION} data
// (icukit-pyicu 78.3.1, that is ICU 78.3, and unicodedata2 17.0.0). Do not edit: change the
// script and run it again (its docstring says how). Layouts are described there and in
// NameUnicode.swift, which reads these tables.

/// Unicode {UNICODE_VERSION} data for customer names, pinned so that a name canonicalises to the
/// same bytes on every platform and toolchain. Every table is sorted for binary search.
enum UnicodeTables {{
    /// The Unicode version every table comes from.
    static let unicodeVersion = "{UNICODE_VERSION}"

    /// UInt64 words per script set; bit i stands for scripts[i].
    static let scriptSetWords: Int = {tables["words"]}

    /// ISO 15924 codes of the scripts that script sets refer to, in bit order.
    static let scripts: [String] = [
"""
    for start in range(0, len(scripts), 12):
        header += "        " + ", ".join(f'"{name}"' for name in scripts[start:start + 12]) + ",\n"
    header += "    ]\n\n"
    header += f"""    /// A canonical name of n UTF-8 bytes has a skeleton of at most n times this many bytes.
    static let maximumSkeletonBytesPerCanonicalByte: Int = {tables["ratio"]}

"""
    arrays = (
        ("properties", "UInt64", "start << 24 | combining class << 16 | name class << 8 | script set, one per run of code points."),
        ("script_sets", "UInt64", "Augmented Script_Extensions sets, scriptSetWords words each; 0 is empty, 1 every script."),
        ("decompositions", "UInt64", "code point << 32 | mapping: NFD(NFKC_Casefold(c)) where it differs from c."),
        ("compositions", "UInt64", "first << 42 | second << 21 | composite, for every primary composite."),
        ("confusables", "UInt64", "code point << 32 | mapping: the settled, case-folded confusable prototype."),
        ("expansions", "UInt32", "The scalars of every mapping longer than one scalar."),
    )
    parts = [swift_array(swift_name(key), element, tables[key], doc) for key, element, doc in arrays]
    return header + "\n\n".join(parts) + "\n}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file differs")
    arguments = parser.parse_args()
    text = render(build())
    path = os.path.normpath(OUTPUT)
    if arguments.check:
        with open(path, encoding="utf-8") as existing:
            current = existing.read()
        if current != text:
            sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), text.splitlines(True), path, "fresh", n=1))
            return 1
        print(f"{path} is up to date")
        return 0
    with open(path, "w", encoding="utf-8") as output:
        output.write(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
