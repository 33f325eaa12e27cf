"""A synthetic licence-plate set: mainland plates rendered in their real layouts on real vehicle crops.

No bundled footage shows a readable plate, so plates are drawn: the blue standard, yellow
large-vehicle, white police, black Hong Kong / Macau cross-border and green new-energy layouts
(GA 36-2018 proportions, 1 px per mm before scaling), lettered with the CJK font setup.sh installs,
then perspective-warped, scaled to a character height, blurred and noised like a real camera's
picture and pasted on a vehicle region of streams/vtest.avi upscaled to a close camera's size
(the plate a third of the vehicle's width), and finally JPEG- or H.264-compressed.

`make_case(seed, char_px)` builds one case; `plate_set(n)` a deterministic set of `n` with character
heights spread over 10-40 px. `python tests/plate_set.py DIR` writes a set as JPEGs + truth.csv.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scene_clips import vtest_frame_at

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS = "0123456789"
VEHICLES = ((641, 42, 725, 102), (731, 50, 766, 95))  # the parked van and car in vtest (768x576)
# layout name: (panel BGR, character BGR, plate width mm, characters); all are 140 mm high, characters 90 mm
LAYOUTS = {
    "blue": ((160, 70, 10), (255, 255, 255), 440, 7),
    "yellow": ((20, 190, 245), (20, 20, 20), 440, 7),
    "white_police": ((245, 245, 245), (20, 20, 20), 440, 7),
    "black_hk": ((25, 25, 25), (250, 250, 250), 440, 7),
    "green": ((90, 200, 110), (20, 20, 20), 480, 8),
}
CHAR_MM = 90.0


@dataclass(frozen=True)
class PlateCase:
    """One synthetic case: the vehicle crop, the plate written on it, its layout and character height."""

    crop: np.ndarray
    plate: str
    layout: str
    char_px: float
    box: tuple[int, int, int, int]  # where the plate was pasted, crop pixels


def random_plate(rng: np.random.Generator, layout: str) -> str:
    province = PROVINCES[rng.integers(len(PROVINCES))]
    letter = LETTERS[rng.integers(len(LETTERS))]
    alnum = LETTERS + DIGITS * 2

    def pick(chars: str, n: int) -> str:
        return "".join(chars[i] for i in rng.integers(len(chars), size=n))

    if layout == "green":
        if rng.random() < 0.5:
            return f"{province}{letter}{'DF'[rng.integers(2)]}{pick(alnum, 1)}{pick(DIGITS, 4)}"
        return f"{province}{letter}{pick(DIGITS, 5)}{'DF'[rng.integers(2)]}"
    if layout == "white_police":
        return f"{province}{letter}{pick(DIGITS, 4)}警"
    if layout == "black_hk":
        return f"粤Z{pick(DIGITS, 4)}{'港澳'[rng.integers(2)]}"
    if layout == "yellow" and rng.random() < 0.3:
        return f"{province}{letter}{pick(DIGITS, 4)}{'学挂'[rng.integers(2)]}"
    return f"{province}{letter}{pick(alnum, 5)}"


@lru_cache(maxsize=256)
def _glyph(char: str) -> np.ndarray:
    """The character's ink as a float mask, stretched to a plate character's 45 x 90 mm box."""
    font = ImageFont.truetype(str(FONT), 120)
    canvas = Image.new("L", (160, 160), 0)
    ImageDraw.Draw(canvas).text((20, 0), char, fill=255, font=font)
    ink = np.asarray(canvas)
    ys, xs = np.nonzero(ink > 40)
    tight = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return tight.astype(np.float32) / 255.0


def render_plate(plate: str, layout: str) -> np.ndarray:
    """The plate at 1 px per mm (140 px high) in its layout, with the separator dot after 2 characters."""
    panel, ink, width, count = LAYOUTS[layout]
    image = np.zeros((140, width, 3), np.float32)
    image[:] = panel
    if layout == "green":  # new-energy panels fade from white-green at the top to green
        fade = np.linspace(0.55, 0.0, 140, dtype=np.float32)[:, None, None]
        image = image * (1 - fade) + 245 * fade
    cv2.rectangle(image, (4, 4), (width - 5, 135), ink if layout != "black_hk" else (250, 250, 250), 2)
    char_w = 45.0 if count == 7 else 43.0
    gap, big_gap = (12.0, 34.0) if count == 7 else (9.0, 49.0)
    x = (width - count * char_w - (count - 2) * gap - big_gap) / 2
    for i, char in enumerate(plate):
        glyph = _glyph(char)
        w = char_w if not ("\u4e00" <= char <= "\u9fff") else char_w + 2
        mask = cv2.resize(glyph, (round(w), round(CHAR_MM)), interpolation=cv2.INTER_AREA)[:, :, None]
        colour = (30, 30, 220) if char == "警" else ink
        y0, x0 = 25, round(x)
        region = image[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]]
        region[:] = region * (1 - mask) + np.array(colour, np.float32) * mask
        x += char_w + (big_gap if i == 1 else gap)
        if i == 1:
            cv2.circle(image, (round(x - big_gap / 2), 70), 5, ink, -1)
    return image


def make_case(
    seed: int,
    char_px: float,
    layout: str | None = None,
    blur: float | None = None,
    plate: str | None = None,
    vehicle: int | None = None,
) -> PlateCase:
    """One vehicle crop with a rendered plate whose characters are `char_px` high (deterministic in `seed`).

    `layout`, `blur` (Gaussian sigma in pixels), `plate` and `vehicle` (index into VEHICLES) are drawn
    at random unless given."""
    rng = np.random.default_rng(seed)
    layout = layout or list(LAYOUTS)[rng.integers(len(LAYOUTS))]
    plate = plate or random_plate(rng, layout)
    flat = render_plate(plate, layout)
    scale = char_px / CHAR_MM
    h, w = flat.shape[:2]
    # perspective: the camera looks down and to one side; the plate may be slightly rotated
    yaw = rng.uniform(-0.18, 0.18)
    tilt = rng.uniform(0.0, 0.12)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32(
        [
            [w * tilt * 0.5, h * max(0, yaw)],
            [w * (1 - tilt * 0.5), h * max(0, -yaw)],
            [w, h * (1 - max(0, -yaw))],
            [0, h * (1 - max(0, yaw))],
        ]
    )
    angle = np.deg2rad(rng.uniform(-4, 4))
    rotation = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = (dst - dst.mean(0)) @ rotation.T * scale
    dst -= dst.min(0)
    out_w, out_h = (int(np.ceil(v)) + 1 for v in dst.max(0))
    warp = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    plate_img = cv2.warpPerspective(flat, warp, (out_w, out_h), flags=cv2.INTER_AREA)
    alpha = cv2.warpPerspective(np.ones((h, w), np.float32), warp, (out_w, out_h), flags=cv2.INTER_AREA)
    # the vehicle: a real vtest vehicle region at a random moment, upscaled around the plate
    vx0, vy0, vx1, vy1 = VEHICLES[rng.integers(len(VEHICLES)) if vehicle is None else vehicle]
    frame = vtest_frame_at(float(rng.uniform(0, 75)))
    vehicle_w = out_w / rng.uniform(0.28, 0.42)
    vehicle_h = vehicle_w * (vy1 - vy0) / (vx1 - vx0)
    crop = cv2.resize(frame[vy0:vy1, vx0:vx1], (round(vehicle_w), round(vehicle_h)), interpolation=cv2.INTER_CUBIC)
    crop = crop.astype(np.float32)
    px = int(rng.uniform(0.2, 0.8) * (crop.shape[1] - out_w))
    py = int(rng.uniform(0.55, 0.8) * (crop.shape[0] - out_h))
    region = crop[py : py + out_h, px : px + out_w]
    region[:] = region * (1 - alpha[:, :, None]) + plate_img * alpha[:, :, None]
    sigma = rng.uniform(0.3, 1.0) * max(1.0, char_px / 25) if blur is None else blur
    crop = cv2.GaussianBlur(crop, (0, 0), sigma) + rng.normal(0, rng.uniform(1, 4), crop.shape)
    crop = np.clip(crop, 0, 255).astype(np.uint8)
    crop = _h264(crop, rng) if rng.random() < 0.3 else _jpeg(crop, int(rng.integers(40, 90)))
    return PlateCase(crop, plate, layout, char_px, (px, py, px + out_w, py + out_h))


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def _h264(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The picture after an H.264 round trip at a camera-like quality (CRF 23-32)."""
    h, w = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    image = np.ascontiguousarray(image[:h, :w])
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = w, h, "yuv420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"crf": str(int(rng.integers(23, 33))), "preset": "veryfast", "tune": "zerolatency"}
    packets = codec.encode(av.VideoFrame.from_ndarray(image, format="bgr24")) + codec.encode(None)
    decoder = av.CodecContext.create("h264", "r")
    frames = [f for p in packets for f in decoder.decode(p)] + decoder.decode(None)
    return frames[0].to_ndarray(format="bgr24")


def plate_set(count: int = 200, first_seed: int = 1000) -> list[PlateCase]:
    """`count` cases with character heights spread evenly over 10-40 px, every layout represented."""
    heights = np.linspace(10, 40, count)
    return [make_case(first_seed + i, float(px)) for i, px in enumerate(heights)]


def main(folder: str) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "truth.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "plate", "layout", "char_px", "x0", "y0", "x1", "y1"])
        for i, case in enumerate(plate_set()):
            name = f"{i:03d}.jpg"
            cv2.imwrite(str(out / name), case.crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
            writer.writerow([name, case.plate, case.layout, f"{case.char_px:.1f}", *case.box])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "plate-set")
