"""Text-line recognition with PaddleOCR's PP-OCRv6 small recogniser (ONNX, CTC), on onnxruntime.

The model reads one line of text from a BGR image scaled to 48 px high; its 18,708-character
dictionary (the province characters, 使领警学挂港澳 and "·" among them) is stored in the ONNX
metadata `character`. The model card is models/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from edge.infer import ModelError
from edge.plates.validate import ALPHABET, fold

LINE_HEIGHT = 48  # the recogniser's input height
MIN_CHARACTER_MASS = 0.15  # the least probability the allowed characters must have at one step (bench_plates: 0 wrong)
BATCH_SPREAD = 1.25  # lines up to this much wider than a batch's narrowest run in that batch
STRIDE = 8  # input columns per output step
MAX_LINE_WIDTH = 480  # a plate line is at most ~5x as wide as high; wider crops are squeezed


PLATE_CHARACTERS = "".join(sorted(ALPHABET))  # the columns of TextLine.plate_probs
_PLATE_COLUMN = {ch: i for i, ch in enumerate(PLATE_CHARACTERS)}


@dataclass(frozen=True, slots=True, eq=False)
class TextLine:
    """What the recogniser read on one line: the text, each character's probability and where its
    centre is, as a share of the line image's width; and at each character's step, the probability
    of every character a plate prints (`plate_probs`, columns in PLATE_CHARACTERS order)."""

    text: str
    char_scores: tuple[float, ...]
    positions: tuple[float, ...]
    plate_probs: np.ndarray

    def confidence(self, ignore: str = "") -> float:
        """The weakest character's probability, leaving out characters in `ignore` (separators):
        one doubtful character makes the whole line doubtful."""
        return min((s for ch, s in zip(self.text, self.char_scores, strict=True) if ch not in ignore), default=0.0)

    def choose(self, index: int, allowed: str) -> tuple[str, float] | None:
        """The character of `allowed` at the step of character `index`, and its share of their
        probability there; None where they hold under MIN_CHARACTER_MASS of it (the model saw
        something else there)."""
        probs = self.plate_probs[index, [_PLATE_COLUMN[ch] for ch in allowed]]
        return _share(probs, allowed)


class TextRecogniser:
    """One onnxruntime session for the recogniser, read on a batch of line images at a time."""

    def __init__(self, path: Path, threads: int = 1, stretch: float = 1.0) -> None:
        self.stretch = stretch
        if not path.is_file():
            raise ModelError(
                f"plate recogniser model {path} does not exist (setup.sh puts the default there:"
                " .venv/bin/python scripts/fetch_plate_model.py)"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
            raise ModelError(f"plate recogniser model {path} cannot be loaded: {exc}") from None
        characters = self._session.get_modelmeta().custom_metadata_map.get("character")
        if not characters:
            raise ModelError(f"plate recogniser model {path} has no 'character' dictionary in its metadata")
        # CTC: index 0 is the blank, then the dictionary, then a space
        self._characters = ["", *characters.splitlines(), " "]
        self._input = self._session.get_inputs()[0].name
        self._index = {ch: i for i, ch in enumerate(self._characters) if ch}
        self._variants = _variants(self._characters, self._index)
        missing = [ch for ch in PLATE_CHARACTERS if ch not in self._index]
        if missing:
            raise ModelError(f"plate recogniser model {path} cannot read the plate characters {''.join(missing)}")
        self._plate_columns = np.array([self._index[ch] for ch in PLATE_CHARACTERS])

    def _folded(self, probs: np.ndarray) -> np.ndarray:
        """Each plate character's probability with its variants' added (粤 + 粵, A + a + Ａ), held by
        the plate character's own entry; the variants' entries are zeroed."""
        members, starts, heads = self._variants
        if len(members):
            sums = np.add.reduceat(probs[:, members], starts, axis=1)
            probs[:, members] = 0.0
            probs[:, heads] = sums
        return probs

    def _run(self, lines: list[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
        """Per-step probabilities of each BGR line image and the width it was scaled to. Lines of
        about one width run as one batch; a batch pads each line to its widest, so one long line
        would make every other line in it as costly."""
        widths = [
            min(MAX_LINE_WIDTH, max(8, round(self.stretch * LINE_HEIGHT * i.shape[1] / max(1, i.shape[0]))))
            for i in lines
        ]
        out: list[np.ndarray] = [np.empty(0)] * len(lines)
        order = sorted(range(len(lines)), key=widths.__getitem__)
        while order:
            batch_of = [i for i in order if widths[i] <= BATCH_SPREAD * widths[order[0]]]
            order = order[len(batch_of) :]
            batch = np.zeros((len(batch_of), 3, LINE_HEIGHT, widths[batch_of[-1]]), np.float32)
            for row, i in enumerate(batch_of):
                resized = cv2.resize(lines[i], (widths[i], LINE_HEIGHT), interpolation=cv2.INTER_LINEAR)
                batch[row, :, :, : widths[i]] = resized.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0
            for row, probs in zip(batch_of, self._session.run(None, {self._input: batch})[0], strict=True):
                out[row] = self._folded(probs)
        return out, widths

    def read(self, lines: list[np.ndarray]) -> list[TextLine]:
        """Read each BGR line image."""
        if not lines:
            return []
        probs, widths = self._run(lines)
        return [self._decode(p, w) for p, w in zip(probs, widths, strict=True)]

    def read_character(self, images: list[np.ndarray], allowed: list[str]) -> list[tuple[str, float]]:
        """The character of its `allowed` in each image, and how sure: at the step where the model
        gives `allowed` most of its probability, the best one's share of it, or 0 when that is under
        MIN_CHARACTER_MASS (the model sees no such character there)."""
        if not images:
            return []
        probs, _ = self._run(images)
        out = []
        for p, chars in zip(probs, allowed, strict=True):
            sub = p[:, [self._index[ch] for ch in chars]]  # every plate character is known (checked at load)
            step = int(sub.sum(axis=1).argmax())
            out.append(_share(sub[step], chars) or (chars[int(sub[step].argmax())], 0.0))
        return out

    def _decode(self, probs: np.ndarray, width: int) -> TextLine:
        """Greedy CTC: best class per step, repeats merged, blanks dropped."""
        best = probs.argmax(axis=1)
        score = probs.max(axis=1)
        keep = best != 0
        keep[1:] &= best[1:] != best[:-1]
        chars = [self._characters[i] for i in best[keep]]
        steps = np.flatnonzero(keep)
        # a multi-character entry (none in this dictionary) would misalign text and scores: keep one per entry
        return TextLine(
            "".join(ch[:1] or " " for ch in chars),
            tuple(float(s) for s in score[keep]),
            tuple(float((STRIDE * k + STRIDE / 2) / width) for k in steps),
            probs[np.ix_(steps, self._plate_columns)],
        )


def _share(probs: np.ndarray, chars: str) -> tuple[str, float] | None:
    """The likeliest of `chars` (their probabilities `probs` at one step) and its share of them; None
    where they hold under MIN_CHARACTER_MASS of that step."""
    mass = float(probs.sum())
    if mass < MIN_CHARACTER_MASS:
        return None
    which = int(probs.argmax())
    return chars[which], float(probs[which]) / mass


def _variants(characters: list[str], index: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dictionary's entries that fold (`validate.fold`) to one plate character, grouped: the
    entries of every group (`members`), where each group starts in them, and the plate character's
    own entry per group (`heads`). Only characters with variants form groups."""
    groups: dict[int, list[int]] = {}
    for i, ch in enumerate(characters):
        folded = fold(ch) if ch else ""
        if folded in ALPHABET and folded in index:
            groups.setdefault(index[folded], []).append(i)
    groups = {head: members for head, members in groups.items() if len(members) > 1}
    members = [i for group in groups.values() for i in group]
    starts = np.cumsum([0, *(len(group) for group in groups.values())])[:-1]
    return np.array(members, np.int64), starts.astype(np.int64), np.array(list(groups), np.int64)
