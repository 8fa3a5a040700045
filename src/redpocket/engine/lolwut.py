"""LOLWUT's computer art: Redis 5's Schotter and Redis 6's skyline, drawn as redis-server draws them.

The canvas, the line and square primitives and both pictures follow
``lolwut.c``, ``lolwut5.c`` and ``lolwut6.c`` step for step, single
precision floats included (they decide the size of the picture), so a
picture has Redis's dimensions, rendering and caption; the random parts
come from Python's generator instead of C's ``rand()``.
"""

from __future__ import annotations

import math
import random
import struct
from typing import Final

_RAND_MAX: Final = 2**31 - 1
_FLOAT32: Final = struct.Struct("f")


def _f32(value: float) -> float:
    """Round a double to single precision (a C ``float``)."""
    return float(_FLOAT32.unpack(_FLOAT32.pack(value))[0])


def _rand() -> int:
    """Return what C's ``rand()`` returns: an integer in ``0..RAND_MAX``."""
    return random.randint(0, _RAND_MAX)


def _c_round(value: float) -> int:
    """Round half away from zero, as C's ``round``."""
    return math.floor(value + 0.5) if value >= 0 else -math.floor(-value + 0.5)


class Canvas:
    """A grid of pixels with a colour each (``lwCanvas``); drawing outside it does nothing."""

    __slots__ = ("height", "pixels", "width")

    def __init__(self, width: int, height: int, background: int = 0) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray([background]) * (width * height)

    def draw_pixel(self, x: int, y: int, color: int) -> None:
        """Set one pixel (``lwDrawPixel``)."""
        if 0 <= x < self.width and 0 <= y < self.height:
            self.pixels[x + y * self.width] = color

    def pixel(self, x: int, y: int) -> int:
        """Return one pixel's colour, 0 outside the canvas (``lwGetPixel``)."""
        if 0 <= x < self.width and 0 <= y < self.height:
            return self.pixels[x + y * self.width]
        return 0

    def draw_line(self, x1: int, y1: int, x2: int, y2: int, color: int) -> None:
        """Draw a line with Bresenham's algorithm (``lwDrawLine``)."""
        dx, dy = abs(x2 - x1), abs(y2 - y1)
        sx = 1 if x1 < x2 else -1
        sy = 1 if y1 < y2 else -1
        err = dx - dy
        while True:
            self.draw_pixel(x1, y1, color)
            if x1 == x2 and y1 == y2:
                break
            e2 = err * 2
            if e2 > -dy:
                err -= dy
                x1 += sx
            if e2 < dx:
                err += dx
                y1 += sy

    def draw_square(self, x: int, y: int, size: float, angle: float, color: int) -> None:
        """Draw a square centred on ``x, y``, rotated by ``angle`` (``lwDrawSquare``)."""
        size = _f32(_c_round(_f32(size / 1.4142135623)))
        k = _f32(math.pi / 4 + angle)
        xs, ys = [], []
        for _ in range(4):
            xs.append(_c_round(math.sin(k) * size + x))
            ys.append(_c_round(math.cos(k) * size + y))
            k = _f32(k + math.pi / 2)
        for j in range(4):
            self.draw_line(xs[j], ys[j], xs[(j + 1) % 4], ys[(j + 1) % 4], color)


def _braille(canvas: Canvas) -> bytes:
    """Render a canvas as braille characters, 2x4 pixels each (lolwut5's ``renderCanvas``)."""
    pixel = canvas.pixel
    lines = bytearray()
    for y in range(0, canvas.height, 4):
        for x in range(0, canvas.width, 2):
            byte = (pixel(x, y) | pixel(x, y + 1) << 1 | pixel(x, y + 2) << 2 | pixel(x + 1, y) << 3
                    | pixel(x + 1, y + 1) << 4 | pixel(x + 1, y + 2) << 5 | pixel(x, y + 3) << 6
                    | pixel(x + 1, y + 3) << 7)
            lines += chr(0x2800 + byte).encode()
        if y != canvas.height - 1:
            lines += b"\n"
    return bytes(lines)


