"""Read the plate on a vehicle crop, or say why it cannot be read: never a guess.

`PlateReader.read(crop)` proposes plate boxes (`locate`), measures the character height and the
sharpness of each, reads the plausible ones in one recogniser batch and keeps the best text that fits
a mainland format (`validate`). A plate whose characters are under `min_char_px` or whose strokes
are smeared is `unread` before any reading: the recogniser still returns text there, and that text
is the kind of guess that sends a notice to the wrong owner.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from edge.plates.locate import locate, panel_colour
from edge.plates.recognise import TextLine, TextRecogniser
from edge.plates.validate import OFFICE_LETTERS, PROVINCES, SEPARATORS, SUFFIXES, fits_panel, parse_plate

# Limits measured on the synthetic plate set (bench/bench_plates.py, docs/plates.md):
MIN_CHAR_PX = 14.0  # below this character height the recogniser confuses characters
MIN_SHARPNESS = 0.12  # edge steepness (share of the plate's contrast crossed per character-height/32)
CELL_GAP = 0.2  # a cell ends this many pitches short of the nearest read character
STRETCH = 1.3  # plate characters are half as wide as high: widened, they read more like the text the model learnt
FIRST_READ = 2  # boxes read first; the others only when these give no plate
# The weakest character's probability for a plate to be reported (the default): at 0.9 one plate of
# bench_plates' 600 (three sets) was reported wrongly, at 0.95 none, for two fewer read on the unseen sets.
MIN_CONFIDENCE = 0.95
DOUBTFUL = 0.9  # a province or suffix the line reads under this is judged again
# An end character read under DOUBTFUL is judged again (on the line, else from its cell), whatever
# threshold a reader reports at: bench_plates scores every threshold with one lenient reader, which
# must read as the others.


class Unread(StrEnum):
    """Why no plate is reported."""

    TOO_SMALL = "too_small"  # characters under the measured height limit
    BLURRED = "blurred"  # strokes too smeared to read safely
    NO_TEXT = "no_text"  # nothing that reads as a mainland plate
    LOW_CONFIDENCE = "low_confidence"  # a plate-shaped text, but a character is doubtful


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One reading of one vehicle crop: a plate (`text` set) or `unread` with its reason.

    `box` is the plate's (x0, y0, x1, y1) in the crop's pixels (None when nothing plate-like was
    found); `char_px` the measured character height; `confidence` the weakest character's probability.
    """

    text: str | None
    confidence: float
    box: tuple[int, int, int, int] | None
    char_px: float
    unread: Unread | None = None

    @property
    def read(self) -> bool:
        return self.text is not None


def char_height(gray: np.ndarray) -> float:
    """Height in pixels of the band of rows crossed by the characters' vertical strokes."""
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    profile = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)).sum(axis=1)
    rows = profile >= 0.35 * profile.max() if profile.max() > 0 else np.zeros_like(profile, bool)
    best = run = 0
    for on in rows:
        run = run + 1 if on else 0
        best = max(best, run)
    return float(best)


def sharpness(gray: np.ndarray, char_px: float) -> float:
    """How steep the strokes' edges are, independent of size and contrast (0 = flat, ~0.5 = crisp).

    The plate is scaled so its characters are 32 px high; the strongest gradients are then compared
    with the plate's contrast: a sharp edge crosses the contrast in a pixel or two, a blurred one slowly.
    """
    if char_px < 3:
        return 0.0
    factor = 32.0 / char_px
    scaled = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR).astype(np.float32)
    contrast = float(np.percentile(scaled, 95) - np.percentile(scaled, 5))
    if contrast < 20:
        return 0.0
    grad = np.abs(cv2.Sobel(scaled, cv2.CV_32F, 1, 0, ksize=3)) / 4.0
    return float(np.percentile(grad, 98)) / contrast


