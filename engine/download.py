"""`python -m engine download PRESET`: a preset's weights into `data/models/<preset>`, through the hub client.

Owners meet two failures here more than any other: a disk that fills up an hour into a 20 GB
download, and a download cut off halfway. So the sizes come from the hub's file metadata first and
free disk is checked before a single weight file is fetched. A connection cut partway is resumed
by the hub client itself (it asks for the rest with a Range request); a run that stops keeps every
file that finished, and running the same command again fetches only the rest. (A file that was
half done then starts over: huggingface_hub 2.x keeps no partial file across runs.)
`model_index.json` is put in place last: the loader treats a folder that has one as a complete
model, so a half-finished folder is never mistaken for weights.

Only what diffusers loads is fetched: `model_index.json` and the folders of the components it
lists (hub repos often hold other checkpoints too; LTX-Video's hold hundreds of GB), and in each
folder safetensors rather than a duplicate in another format, the default rather than a variant.
Torch-free: it runs before anything is installed that a render needs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.presets import Preset
from engine.settings import EngineSettings

_WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".msgpack", ".h5", ".onnx")
_VARIANT = re.compile(r"\.(fp16|fp32|bf16|non_ema|ema)(?=\.)")
INDEX = "model_index.json"


class DownloadFailed(RuntimeError):
    """A download that cannot go on; the message is one line for the owner, saying what to do."""


class NotEnoughDisk(DownloadFailed):
    pass


@dataclass(frozen=True)
class Plan:
    """What a download will fetch, decided before it starts."""

    repo: str
    revision: str  # the commit every file is fetched at, so files from two commits never mix
    folder: Path
    files: dict[str, int]  # repo path -> size in bytes, model_index.json included
    missing: dict[str, int]  # the files not yet complete in `folder`

    @property
    def need_bytes(self) -> int:
        return sum(self.missing.values())


def gib(n: float) -> str:
    """A size for people: GiB for weights, MiB below one GiB so a small model does not read as 0."""
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _components(index: dict[str, object]) -> list[str]:
    """The component folders a model_index.json names (a null entry is an optional part left out)."""
    return [
        name
        for name, spec in index.items()
        if not name.startswith("_") and isinstance(spec, list) and len(spec) == 2 and None not in spec
    ]


def select_files(sizes: dict[str, int], components: Iterable[str]) -> dict[str, int]:
    """The files diffusers needs out of a repo listing: the components' folders, one format each."""
    chosen = {INDEX: sizes[INDEX]} if INDEX in sizes else {}
    for name in components:
        inside = {p: s for p, s in sizes.items() if p.startswith(f"{name}/")}
        has_safetensors = any(p.endswith(".safetensors") for p in inside)
        for path, size in inside.items():
            if path.endswith(_WEIGHTS):
                if has_safetensors and not path.endswith(".safetensors"):
                    continue  # the same weights in an older format
                plain = _VARIANT.sub("", path)
                if plain != path and plain in inside:
                    continue  # fp16 / ema variants of weights that also exist as the default
            chosen[path] = size
    return chosen


def _complete(folder: Path, path: str, size: int) -> bool:
    try:
        return (folder / path).stat().st_size == size
    except OSError:
        return False


def _free_bytes(folder: Path) -> int:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _hub_error(preset: Preset, exc: Exception) -> DownloadFailed:
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    if isinstance(exc, GatedRepoError):
        why = "the repository is gated: accept its terms on the hub and set HF_TOKEN"
    elif isinstance(exc, RepositoryNotFoundError):
        why = f"the hub has no repository {preset.source!r} (or it is private: set HF_TOKEN)"
    else:
        why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no details'}"
    return DownloadFailed(
        f"Downloading {preset.name!r} stopped: {why}. Files that finished are kept; run the same command "
        "again to carry on where it stopped."
    )


def _staging(folder: Path) -> Path:
    """Where model_index.json waits until every other file is in place (inside the hub client's own
    metadata folder, which the loader never looks at)."""
    return folder / ".cache" / "promptreel"


def plan_download(preset: Preset, settings: EngineSettings) -> Plan:
    """Ask the hub what the preset's weights are and how big; fetches only model_index.json."""
    from huggingface_hub import HfApi, hf_hub_download

    if preset.source.startswith("builtin:"):
        raise DownloadFailed(f"{preset.name!r} is built on this machine; there is nothing to download.")
    if settings.offline:
        raise DownloadFailed("PROMPTREEL_OFFLINE is set: unset it to download weights from the hub.")
    folder = settings.resolved_models_dir / preset.name
    try:
        info = HfApi().model_info(preset.source, files_metadata=True)
        sizes = {s.rfilename: int(s.size or 0) for s in info.siblings or []}
        if INDEX not in sizes:
            raise DownloadFailed(f"{preset.source!r} has no {INDEX}: it is not a diffusers model.")
        staged = hf_hub_download(preset.source, INDEX, revision=info.sha, local_dir=_staging(folder))
    except DownloadFailed:
        raise
    except Exception as exc:  # every hub client failure (HTTP, connection, timeouts) ends the same way
        raise _hub_error(preset, exc) from exc
    index = json.loads(Path(staged).read_text(encoding="utf-8"))
    files = select_files(sizes, _components(index))
    missing = {p: s for p, s in files.items() if not _complete(folder, p, s)}
    return Plan(repo=preset.source, revision=str(info.sha), folder=folder, files=files, missing=missing)


def check_disk(plan: Plan) -> None:
    """Refuse before the first weight file when the disk cannot hold what is still missing."""
    free = _free_bytes(plan.folder)
    if plan.need_bytes > free:
        raise NotEnoughDisk(
            f"Not enough disk for {plan.repo}: {gib(plan.need_bytes)} still to download into {plan.folder}, "
            f"{gib(free)} free there. Free some space or set PROMPTREEL_MODELS_DIR to a bigger disk."
        )


def download(preset: Preset, settings: EngineSettings, plan: Plan | None = None) -> Path:
    """Fetch the preset's weights with the hub client's progress bars on stderr; returns the folder."""
    from huggingface_hub import snapshot_download

    plan = plan or plan_download(preset, settings)
    check_disk(plan)
    weights = sorted(p for p in plan.files if p != INDEX)
    try:
        plan.folder.mkdir(parents=True, exist_ok=True)
        snapshot_download(plan.repo, revision=plan.revision, local_dir=plan.folder, allow_patterns=weights)
    except OSError as exc:
        if exc.errno == 28:  # ENOSPC: something else filled the disk meanwhile
            raise NotEnoughDisk(
                f"The disk under {plan.folder} filled up while downloading {plan.repo}."
            ) from exc
        raise _hub_error(preset, exc) from exc
    except Exception as exc:
        raise _hub_error(preset, exc) from exc
    for path, size in plan.files.items():
        if path != INDEX and not _complete(plan.folder, path, size):
            raise DownloadFailed(f"{path} of {plan.repo} did not arrive complete; run the command again.")
    tmp = plan.folder / f".{INDEX}.tmp"
    shutil.copyfile(_staging(plan.folder) / INDEX, tmp)
    os.replace(tmp, plan.folder / INDEX)
    return plan.folder
