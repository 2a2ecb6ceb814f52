"""Command line for the render side: `python -m engine render|presets|download|check|worker|journal`,
`credentials` and `verify`.

Bad arguments exit with status 2 and a single line on stderr, so scripts and people both
see what went wrong without a traceback. stdout carries only results (a clip's path).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

from engine.presets import PRESETS, UnknownPreset, describe, get_preset
from engine.request import InvalidRequest, build_request


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m engine", description="Promptreel render engine")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    render = sub.add_parser("render", help="render one prompt to a file")
    render.add_argument("prompt")
    render.add_argument("--model", default=None, help="preset name (see `presets`)")
    render.add_argument("--neg", "--negative", dest="negative", default=None)
    render.add_argument("--frames", type=int, default=None)
    render.add_argument("--seconds", type=float, default=None)
    render.add_argument("--fps", type=int, default=None)
    render.add_argument("--width", type=int, default=None)
    render.add_argument("--height", type=int, default=None)
    render.add_argument("--ar", "--aspect", dest="aspect", default=None, help="e.g. 16:9")
    render.add_argument("--steps", type=int, default=None)
    render.add_argument("--guidance", type=float, default=None)
    render.add_argument("--seed", type=int, default=None)
    render.add_argument("--image", type=Path, default=None, help="start from this picture (PNG, JPEG, WebP)")
    render.add_argument("--extend", type=Path, default=None, help="continue this clip from its last frames")
    render.add_argument("--loop", action="store_true", help="end on the frame the clip starts from")
    render.add_argument("--out", type=Path, default=None)
    render.add_argument("--format", choices=("mp4", "gif", "webm"), default=None)
    render.add_argument("--max-bytes", type=_positive_int, default=None)

    sub.add_parser("presets", help="list the model presets with their defaults and limits")

    download = sub.add_parser("download", help="fetch a preset's weights into the models folder")
    download.add_argument("preset")
    check = sub.add_parser("check", help="will a preset fit this machine's GPU, with which memory option")
    check.add_argument("preset")
    check.add_argument("--gpu-memory", type=float, default=None, metavar="GIB",
                       help="check for a GPU of this many GiB instead of this machine's")  # fmt: skip

    worker = sub.add_parser("worker", help="run a worker that renders jobs from the journal")
    worker.add_argument("--db", type=Path, default=None, help="a journal on this machine (local backend)")
    worker.add_argument(
        "--redis", default=None, metavar="URL", help="render for a bot through Redis instead (the farm)"
    )
    worker.add_argument("--device", default=None, help="e.g. cuda:1, one worker process per GPU")
    worker.add_argument("--model", default=None)
    worker.add_argument("--name", default=None, help="worker id shown in leases (default host:pid)")
    worker.add_argument("--exit-when-idle", action="store_true", help="stop once the queue is empty")

    journal = sub.add_parser("journal", help="look after the job journal")
    jsub = journal.add_subparsers(dest="journal_command", required=True, parser_class=_Parser)
    backup = jsub.add_parser("backup", help="copy the journal consistently, even while the bot runs")
    backup.add_argument("path", type=Path, help="the new file to write (must not exist)")
    backup.add_argument("--db", type=Path, default=None, help="journal file (default data/promptreel.db)")

    credentials = sub.add_parser("credentials", help="content credentials (C2PA) for the clips")
    csub = credentials.add_subparsers(dest="credentials_command", required=True, parser_class=_Parser)
    init = csub.add_parser("init", help="make a local authority (ca.pem) and a signer (signer.pem/.key)")
    init.add_argument("--dir", type=Path, default=None, help="folder (default data/credentials)")
    init.add_argument("--org", default="Promptreel", help="organisation named in the certificates")
    init.add_argument("--force", action="store_true", help="replace credentials already there")

    verify = sub.add_parser("verify", help="check a clip's content credentials; recognise this bot's clips")
    verify.add_argument("file", type=Path)
    verify.add_argument("--trust", type=Path, default=None, help="authority to trust (PEM file)")
    verify.add_argument("--db", type=Path, default=None, help="journal to look fingerprints up in")
    return parser


class _ProgressBar:
    """A one-line bar on stderr; redrawn in place on a terminal, one line per step otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()

    def __call__(self, step: int, total: int) -> None:
        width = 24
        filled = width * step // max(1, total)
        line = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {step}/{total}"
        sys.stderr.write(("\r" + line) if self.tty else line + "\n")
        if self.tty and step == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "clip"


