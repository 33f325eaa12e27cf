"""Scene model per camera: static new objects and camera tamper, without a class model."""

from __future__ import annotations

from pydantic import Field

from edge.config.base import Section


class SceneConfig(Section):
    enabled: bool = Field(default=False, description="run the background model on analysed frames")
    work_width: int = Field(
        default=160,
        ge=64,
        le=640,
        description="smallest width in pixels of the downscaled view the scene model works on "
        "(frames are shrunk by a whole factor, so 768 px becomes 192)",
    )
    warmup_s: float = Field(
        default=10.0,
        ge=0.0,
        le=600.0,
        description="media seconds of frames whose per-pixel median becomes the first background "
        "(people walking through are left out of it)",
    )
    background_tau_s: float = Field(
        default=60.0, gt=0.0, le=86400.0, description="time constant of the background's adaptation where it is visible"
    )
    diff_threshold: float = Field(
        default=30.0,
        ge=4.0,
        le=200.0,
        description="0-255 levels a pixel must differ from the background, after lighting compensation, "
        "to count as changed",
    )
    static_after_s: float = Field(
        default=30.0,
        ge=1.0,
        le=86400.0,
        description="a change must stay this many media seconds before it becomes a static object",
    )
    min_area_fraction: float = Field(
        default=0.002, gt=0.0, le=0.5, description="smallest static object, as a fraction of the frame's area"
    )
    present_fraction: float = Field(
        default=0.3,
        gt=0.0,
        lt=1.0,
        description="a static object stays while at least this fraction of its pixels still differ "
        "from the background; below it the area counts as returned to background",
    )
    min_new_structure: float = Field(
        default=12.0,
        ge=0.0,
        le=500.0,
        description="mean Sobel gradient, in and around a still change, that the background there (in the frame's "
        "local light) does not explain, for it to be an object: wet asphalt, a shadow or lamplight change the "
        "brightness of a region and keep its edges, and are made background instead",
    )
    infrared_chroma: float = Field(
        default=2.5,
        ge=0.0,
        le=64.0,
        description="colour variation (mean absolute deviation of blue-green and red-green, 0-255 levels) below which "
        "the picture is the camera's infrared night mode (a constant cast still counts as grey); a switch between "
        "colour and infrared re-bases the background",
    )
    low_light_level: float = Field(
        default=50.0,
        ge=0.0,
        le=255.0,
        description="mean level (0-255) of a colour picture below which the mode is low_light",
    )
    rebase_s: float = Field(
        default=4.0,
        ge=0.0,
        le=600.0,
        description="media seconds of frames whose median becomes the background after a switch between colour "
        "and infrared (static objects are kept meanwhile)",
    )
    ignore_classes: list[str] = Field(
        default_factory=lambda: ["person"],
        description="static changes that the detector mostly sees as these classes are not reported "
        "(a person standing still is not clutter)",
    )
    tamper_confirm_s: float = Field(
        default=3.0,
        ge=0.0,
        le=600.0,
        description="a tamper condition must hold this long before it is reported, "
        "and the view must be back this long before it ends",
    )
    move_threshold: float = Field(
        default=0.02,
        gt=0.0,
        le=0.5,
        description="global shift, as a fraction of the width, that counts as a moved camera",
    )
    moved_changed_fraction: float = Field(
        default=0.2,
        gt=0.0,
        le=1.0,
        description="this fraction of the view differing from the background, spread over most of the view, "
        "counts as a re-aimed camera (a turn or zoom that no single shift explains)",
    )
    cover_contrast: float = Field(
        default=0.25,
        gt=0.0,
        lt=1.0,
        description="contrast below this fraction of the usual contrast counts as a covered lens",
    )
    blur_ratio: float = Field(
        default=0.3,
        gt=0.0,
        lt=1.0,
        description="sharpness below this fraction of the usual sharpness counts as blurred",
    )


class ViewChangeConfig(Section):
    """A change of view ends every candidate's dwell (edge/scene/viewchange.py); runs for every camera."""

    enabled: bool = Field(default=True, description="compare each analysed frame with the previous one")
    work_width: int = Field(
        default=160,
        ge=48,
        le=640,
        description="smallest width in pixels of the grey copy compared (the frame is shrunk by a whole factor)",
    )
    columns: int = Field(
        default=16,
        ge=4,
        le=64,
        description="tiles across the view, rows follow the aspect ratio (16 x 12 for 4:3); small tiles make a "
        "re-aim of a few percent of the width change most of them",
    )
    tile_correlation: float = Field(
        default=0.55,
        gt=-1.0,
        lt=1.0,
        description="a tile whose pattern correlates below this with the same tile before counts as changed",
    )
    min_changed_share: float = Field(
        default=0.75,
        gt=0.0,
        le=1.0,
        description="this share of the textured tiles changing at once is a new view (a cut, a preset switch, "
        "a re-aim); passers-by and traffic change only some of them",
    )
    shake_tolerance: float = Field(
        default=0.03,
        ge=0.0,
        le=0.1,
        description="a global shift between two frames of up to this fraction of the width is a shake (wind on the "
        "mast) and is undone before comparing; a larger re-aim is compared as it is",
    )
    min_texture: float = Field(
        default=4.0,
        gt=0.0,
        le=64.0,
        description="grey-level standard deviation a tile needs in both frames to be compared "
        "(flat sky, walls or a covered lens say nothing about the view)",
    )
    min_compared: float = Field(
        default=0.2,
        gt=0.0,
        le=1.0,
        description="share of tiles that must be textured for a decision; below it (a covered lens, darkness) the "
        "frame is not judged and the next one is compared with the last judged frame",
    )


class ChangeGateConfig(Section):
    """Change-gated inference (edge/scene/change.py): a frame whose zones look as they did on the last
    frame the detector saw keeps that frame's detections, and the detector's time goes to other cameras."""

    enabled: bool = Field(default=True, description="skip the detector where no zone of the camera changed")
    work_width: int = Field(
        default=96,
        ge=32,
        le=640,
        description="smallest width in pixels of the grey copy compared (the frame is shrunk by a whole factor: "
        "768 px becomes 96, one cell per 8 x 8 pixels)",
    )
    cell_threshold: float = Field(
        default=10.0,
        gt=0.0,
        le=255.0,
        description="0-255 grey levels a cell's mean must differ from the same cell of the last inferred frame "
        "to count as changed (compression noise moves a cell's mean by a few levels)",
    )
    min_changed_cells: int = Field(
        default=2,
        ge=1,
        le=10000,
        description="changed cells inside one zone's region that make the detector run (a person 30 px away "
        "covers about a dozen cells at 768 px)",
    )
    margin: float = Field(
        default=0.05,
        ge=0.0,
        le=0.5,
        description="the region watched around each zone's bounding box, as a fraction of the frame: an object "
        "whose box reaches into the zone is watched before its anchor point enters",
    )
    max_reuse_s: float = Field(
        default=10.0,
        gt=0.0,
        le=3600.0,
        description="media seconds a frame's detections may stand in for later frames; then the detector runs "
        "again whatever the change measure says (a change too slow for it is still re-checked); never more than "
        "half the shortest gap_allowance_s or clear_after_s of the camera's rules",
    )
