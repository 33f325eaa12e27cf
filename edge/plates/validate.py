"""Mainland China plate formats (GA 36-2018): what a recogniser's text must look like to count as a plate.

A plate is never guessed: text that fits no format is not a plate. The only rewrites are the ones the
format forces: separators ("·", ":", "-", spaces) are dropped, full-width letters and digits become
ASCII, traditional forms of the province and suffix characters (粵, 滬, 學) become the simplified
ones plates print, and O / I become 0 / 1 after the issuing letter, because plates never print O or I
and their glyphs there are the digits.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
OFFICE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # the issuing office's letter: no I, no O
LETTER = f"[{OFFICE_LETTERS}]"
ALNUM = f"[{OFFICE_LETTERS}0-9]"
SUFFIXES = "警学挂港澳领"  # the last character of the suffixed formats
SEPARATORS = "·•・.:：-_ 　"
# Traditional forms of the characters plates print. A recogniser that learnt both scripts splits its
# belief between 粤 and 粵 (0.79 and 0.21 on one plate here); on a plate they are one character.
TRADITIONAL = {
    "滬": "沪",
    "雲": "云",
    "遼": "辽",
    "魯": "鲁",
    "蘇": "苏",
    "贛": "赣",
    "晉": "晋",
    "陝": "陕",
    "陜": "陕",
    "閩": "闽",
    "貴": "贵",
    "粵": "粤",
    "寧": "宁",
    "瓊": "琼",
    "學": "学",
    "掛": "挂",
    "領": "领",
}
ALPHABET = frozenset(PROVINCES + SUFFIXES + "使ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")  # what a plate prints

_FORMATS: dict[str, str] = {
    # province, office letter, 5 characters: the blue (and yellow) standard plate
    "standard": rf"[{PROVINCES}]{LETTER}{ALNUM}{{5}}",
    # new-energy (green): small cars D/F (A-K since 2021) then 1 letter-or-digit and 4 digits; large: 5 digits then D/F
    "new_energy": rf"[{PROVINCES}]{LETTER}(?:[A-HJK]{ALNUM}[0-9]{{4}}|[0-9]{{5}}[DF])",
    # police, driving-school, trailer and consulate plates: 4 characters + suffix
    "special": rf"[{PROVINCES}]{LETTER}{ALNUM}{{4}}[警学挂领]",
    # Hong Kong / Macau cross-border plates are issued by Guangdong's Z office only
    "cross_border": rf"粤Z{ALNUM}{{4}}[港澳]",
    # embassy plates: 使 and six digits (embassy number, then the vehicle)
    "embassy": r"使[0-9]{6}",
}
_COMPILED = {kind: re.compile(pattern) for kind, pattern in _FORMATS.items()}


@dataclass(frozen=True, slots=True)
class PlateText:
    """A plate string that fits one of the mainland formats (`kind`), separators removed."""

    text: str
    kind: str


@lru_cache(maxsize=4096)
def fold(ch: str) -> str:
    """A character as a plate prints it: full-width folded to ASCII, letters upper-cased, the
    traditional forms of the province and suffix characters simplified."""
    folded = unicodedata.normalize("NFKC", ch).upper()
    return TRADITIONAL.get(folded, folded)


def normalise(raw: str) -> str:
    """Drop separators and fold each character (`fold`)."""
    text = "".join(folded for folded in map(fold, raw) if folded not in SEPARATORS)
    if len(text) > 2:
        text = text[:2] + text[2:].replace("O", "0").replace("I", "1")
    return text


def parse_plate(raw: str) -> PlateText | None:
    """The plate `raw` spells, or None when it fits no mainland format (then it is not reported)."""
    text = normalise(raw)
    for kind, pattern in _COMPILED.items():
        if pattern.fullmatch(text):
            return PlateText(text, kind)
    return None


def display(plate: str) -> str:
    """How a plate is printed: the separator dot after the province and office letter (京A·12345)."""
    return plate if plate.startswith("使") else f"{plate[:2]}·{plate[2:]}"


# GA 36 panel colours and the formats they carry: blue small cars, yellow large vehicles, driving
# schools and trailers, green new-energy cars; white (police) and black (Hong Kong / Macau, embassy
# and consulate) panels only the suffixed formats. A text whose format its panel cannot carry was
# misread: a dropped or added character turns an 8-character green plate into a valid 7-character one.
PANEL_KINDS = {
    "blue": ("standard",),
    "yellow": ("standard", "special"),
    "green": ("new_energy",),
    "plain": ("special", "cross_border", "embassy"),
}


def fits_panel(plate: PlateText, colour: str) -> bool:
    """Whether a plate of `plate.kind` can be printed on a panel of this colour."""
    if plate.kind == "special" and colour == "yellow":
        return plate.text[-1] in "学挂"
    return plate.kind in PANEL_KINDS.get(colour, ())