def cmd_render(args: argparse.Namespace) -> int:
    from engine.settings import EngineSettings

    settings = EngineSettings()
    preset = get_preset(args.model or settings.model)
    fmt = args.format or ((args.out.suffix.lstrip(".").lower() if args.out else "") or "mp4")
    if fmt not in ("mp4", "gif", "webm"):
        raise UsageError(f"unknown output format {fmt!r}; use mp4, gif or webm")
    image = _clean_image(args.image, settings) if args.image else None
    if args.extend and not args.extend.is_file():
        raise UsageError(f"no clip at {args.extend} to extend")
    request = build_request(
        args.prompt,
        model=preset,
        image=image,
        extend=str(args.extend.resolve()) if args.extend else None,
        loop=args.loop,
        negative_prompt=args.negative,
        frames=args.frames,
        seconds=args.seconds,
        fps=args.fps,
        width=args.width,
        height=args.height,
        aspect=args.aspect,
        steps=args.steps,
        guidance=args.guidance,
        seed=args.seed,
    )
    out = args.out or settings.resolved_clips_dir / f"{_slug(request.prompt)}-{request.seed}.{fmt}"

    from engine.render import Renderer

    renderer = Renderer(settings, preset)
    from engine.credentials import load_signing
    from engine.encode import encode_clip
    from engine.finish import sign

    # Only MP4 carries credentials here; GIF and WebM clips go out as they are.
    signing = load_signing(settings, warn_missing=False) if fmt == "mp4" else None
    [result] = renderer.render(request, on_progress=_ProgressBar(f"{preset.name} seed {request.seed}"))
    room = signing.room if signing is not None else 0
    if args.max_bytes is not None and room >= args.max_bytes:
        raise UsageError(f"--max-bytes {args.max_bytes} leaves no room for the content credentials")
    encode_clip(
        result.frames,
        out,
        fps=request.fps,
        fmt=fmt,
        max_bytes=None if args.max_bytes is None else args.max_bytes - room,
        metadata=request.clip_metadata(),
    )
    sign(out, signing, request, settings.bot_name)
    print(out)
    return 0


def _clean_image(path: Path, settings: Any) -> str:
    """The picture checked like a member's upload, stored cleaned beside the clips."""
    from engine.image import BadImage, clean

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"can't read {path}: {exc.strerror or exc}") from None
    try:
        cleaned = clean(data)
    except BadImage as exc:
        raise UsageError(str(exc)) from None
    return str(cleaned.save(settings.resolved_images_dir))


def cmd_presets(_args: argparse.Namespace) -> int:
    for preset in PRESETS.values():
        print(describe(preset))
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    """Weights into data/models/<preset>; the hub client draws the progress bars on stderr."""
    from engine.download import download, gib, plan_download
    from engine.settings import EngineSettings

    settings = EngineSettings()
    preset = get_preset(args.preset)
    plan = plan_download(preset, settings)
    print(
        f"{preset.name}: {len(plan.files)} files, {gib(sum(plan.files.values()))} from {plan.repo}; "
        f"{gib(plan.need_bytes)} still to fetch",
        file=sys.stderr,
    )
    print(download(preset, settings, plan))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Exit 0 when the preset fits this GPU (or the given one) with some memory option, 1 otherwise."""
    from engine.check import Gpu, report, this_gpu
    from engine.settings import EngineSettings

    settings = EngineSettings()
    preset = get_preset(args.preset)
    if args.gpu_memory is not None:
        if args.gpu_memory <= 0:
            raise UsageError("--gpu-memory must be positive")
        gpu: Gpu | None = Gpu("the GPU given", int(args.gpu_memory * 2**30), given=True)
    else:
        gpu = this_gpu(settings.device)
    lines, fits = report(preset, settings, gpu)
    print(f"{preset.name} ({preset.title}):")
    print("\n".join(lines))
    return 0 if fits else 1


def cmd_worker(args: argparse.Namespace) -> int:
    if args.redis is not None or (args.db is None and _backend() == "redis"):
        if args.db is not None or args.exit_when_idle:
            raise UsageError("--db and --exit-when-idle are for journal workers, not with --redis")
        from engine.farm.remote import run_remote_worker

        return run_remote_worker(url=args.redis, model=args.model, name=args.name, device=args.device)
    from engine.worker import run_worker_process

    if args.device is not None:
        raise UsageError("--device is for farm workers (--redis); set PROMPTREEL_DEVICE for this one")

    return run_worker_process(
        db=args.db, model=args.model, name=args.name, exit_when_idle=args.exit_when_idle
    )


def _backend() -> str:
    from engine.settings import EngineSettings

    return EngineSettings().render_backend


def cmd_journal(args: argparse.Namespace) -> int:
    """`journal backup PATH`: a consistent copy (one moment of the journal), printed on stdout."""
    from engine.journal import backup
    from engine.settings import EngineSettings

    db = args.db or EngineSettings().resolved_db_path
    print(backup(db, args.path))
    return 0


def cmd_credentials(args: argparse.Namespace) -> int:
    """`credentials init`: the three files' paths on stdout, one a line (authority first)."""
    from engine.credentials import make_authority
    from engine.settings import EngineSettings

    folder = args.dir or EngineSettings().credentials_dir
    made = make_authority(folder, organisation=args.org, force=args.force)
    print(made.ca)
    print(made.cert)
    print(made.key)
    return 0