class PlateReader:
    """The plate stage: locate, measure, recognise, validate. Not thread-safe: one per thread."""

    def __init__(
        self,
        model: Path,
        min_char_px: float = MIN_CHAR_PX,
        min_sharpness: float = MIN_SHARPNESS,
        min_confidence: float = MIN_CONFIDENCE,
        threads: int = 1,
    ) -> None:
        self._recogniser = TextRecogniser(model, threads, STRETCH)
        self.min_char_px = min_char_px
        self.min_sharpness = min_sharpness
        self.min_confidence = min_confidence

    def read(self, crop: np.ndarray) -> PlateRead:
        """The plate on a BGR vehicle crop (at the camera's full resolution), or why there is none."""
        candidates = locate(crop)
        if not candidates:
            return PlateRead(None, 0.0, None, 0.0, Unread.NO_TEXT)
        measured = []
        for cand in candidates:
            patch = cand.cut(crop)
            gray = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)
            px = char_height(gray)
            measured.append(_Measured(cand.box, px, sharpness(gray, px), patch))
        readable = [m for m in measured if self._readable(m)]
        if not readable:
            return self._unread(measured[0])
        # the most plate-like boxes first; the rest only when these give no plate to report (at
        # the default threshold at least, so a lenient reader reads the boxes a default one does)
        best = self._best_plate(readable[:FIRST_READ])
        enough = max(self.min_confidence, MIN_CONFIDENCE)
        if (best is None or best.confidence < enough) and len(readable) > FIRST_READ:
            rest = self._best_plate(readable[FIRST_READ:])
            if rest is not None and (best is None or rest.confidence > best.confidence):
                best = rest
        if best is None:  # say why the most plate-like box was not read
            return self._unread(measured[0], Unread.NO_TEXT if self._readable(measured[0]) else None)
        if best.confidence < self.min_confidence:
            return PlateRead(None, best.confidence, best.box, best.char_px, Unread.LOW_CONFIDENCE)
        return best

    def _best_plate(self, boxes: list[_Measured]) -> PlateRead | None:
        """The surest plate the boxes read, each box in a few framings (one recogniser batch) that
        must agree on one valid plate its panel colour can carry (`agreed_plate`)."""
        images = [v for m in boxes for v in _framings(m.patch)]
        readings = self._with_ends(images, self._recogniser.read(images))
        best: PlateRead | None = None
        for i, m in enumerate(boxes):
            colour = panel_colour(m.patch)
            reads = readings[len(_FRAMINGS) * i : len(_FRAMINGS) * (i + 1)]
            plates = [(parse_plate(text), confidence) for text, confidence in reads]
            valid = [(p.text, c) for p, c in plates if p is not None and fits_panel(p, colour)]
            text = agreed_plate([t for t, _ in valid], len(reads))
            if text is None:
                continue
            confidence = max(c for t, c in valid if t == text)
            if best is None or confidence > best.confidence:
                best = PlateRead(text, confidence, m.box, m.char_px)
        return best

    def _with_ends(self, images: list[np.ndarray], lines: list[TextLine]) -> list[tuple[str, float]]:
        """Each line's text and confidence, its office letter judged among the letters; where a line
        reads a whole plate but the Chinese character at its start (the province) or end (警 学 挂 港
        澳 领), or reads that character in doubt, that character is judged again (`_end_cells`): at
        the line's own step where the line read one, else on its own, from the part of the line
        before (after) the others.

        Plate characters are squeezed to half their width: a dense Chinese character so squeezed is
        what the recogniser, reading the line, drops or misreads most. It joins the text only as one
        of the characters that can stand there (those that make the rest of the line a plate: 粤
        alone before Z1234港), and as sure as its share of the model's probability for those
        characters.
        """
        lines = [judge_office_letter(line) for line in lines]
        out = [(line.text, line.confidence(SEPARATORS)) for line in lines]
        ends = [_end_cells(image, line) for image, line in zip(images, lines, strict=True)]
        read_starts = self._read_ends({i: e.start for i, e in enumerate(ends) if e and e.start})
        read_ends = self._read_ends({i: e.end for i, e in enumerate(ends) if e and e.end})
        for i, e in enumerate(ends):
            if e is None:
                continue
            first, last = read_starts.get(i, ("", 1.0)), read_ends.get(i, ("", 1.0))
            out[i] = (first[0] + e.core + last[0], min(e.confidence, first[1], last[1]))
        return out

    def _read_ends(self, ends: dict[int, _End]) -> dict[int, tuple[str, float]]:
        """Each end's character: as the line read it where it did, else read from its cell."""
        cells = {i: e.cell for i, e in ends.items() if e.cell is not None}
        read = self._recogniser.read_character(list(cells.values()), [ends[i].allowed for i in cells])
        return {i: e.read for i, e in ends.items() if e.read is not None} | dict(zip(cells, read, strict=True))

    def _readable(self, m: _Measured) -> bool:
        return m.char_px >= self.min_char_px and m.sharpness >= self.min_sharpness

    def _unread(self, m: _Measured, reason: Unread | None = None) -> PlateRead:
        if reason is None:
            reason = Unread.TOO_SMALL if m.char_px < self.min_char_px else Unread.BLURRED
        return PlateRead(None, 0.0, m.box, m.char_px, reason)


