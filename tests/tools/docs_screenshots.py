"""Copy the browser tests' screenshots that the README's admin walkthrough shows from
var/screenshots/ to docs/screenshots/, cropped to the part the text is about and made
smaller (half the width, 256-colour PNG). Run after the browser tests:

    .venv/bin/python -m pytest tests/e2e/test_browser_admin_pages.py
    .venv/bin/python tests/tools/docs_screenshots.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "var" / "screenshots"
TARGET = ROOT / "docs" / "screenshots"
WIDTH = 880

# name -> (left, top, right, bottom) in the 1280-pixel-wide screenshot; None: all of it.
SHOTS: dict[str, tuple[int, int, int, int] | None] = {
    "connection-onelogin": (300, 80, 1280, 1620),
    "setup-link-page": (0, 0, 1280, 1080),
    "setup-link-test-login": (0, 0, 1280, 860),
    "dashboard-refusal": (0, 50, 960, 660),
    "persona-preview": (330, 80, 1280, 1290),
}


def main() -> int:
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, box in SHOTS.items():
        image = Image.open(SOURCE / f"{name}.png").convert("RGB")
        if box is not None:
            image = image.crop((box[0], box[1], box[2], min(box[3], image.height)))
        if image.width > WIDTH:
            image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.LANCZOS)
        image.quantize(colors=256).save(TARGET / f"{name}.png", optimize=True)
        print(f"{name}.png {image.width}x{image.height}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