def schotter(columns: int = 66, squares_per_row: int = 8, squares_per_column: int = 12) -> bytes:
    """Draw Georg Nees's Schotter (LOLWUT VERSION 5): rows of squares, more disordered as they go down."""
    columns = min(max(columns, 1), 1000)
    squares_per_row = min(max(squares_per_row, 1), 200)
    squares_per_column = min(max(squares_per_column, 1), 200)
    canvas_width = columns * 2
    padding = 2 if canvas_width > 4 else 0
    side = _f32(_f32(canvas_width - padding * 2) / squares_per_row)
    canvas_height = int(_f32(_f32(side * squares_per_column) + padding * 2))
    canvas = Canvas(canvas_width, canvas_height)
    for y in range(squares_per_column):
        for x in range(squares_per_row):
            sx = int(_f32(_f32(_f32(x * side) + _f32(side / 2)) + padding))
            sy = int(_f32(_f32(_f32(y * side) + _f32(side / 2)) + padding))
            angle = 0.0
            if y > 1:
                r1, r2, r3 = (_f32(_f32(_f32(_rand() / _RAND_MAX) / squares_per_column) * y) for _ in range(3))
                if _rand() % 2:
                    r1 = -r1
                if _rand() % 2:
                    r2 = -r2
                if _rand() % 2:
                    r3 = -r3
                angle = r1
                sx = int(_f32(sx + _f32(_f32(r2 * side) / 3)))
                sy = int(_f32(sy + _f32(_f32(r3 * side) / 3)))
            canvas.draw_square(sx, sy, side, angle, 1)
    return _braille(canvas)


_COLORS: Final = {0: b"0;30;40m", 1: b"0;90;100m", 2: b"0;37;47m", 3: b"0;97;107m"}


def _skyscraper(canvas: Canvas, offset: int, width: int, height: int, windows: bool, color: int) -> None:
    """Draw one building from the ground up, its roof narrower, its windows lit at random (``generateSkyscraper``)."""
    start_y = canvas.height - 1
    end_y = start_y - height + 1
    for y in range(start_y, end_y - 1, -1):
        for x in range(offset, offset + width):
            if y == end_y and (x <= offset + 1 or x >= offset + width - 2):
                continue
            pixel_color = color
            if windows and offset + 1 < x < offset + width - 2 and end_y + 1 < y < start_y - 1:
                relative_x = x - (offset + 1)
                relative_y = y - (end_y + 1)
                if relative_x // 2 % 2 and relative_y % 2:
                    while True:
                        pixel_color = 1 + _rand() % 2
                        if pixel_color != color:
                            break
                    if relative_x % 2:
                        pixel_color = canvas.pixel(x - 1, y)
            canvas.draw_pixel(x, y, pixel_color)


def skyline(columns: int = 80, rows: int = 20) -> bytes:
    """Draw a city skyline in terminal colours (LOLWUT VERSION 6)."""
    columns = min(max(columns, 1), 1000)
    rows = min(max(rows, 1), 1000)
    canvas = Canvas(columns, rows, 3)
    height = canvas.height
    for color in (2, 1):  # the lighter buildings behind
        offset = -10
        while offset < canvas.width:
            offset += _rand() % 8
            width = 10 + _rand() % 9
            if color == 2:
                tall = height // 2 + (_rand() % height) // 2
            else:
                tall = height // 2 + (_rand() % height) // 3
            _skyscraper(canvas, offset, width, tall, False, color)
            offset += width // 2 if color == 2 else width + 1
    offset = -10
    while offset < canvas.width:
        offset += _rand() % 8
        width = 5 + _rand() % 14
        if width % 4:
            width += width % 3
        tall = height // 3 + (_rand() % height) // 2
        _skyscraper(canvas, offset, width, tall, True, 0)
        offset += width + 5
    text = bytearray()
    for y in range(canvas.height):
        for x in range(canvas.width):
            text += b"\033[%s \033[0m" % _COLORS.get(canvas.pixel(x, y), b"0;30;40m")
        if y != canvas.height - 1:
            text += b"\n"
    return bytes(text)
