"""Pictures and tables for humans: histograms, contact sheets, markdown tables.

Pure helpers (no Dagster): the assets turn these into UI metadata. Markdown images are embedded
as ``data:`` URIs, which the Dagster UI renders, so they are kept small.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# Embedded images above this many bytes are downscaled until they fit.
MAX_EMBED_BYTES = 150_000

_BACKGROUND = (24, 24, 24)  # sheet background, RGB
_LETTERBOX = (0, 0, 0)  # bars around a frame inside its cell
_LABEL_BG = (40, 40, 40)
_LABEL_FG = (235, 235, 235)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


# -- histograms --------------------------------------------------------------------------------


def histogram_png(
    values: Iterable[float],
    bins: int | Sequence[float] = 20,
    title: str = "",
    xlabel: str = "",
    *,
    size_in: tuple[float, float] = (5.0, 2.5),
    dpi: int = 80,
) -> bytes:
    """A compact histogram as PNG bytes (``size_in * dpi`` pixels; 400x200 by default)."""
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], np.float64)
    fig = Figure(figsize=size_in, dpi=dpi)
    FigureCanvasAgg(fig)
    # fixed margins (inches) for the count and value labels: tight_layout would draw the figure
    # once more to measure them, ~40% of the chart's cost, and a shard run draws ~60 of these
    width, height = size_in
    fig.subplots_adjust(left=0.6 / width, right=1 - 0.15 / width, bottom=0.5 / height,
                        top=1 - 0.3 / height)  # fmt: skip
    ax = fig.add_subplot()
    if data.size:
        ax.hist(data, bins=bins, color="#4c78a8", edgecolor="white", linewidth=0.5)
        ax.set_ylabel("count", fontsize=8)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_title(f"{title} (n={data.size})" if title else f"n={data.size}", fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(labelsize=7)
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)  # no bbox_inches: the size stays as asked
    return buffer.getvalue()


# -- contact sheets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetLayout:
    """Geometry of a contact sheet: a grid of fixed cells, each a letterboxed frame + label."""

    count: int
    columns: int
    rows: int
    tile_width: int
    image_height: int
    label_height: int
    gap: int

    @classmethod
    def for_tiles(
        cls, count: int, columns: int = 6, tile_width: int = 192, label_lines: int = 2
    ) -> SheetLayout:
        if columns < 1 or tile_width < 32:
            raise ValueError("a contact sheet needs columns >= 1 and tile_width >= 32")
        cols = max(1, min(columns, count))
        return cls(
            count=count,
            columns=cols,
            rows=max(1, math.ceil(count / cols)),
            tile_width=tile_width,
            image_height=int(round(tile_width * 9 / 16)),
            label_height=6 + 15 * label_lines,
            gap=4,
        )

    @property
    def cell_height(self) -> int:
        return self.image_height + self.label_height

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the whole sheet in pixels."""
        return (
            self.rows * self.cell_height + (self.rows + 1) * self.gap,
            self.columns * self.tile_width + (self.columns + 1) * self.gap,
        )

    def cell_origin(self, index: int) -> tuple[int, int]:
        """(x, y) of the top-left corner of cell ``index`` (row-major)."""
        row, col = divmod(index, self.columns)
        return (
            self.gap + col * (self.tile_width + self.gap),
            self.gap + row * (self.cell_height + self.gap),
        )

    def image_box(self, index: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the frame area of cell ``index`` (letterbox included)."""
        x, y = self.cell_origin(index)
        return x, y, x + self.tile_width, y + self.image_height


def letterbox(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Fit ``rgb`` inside ``width x height`` keeping its aspect ratio; bars fill the rest."""
    out = np.empty((height, width, 3), np.uint8)
    out[:] = _LETTERBOX
    image = _as_rgb(rgb)
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        return out
    scale = min(width / w, height / h)
    new_w, new_h = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    x0, y0 = (width - new_w) // 2, (height - new_h) // 2
    out[y0 : y0 + new_h, x0 : x0 + new_w] = resized
    return out


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
    return np.ascontiguousarray(image[..., :3])


def _fit_text(text: str, width: int, scale: float) -> str:
    """Cut ``text`` (with an ellipsis) so it fits ``width`` pixels at ``scale``."""
    if cv2.getTextSize(text, _FONT, scale, 1)[0][0] <= width:
        return text
    while text and cv2.getTextSize(text + "..", _FONT, scale, 1)[0][0] > width:
        text = text[:-1]
    return text + ".."


def _draw_label(sheet: np.ndarray, x: int, y: int, width: int, height: int, label: str) -> None:
    sheet[y : y + height, x : x + width] = _LABEL_BG
    scale = 0.42
    baseline_y = y + 16
    for line in label.splitlines():
        if baseline_y > y + height - 2:
            break
        text = _fit_text(line, width - 8, scale)
        cv2.putText(sheet, text, (x + 4, baseline_y), _FONT, scale, _LABEL_FG, 1, cv2.LINE_AA)
        baseline_y += 15


def contact_sheet(
    tiles: Sequence[tuple[np.ndarray, str]], columns: int = 6, tile_width: int = 192
) -> np.ndarray:
    """One cell per (RGB frame, label); frames of any aspect are letterboxed into 16:9 cells.

    Labels may hold two lines (``\\n``); longer lines are cut. With no tiles, a "no clips" card.
    Geometry is ``SheetLayout.for_tiles(len(tiles), columns, tile_width)``.
    """
    layout = SheetLayout.for_tiles(len(tiles), columns, tile_width)
    height, width = layout.size
    sheet = np.empty((height, width, 3), np.uint8)
    sheet[:] = _BACKGROUND
    if not tiles:
        x0, y0, x1, y1 = layout.image_box(0)
        sheet[y0:y1, x0:x1] = _LETTERBOX
        _draw_label(sheet, x0, y1, layout.tile_width, layout.label_height, "no clips")
        return sheet
    for index, (rgb, label) in enumerate(tiles):
        x0, y0, x1, y1 = layout.image_box(index)
        sheet[y0:y1, x0:x1] = letterbox(rgb, layout.tile_width, layout.image_height)
        _draw_label(sheet, x0, y1, layout.tile_width, layout.label_height, label)
    return sheet


def jpeg_bytes(rgb: np.ndarray, quality: int = 85) -> bytes:
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(_as_rgb(rgb), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ValueError("JPEG encoding failed")
    return encoded.tobytes()


def png_bytes(rgb: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(_as_rgb(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("PNG encoding failed")
    return encoded.tobytes()


# -- markdown ----------------------------------------------------------------------------------

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\|*_`[]<>"})


def md_escape(value: object) -> str:
    """Text safe inside a markdown table cell: no column breaks, no accidental formatting."""
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)
    else:
        text = str(value)
    return " ".join(text.split()).translate(_MD_SPECIAL)


def markdown_table(
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[str] | Mapping[str, str],
    empty: str = "_none_",
) -> str:
    """A GitHub-style table. ``columns`` is keys, or {key: header}. Numbers align right."""
    headers = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    if not rows:
        return empty
    keys = list(headers)

    def numeric(key: str) -> bool:
        present = [r.get(key) for r in rows if r.get(key) is not None]
        return bool(present) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in present
        )

    lines = [
        "| " + " | ".join(md_escape(headers[k]) for k in keys) + " |",
        "| " + " | ".join("---:" if numeric(k) else "---" for k in keys) + " |",
    ]
    lines += ["| " + " | ".join(md_escape(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def reasons_table(
    counts: Mapping[str, int],
    examples: Mapping[str, str] | None = None,
    *,
    what: str = "files",
    example_header: str = "example",
    reason_header: str = "reason",
    empty: str = "_none_",
) -> str:
    """Reason | count | example, most frequent first (ties by name)."""
    items = sorted(((r, n) for r, n in counts.items() if n), key=lambda item: (-item[1], item[0]))
    columns = {"reason": reason_header, "count": what}
    if examples is not None:
        columns["example"] = example_header
    rows = [{"reason": r, "count": n, "example": (examples or {}).get(r)} for r, n in items]
    return markdown_table(rows, columns, empty=empty)


def _data_uri_markdown(data: bytes, mime: str, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    alt = " ".join(alt.split()).replace("[", "(").replace("]", ")")
    return f"![{alt}](data:{mime};base64,{encoded})"


def _shrink(image: np.ndarray, encode, max_bytes: int) -> bytes:
    data = encode(image)
    while len(data) > max_bytes and min(image.shape[:2]) > 16:
        factor = max(0.5, min(0.9, math.sqrt(max_bytes / len(data)) * 0.95))
        new_size = (max(1, int(image.shape[1] * factor)), max(1, int(image.shape[0] * factor)))
        image = cv2.resize(image, new_size, interpolation=cv2.INTER_AREA)
        data = encode(image)
    return data


def png_markdown(png: bytes, alt: str, max_bytes: int = MAX_EMBED_BYTES) -> str:
    """``![alt](data:image/png;base64,...)``; the picture is downscaled until <= max_bytes."""
    if len(png) > max_bytes:
        decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            raise ValueError("not a decodable PNG")
        png = _shrink(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), png_bytes, max_bytes)
    return _data_uri_markdown(png, "image/png", alt)


def jpeg_markdown(
    rgb: np.ndarray, alt: str, max_bytes: int = MAX_EMBED_BYTES, quality: int = 80
) -> str:
    """An RGB image embedded as JPEG, downscaled until it fits ``max_bytes``."""
    data = _shrink(_as_rgb(rgb), lambda im: jpeg_bytes(im, quality), max_bytes)
    return _data_uri_markdown(data, "image/jpeg", alt)


def read_rgb(path) -> np.ndarray | None:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
