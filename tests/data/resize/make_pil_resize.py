#!/usr/bin/env python3
"""Makes the PIL reference data for tests/test_image.cpp's ImageResize.MatchesPil (run once; the output
is committed, so neither the build nor the tests need Pillow).

Two source images (seeded noise over gradients and hard edges, so both smooth and near-tie pixels
occur) are written as binary PPM, and each is resized with Pillow's Image.resize(BICUBIC) to shrinking,
enlarging and mixed sizes; every result is written as CASE.ppm next to this script, with manifest.txt
listing `source width height output` per line. Run: python3 make_pil_resize.py (needs Pillow).
"""
import os
import random

from PIL import Image, __version__ as pil_version

HERE = os.path.dirname(os.path.abspath(__file__))


def source(w, h, seed):
    rnd = random.Random(seed)
    px = bytearray()
    for y in range(h):
        for x in range(w):
            edge = 255 if ((x // 7) + (y // 5)) % 2 else 0  # a checkerboard of 7x5 cells
            grad = (x * 255) // max(w - 1, 1)
            noise = rnd.randrange(256)
            px += bytes(((edge + noise) // 2, (grad * 3 + noise) // 4, (edge + grad + (y * 255) // max(h - 1, 1)) // 3))
    return Image.frombytes("RGB", (w, h), bytes(px))


def main():
    sources = {"src_a": source(97, 61, 1), "src_b": source(40, 30, 2)}
    cases = [("src_a", 37, 23), ("src_a", 64, 48), ("src_a", 15, 9), ("src_a", 150, 101), ("src_a", 97, 30),
             ("src_b", 113, 77), ("src_b", 7, 5), ("src_b", 40, 61)]
    for name, img in sources.items():
        img.save(os.path.join(HERE, name + ".ppm"))
    lines = [f"# Pillow {pil_version} Image.resize(BICUBIC); made by make_pil_resize.py"]
    for name, w, h in cases:
        out = f"{name}_{w}x{h}.ppm"
        sources[name].resize((w, h), Image.Resampling.BICUBIC).save(os.path.join(HERE, out))
        lines.append(f"{name}.ppm {w} {h} {out}")
    with open(os.path.join(HERE, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
