"""image_size against Pillow: images written by a library nobody here wrote.

Pillow is in Synapse's environment (it makes Synapse's thumbnails), so the
images are made there, in a subprocess; the app itself never imports it.
"""
from __future__ import annotations

import json
import subprocess

from app.core.imagesize import image_size

MAKE = r"""
import json, sys
from pathlib import Path
from PIL import Image, ImageOps
out = Path(sys.argv[1])
def gradient(mode, size):
    img = Image.new("RGB", size)
    img.putdata([(x * 5 % 256, y * 9 % 256, 99) for y in range(size[1]) for x in range(size[0])])
    return img.convert(mode)
made = {}
def save(name, img, **options):
    img.save(out / name, **options)
    with Image.open(out / name) as back:
        made[name] = list(ImageOps.exif_transpose(back).size)
save("rgb.png", gradient("RGB", (37, 23)))
save("palette.png", gradient("P", (40, 30)))
save("anim.gif", gradient("P", (41, 29)))
save("baseline.jpg", gradient("RGB", (120, 80)), quality=80)
save("progressive.jpg", gradient("RGB", (121, 79)), progressive=True)
exif = Image.Exif(); exif[0x0112] = 6
save("sideways.jpg", gradient("RGB", (160, 90)), exif=exif.tobytes())
save("lossy.webp", gradient("RGB", (50, 20)), quality=70)
save("lossless.webp", gradient("RGB", (51, 21)), lossless=True)
save("alpha.webp", gradient("RGBA", (52, 22)), quality=70)  # VP8X (extended) with alpha
save("rgb.bmp", gradient("RGB", (33, 17)))
save("big-icc.jpg", gradient("RGB", (64, 64)), icc_profile=b"\0" * 6000)  # frame header past 4 KiB
print(json.dumps(made))
"""


def test_sizes_match_pillow(synapse_python, tmp_path):
    made = json.loads(subprocess.run([str(synapse_python), "-c", MAKE, str(tmp_path)], check=True,
                                     capture_output=True, text=True, timeout=120).stdout)
    assert len(made) == 11
    for name, (width, height) in made.items():
        head = (tmp_path / name).read_bytes()[:4096]
        expected = None if name == "big-icc.jpg" else (width, height)
        assert image_size(head) == expected, name
    assert made["sideways.jpg"] == [90, 160]  # stored 160x90, shown upright
