"""A booking page's colours, made safe to inline and readable (WCAG AA) whatever a gym picks."""
from __future__ import annotations

import re
from dataclasses import dataclass

HEX = re.compile(r"#[0-9a-fA-F]{6}")


def is_hex_color(value) -> bool:
    """A colour as #rrggbb and nothing else (fullmatch: no trailing newline slips through)."""
    return isinstance(value, str) and HEX.fullmatch(value) is not None
DEFAULT_BRAND = "#1f4fd1"
DEFAULT_ACCENT = "#ff7a1a"
WHITE = "#ffffff"
INK = "#15192b"


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def darken(color: str, factor: float) -> str:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{max(0, int(c * factor)):02x}" for c in (r, g, b))


def tint(color: str, share: float) -> str:
    """color-mix(in srgb, color share, white)."""
    channels = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c * share + 255 * (1 - share)):02x}" for c in channels)


# The strongest brand tint app.css puts behind brand-coloured text (free days on hover).
MAX_TINT = 0.18


def ink_for(brand: str) -> str:
    """Brand-coloured text readable (4.5:1) on white and on the brand's own light tints."""
    ink, background = brand, tint(brand, MAX_TINT)
    while contrast(ink, WHITE) < 4.5 or contrast(ink, background) < 4.5:
        ink = darken(ink, 0.9)
    return ink


def readable_on_white(color: str, ratio: float) -> str:
    """`color`, darkened just enough to reach `ratio` against white (links, outlines)."""
    while contrast(color, WHITE) < ratio:
        color = darken(color, 0.9)
    return color


@dataclass(frozen=True)
class Palette:
    brand: str          # buttons, selected day
    brand_contrast: str  # text on brand
    brand_ink: str       # brand-coloured text on white or a light brand tint (links, free days): ≥ 4.5:1
    accent: str          # decoration
    focus: str           # focus ring: ≥ 3:1 against white

    def css(self) -> str:
        """Declarations for :root. Every value was checked against HEX, so inlining is safe."""
        return (f"--brand:{self.brand};--brand-contrast:{self.brand_contrast};--brand-ink:{self.brand_ink};"
                f"--accent:{self.accent};--focus:{self.focus};")


def palette(primary: str | None, accent: str | None) -> Palette:
    brand = primary if is_hex_color(primary) else DEFAULT_BRAND
    accent = accent if is_hex_color(accent) else DEFAULT_ACCENT
    on_brand = WHITE if contrast(brand, WHITE) >= contrast(brand, INK) else INK
    if contrast(brand, on_brand) < 4.5:
        # Mid-tones where neither white nor ink reaches AA: deepen the brand under white text.
        brand, on_brand = readable_on_white(brand, 4.5), WHITE
    focus = accent if contrast(accent, WHITE) >= 3 else readable_on_white(brand, 3)
    return Palette(brand=brand.lower(), brand_contrast=on_brand, brand_ink=ink_for(brand).lower(),
                   accent=accent.lower(), focus=focus.lower())


def safe_logo_url(url: str | None) -> str | None:
    """`url` if it may be shown as a logo — an http(s) address or a path on this site — else None.
    A path is on this site only if no browser would read it as another host's ("//host", "/\\host")."""
    if not url or "\\" in url:
        return None
    if url.startswith(("https://", "http://")) or (url.startswith("/") and not url.startswith("//")):
        return url
    return None
