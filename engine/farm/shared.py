"""Clips too big for Redis: a folder both sides see, or an S3-compatible bucket.

A worker on a rented machine puts a clip above `farm_inline_max_bytes` in the shared place and
names it in its result; the bot takes it from there into its clips folder and removes it. The
bot takes only what lies directly in the place it configured itself (a file in the shared
folder, an object under the bucket's prefix), so a worker can never make the bot move or read
anything else. S3 credentials come from boto3's usual chain (`AWS_ACCESS_KEY_ID` and
`AWS_SECRET_ACCESS_KEY`, or `~/.aws`) on each machine; `PROMPTREEL_FARM_S3_ENDPOINT` points at
an S3-compatible service (MinIO, Cloudflare R2, Backblaze B2) instead of AWS.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from engine.farm.protocol import FarmConfigError

# An object name a worker may give: its own file name, nothing that climbs or nests.
_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}\.mp4")


class Bucket:
    """`s3://bucket/prefix` on AWS or at `endpoint`; the client is made on first use."""

    def __init__(self, url: str, endpoint: str | None = None) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise FarmConfigError(
                f"PROMPTREEL_FARM_SHARED_URL must look like s3://bucket/prefix, not {url!r}"
            )
        self.name = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.endpoint = endpoint
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3
            except ImportError as exc:  # the farm extra brings it
                raise FarmConfigError(
                    'an s3:// shared place needs boto3: pip install "promptreel[farm]"'
                ) from exc
            self._client = boto3.client("s3", endpoint_url=self.endpoint)
        return self._client

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def url_of(self, name: str) -> str:
        return f"s3://{self.name}/{self._key(name)}"

    def name_in(self, url: str) -> str | None:
        """The object name if `url` lies directly under this bucket's prefix, else None."""
        head = self.url_of("")
        if not url.startswith(head):
            return None
        name = url[len(head) :]
        return name if _NAME.fullmatch(name) and ".." not in name else None

    def put(self, path: Path) -> str:
        self.client.upload_file(str(path), self.name, self._key(path.name))
        return self.url_of(path.name)

    def take(self, url: str, dest: Path) -> None:
        """Download the object to `dest`, then remove it from the bucket."""
        name = self.name_in(url)
        assert name is not None, "only a checked url is taken"
        self.client.download_file(self.name, self._key(name), str(dest))
        self.remove(url)

    def remove(self, url: str) -> None:
        name = self.name_in(url)
        if name is not None:
            with contextlib.suppress(Exception):  # gone already, or unreachable: nothing to keep
                self.client.delete_object(Bucket=self.name, Key=self._key(name))


class SharedPlace:
    """Where a worker puts big clips and the bot takes them from, as the settings say."""

    def __init__(self, settings: Any) -> None:
        self.folder: Path | None = settings.farm_shared_dir
        url = settings.farm_shared_url or None  # an empty line in .env means unset
        # The folder wins when both are set: nothing to pay per request.
        self.bucket = None
        if url is not None and self.folder is None:
            self.bucket = Bucket(url, settings.farm_s3_endpoint or None)
        self.inline_max = settings.farm_inline_max_bytes

    def fits_inline(self, path: Path) -> bool:
        return (self.folder is None and self.bucket is None) or path.stat().st_size <= self.inline_max

    def put(self, path: Path, worker: str) -> dict[str, str]:
        """Move the clip to the shared place; the result fields that name it."""
        name = f"{worker.replace(':', '-')}-{path.name}"
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self.folder / name
            shutil.move(path, target)
            return {"clip_path": str(target)}
        assert self.bucket is not None
        renamed = path.with_name(name)
        path.rename(renamed)
        return {"clip_url": self.bucket.put(renamed)}

    def owns(self, result: dict[str, Any]) -> bool:
        """Whether the result names a clip in this place (and nowhere else the bot could reach)."""
        path, url = result.get("clip_path"), result.get("clip_url")
        if self.folder is not None and isinstance(path, str) and url is None:
            return Path(path).resolve().parent == self.folder.resolve() and Path(path).suffix == ".mp4"
        if self.bucket is not None and isinstance(url, str) and path is None:
            return self.bucket.name_in(url) is not None
        return False

    def take(self, result: dict[str, Any], dest: Path) -> None:
        """Bring the clip `owns(result)` approved to `dest` and clear it from the shared place."""
        if result.get("clip_url") is not None and self.bucket is not None:
            self.bucket.take(result["clip_url"], dest)
        else:
            shutil.move(result["clip_path"], dest)

    def discard(self, result: dict[str, Any]) -> None:
        """A refused result's clip, if it lies in the shared place, goes."""
        if not self.owns(result):
            return
        if result.get("clip_url") is not None and self.bucket is not None:
            self.bucket.remove(result["clip_url"])
        else:
            with contextlib.suppress(OSError):
                Path(result["clip_path"]).unlink()