def agreed_plate(plates: list[str], framings: int) -> str | None:
    """The plate that the framings of one box agree on, given the valid plates they read: the one
    most of them read, or the only one any of them reads (None where none, or where others read
    other plates and none has most). A framing that catches the vehicle beside the plate reads a
    character too many (粤Z·7156澳口), which is no plate: it does not vote against the framing that
    reads the plate; a framing that reads another plate does."""
    votes = Counter(plates).most_common()
    if not votes or (votes[0][1] * 2 <= framings and len(votes) > 1):
        return None
    return votes[0][0]


def judge_office_letter(line: TextLine) -> TextLine:
    """The line with its office letter (a plate's second character, the first after the province)
    as sure as its share of the letters' probability at its step: a digit never stands there, so the
    model's belief in a 2 beside a Z it read (苏Z·9333警, the Z at 0.42) does not make the Z doubtful.
    The character read is never changed: only a letter the line read, and that the letters' share
    also chooses, is judged so."""
    kept = [k for k, ch in enumerate(line.text) if ch not in SEPARATORS]
    if len(kept) < 2:
        return line
    index = kept[1] if _is_cjk(line.text[kept[0]]) else kept[0]
    judged = line.choose(index, OFFICE_LETTERS) if line.text[index] in OFFICE_LETTERS else None
    if judged is None or judged[0] != line.text[index]:
        return line
    scores = list(line.char_scores)
    scores[index] = judged[1]
    return dataclasses.replace(line, char_scores=tuple(scores))


@dataclass(frozen=True, slots=True)
class _Measured:
    box: tuple[int, int, int, int]
    char_px: float
    sharpness: float
    patch: np.ndarray


@dataclass(frozen=True, slots=True)
class _End:
    """The Chinese character at one end of a line, among the characters that can stand there
    (`allowed`): as the line itself read it (`read`), or to be read from `cell`, a part of the line."""

    allowed: str
    read: tuple[str, float] | None = None
    cell: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class _Ends:
    """A line that reads a plate once the Chinese character before (`start`) and/or after (`end`)
    its other characters (`core`) is read from these cells; `confidence` that of the core."""

    core: str
    confidence: float
    start: _End | None
    end: _End | None


@lru_cache(maxsize=512)
def _completions(core: str) -> tuple[str, str]:
    """The characters that make `core` a plate before it (province place) and after it (suffix):
    before alone, after alone, or one at each end, the first of these that makes any plate. (Up to
    240 format checks: the framings of a box mostly read one core, so it is worked out once.)"""
    for before, after in ((PROVINCES + "使", ""), ("", SUFFIXES), (PROVINCES + "使", SUFFIXES)):
        pairs = [(a, b) for a in list(before) or [""] for b in list(after) or [""] if parse_plate(a + core + b)]
        if pairs:
            return "".join(dict.fromkeys(a for a, _ in pairs)), "".join(dict.fromkeys(b for _, b in pairs))
    return "", ""