# `verify` exit statuses, by verdict: scripts tell "intact" from "altered" from "unsigned".
VERIFY_STATUS = {"trusted": 0, "valid": 0, "changed": 1, "none": 3}


def cmd_verify(args: argparse.Namespace) -> int:
    """One line on stdout starting with trusted, valid, changed or none."""
    from engine.credentials import check_credentials, describe
    from engine.settings import EngineSettings

    if not args.file.is_file():
        raise UsageError(f"there is no file {args.file}")
    settings = EngineSettings()
    trust_path = args.trust or settings.resolved_c2pa_trust
    if args.trust is not None and not args.trust.is_file():
        raise UsageError(f"there is no authority file {args.trust}")
    trust = trust_path.read_text(encoding="utf-8", errors="replace") if trust_path else None
    verdict = check_credentials(args.file, trust)
    match = None
    db = args.db or settings.resolved_db_path
    if db.is_file():  # look-ups never create a journal where there was none
        match = _recognise_in(args.file, db, settings.busy_timeout_seconds)
    elif args.db is not None:
        raise UsageError(f"there is no journal {args.db}")
    print(describe(verdict, *(match or (None, None))))
    return VERIFY_STATUS[verdict.kind]


def _recognise_in(path: Path, db: Path, busy_timeout: float) -> tuple[int, float] | None:
    """The fingerprint look-up; a journal that cannot be read only loses the look-up, said on
    stderr, so the exit status still tells the credentials' verdict alone."""
    from engine.credentials import recognise
    from engine.journal import Journal, JournalError, is_storage_fault

    try:
        journal = Journal(db, busy_timeout=busy_timeout)
    except Exception as exc:
        if not (isinstance(exc, JournalError) or is_storage_fault(exc)):  # a lock held too long
            raise
        print(f"note: not looked up in the journal ({exc})", file=sys.stderr)
        return None
    try:
        return recognise(path, journal)
    finally:
        journal.close()


def main(argv: list[str] | None = None) -> int:
    from engine.credentials import AuthorityExists, SigningError
    from engine.download import DownloadFailed
    from engine.encode import EncodeError
    from engine.farm.protocol import FarmConfigError
    from engine.journal import JournalError
    from engine.presets import ModelUnavailable
    from engine.storage import FolderUnwritable

    try:
        args = build_parser().parse_args(argv)
        handlers = {
            "render": cmd_render,
            "presets": cmd_presets,
            "download": cmd_download,
            "check": cmd_check,
            "worker": cmd_worker,
            "journal": cmd_journal,
            "credentials": cmd_credentials,
            "verify": cmd_verify,
        }
        return handlers[args.command](args)
    except (UsageError, InvalidRequest, UnknownPreset) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (
        ModelUnavailable,
        EncodeError,
        JournalError,
        FolderUnwritable,
        DownloadFailed,
        AuthorityExists,
        SigningError,
        FarmConfigError,
    ) as exc:
        # EncodeError: e.g. a --max-bytes no encode can meet; its message is written for users.
        # JournalError, FolderUnwritable: storage the owner must fix, said in one line.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
