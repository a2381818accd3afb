"""Profile image benchmark: normalisation cost per format, and the catch-up query at
company scale.

    .venv/bin/python bench/media_bench.py [--users 100000] [--rounds 5]

Run by hand, never in the suite. Loopback only, bounded loops. It:
1. times media.imaging.image_normalise (validate, decode, orient, strip, resize,
   re-encode) on a 12-megapixel noisy JPEG (the kind a phone produces), a 2000x2000
   PNG, a 1024x1024 GIF and a 40000x40000 PNG bomb header (refused), median of rounds;
2. drops and recreates the database `axero_bench_media`, migrates it, inserts --users
   users with a photo URL (COPY-speed bulk insert), marks 90 % as handled and 5 % as
   failed recently, ANALYZEs, and times media.selectors.users_awaiting_photo_fetch
   (the every-15-minutes catch-up query), printing its plan.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "axero_bench_media"
os.environ.setdefault("SECRET_KEY", "bench-not-secret")
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "axero_idp.settings")


def _noisy_jpeg(width: int, height: int) -> bytes:
    from PIL import Image

    # Random noise at a low resolution, scaled up: compresses like a real photo.
    small = Image.frombytes("RGB", (width // 8, height // 8), os.urandom(width * height * 3 // 64))
    out = io.BytesIO()
    small.resize((width, height)).save(out, "JPEG", quality=92)
    return out.getvalue()


def _image(fmt: str, size: tuple[int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    image = Image.effect_mandelbrot(size, (-2.0, -1.5, 1.0, 1.5), 100).convert("RGB")
    image.save(out, fmt)
    return out.getvalue()


def bench_normalise(rounds: int) -> None:
    from media.errors import ImageRefused
    from media.imaging import image_normalise
    from tests.media.conftest import png_bomb

    cases = {
        "JPEG 4032x3024 (phone photo)": _noisy_jpeg(4032, 3024),
        "PNG 2000x2000": _image("PNG", (2000, 2000)),
        "GIF 1024x1024": _image("GIF", (1024, 1024)),
        "PNG bomb header 40000x40000": png_bomb(),
    }
    print("| input | bytes in | bytes out | median ms | min-max ms |")
    print("| --- | --- | --- | --- | --- |")
    for name, data in cases.items():
        times, out = [], 0
        for _ in range(rounds):
            start = time.perf_counter()
            try:
                out = len(image_normalise(data).data)
            except ImageRefused:
                out = 0
            times.append((time.perf_counter() - start) * 1000)
        print(
            f"| {name} | {len(data):,} | {out:,} | {statistics.median(times):.1f} "
            f"| {min(times):.1f}-{max(times):.1f} |"
        )


def bench_catch_up(users: int, rounds: int) -> None:
    subprocess.run(
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB_NAME], check=True
    )
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB_NAME], check=True)
    import datetime as dt
    import uuid

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from media.models import ProfileImage
    from media.selectors import users_awaiting_photo_fetch
    from users.models import User

    call_command("migrate", verbosity=0)
    rng = random.Random(7)
    now = timezone.now()
    batch: list[User] = []
    images: list[ProfileImage] = []
    start = time.perf_counter()
    for n in range(users):
        user = User(
            id=uuid.uuid4(),
            username=f"user{n}@example.com",
            photo_url=f"https://photos.example.com/{n}.jpg",
            password="!",
        )
        batch.append(user)
        roll = rng.random()
        if roll < 0.90:
            images.append(
                ProfileImage(user=user, storage_name=f"x/{n}.jpg", photo_url_handled=user.photo_url)
            )
        elif roll < 0.95:
            images.append(
                ProfileImage(
                    user=user,
                    last_failure_at=now - dt.timedelta(hours=1),
                    last_failure_url=user.photo_url,
                    last_failure_reason="image URL answered HTTP 404",
                )
            )
        if len(batch) == 5000:
            User.objects.bulk_create(batch)
            ProfileImage.objects.bulk_create(images)
            batch, images = [], []
    User.objects.bulk_create(batch)
    ProfileImage.objects.bulk_create(images)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"\nseeded {users:,} users in {time.perf_counter() - start:.1f} s")
    times = []
    found = 0
    for _ in range(rounds):
        start = time.perf_counter()
        found = len(
            users_awaiting_photo_fetch(limit=500, failure_retry_after=dt.timedelta(hours=24))
        )
        times.append((time.perf_counter() - start) * 1000)
    print(
        f"catch-up query (limit 500): {found} rows, median {statistics.median(times):.1f} ms "
        f"(min-max {min(times):.1f}-{max(times):.1f} ms over {rounds} rounds)"
    )
    from django.db.models import Exists, OuterRef

    cutoff = timezone.now() - dt.timedelta(hours=24)
    qs = (
        User.objects.exclude(photo_url="")
        .exclude(
            Exists(
                ProfileImage.objects.filter(
                    user_id=OuterRef("pk"), photo_url_handled=OuterRef("photo_url")
                )
            )
        )
        .exclude(
            Exists(
                ProfileImage.objects.filter(
                    user_id=OuterRef("pk"),
                    last_failure_url=OuterRef("photo_url"),
                    last_failure_at__gte=cutoff,
                )
            )
        )
        .order_by("updated_at", "pk")
        .values_list("pk", "photo_url")[:500]
    )
    print(qs.explain(analyze=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import django

    django.setup()
    bench_normalise(args.rounds)
    bench_catch_up(args.users, args.rounds)


if __name__ == "__main__":
    main()