def _end_cells(image: np.ndarray, line: TextLine) -> _Ends | None:
    """Where a line reads a plate but its first or last Chinese character (dropped, read as a
    character no plate prints there, or read under DOUBTFUL), how to read that character.

    One the line read in doubt is taken from the line itself, among the characters that can stand
    there, where the model gave those enough probability at its step: read in context, it is better
    evidence than its cell (a doubtful 粤 at 0.65, the rest of the step on characters no plate prints
    there, is 粤 among the provinces). Otherwise it is read from its cell: the line before the first (after
    the last) of its other characters, a fifth of a character pitch (their median spacing) short of it.
    """
    kept = [
        (k, ch, x, p)
        for k, (ch, x, p) in enumerate(zip(line.text, line.positions, line.char_scores, strict=True))
        if ch not in SEPARATORS
    ]
    head = tail = None  # where the line read a doubtful first (last) character: its index in the line
    if kept and _is_cjk(kept[0][1]) and (kept[0][1] not in PROVINCES + "使" or kept[0][3] < DOUBTFUL):
        head, kept = kept[0][0], kept[1:]
    if kept and _is_cjk(kept[-1][1]) and (kept[-1][1] not in SUFFIXES or kept[-1][3] < DOUBTFUL):
        tail, kept = kept[-1][0], kept[:-1]
    core = "".join(ch for _, ch, _, _ in kept)
    if len(kept) < 5 or parse_plate(core) is not None:
        return None
    before, after = _completions(core)
    if not before and not after:
        return None
    width = image.shape[1]
    xs = [x * width for _, _, x, _ in kept]
    pitch = float(np.median(np.diff(xs)))
    pad = round(0.3 * image.shape[0])
    start = end = None
    if before:
        start = _on_line(line, head, before)
        if start is None:
            right = round(xs[0] - CELL_GAP * pitch)
            if right < 0.6 * pitch:
                return None  # the line starts at its first character: no room for another before it
            cell = image[:, max(0, right - round(1.5 * pitch)) : right]
            start = _End(before, cell=cv2.copyMakeBorder(cell, 0, 0, pad, pad, cv2.BORDER_REPLICATE))
    if after:
        end = _on_line(line, tail, after)
        if end is None:
            left = round(xs[-1] + CELL_GAP * pitch)
            if width - left < 0.6 * pitch:
                return None
            cell = image[:, left : left + round(1.5 * pitch)]
            end = _End(after, cell=cv2.copyMakeBorder(cell, 0, 0, pad, pad, cv2.BORDER_REPLICATE))
    confidence = min((p for _, _, _, p in kept), default=0.0)
    return _Ends(core, confidence, start, end)


def _on_line(line: TextLine, index: int | None, allowed: str) -> _End | None:
    """The end character as the line read it at character `index`, if the line read one there and
    gave the allowed characters enough of its probability."""
    read = None if index is None else line.choose(index, allowed)
    return None if read is None else _End(allowed, read=read)


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def _inner(patch: np.ndarray) -> np.ndarray:
    """The patch without its outer rim (a plate's frame, or the background a loose box caught)."""
    h, w = patch.shape[:2]
    dy, dx = round(h * 0.08), round(w * 0.025)
    return patch[dy : h - dy, dx : w - dx] if h - 2 * dy >= 8 and w - 2 * dx >= 8 else patch


def _widened(patch: np.ndarray) -> np.ndarray:
    """The patch with its edge columns repeated on both sides: room before the first character."""
    pad = max(2, patch.shape[0] // 4)
    return cv2.copyMakeBorder(patch, 0, 0, pad, pad, cv2.BORDER_REPLICATE)


_FRAMINGS = (lambda patch: patch, _inner, _widened)


def _framings(patch: np.ndarray) -> list[np.ndarray]:
    return [framing(patch) for framing in _FRAMINGS]
