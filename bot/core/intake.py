"""Intake: a prompt becomes a queued job, or a polite refusal, and nothing in between.

The policy's layers run first, on the loop: the lists take well under a millisecond, and a
classifier is network or thread work that must not hold the journal's thread (or its write
lock) while it waits. Their verdict is then recorded, with admission, on the journal's thread
inside the transaction that records the job, so a refusal is recorded as such and a flood cannot
slip past a limit.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from bot import admission, i18n
from bot.core.answers import Answer, Requester, refused
from bot.core.base import CoreBase
from bot.core.events import JobEvent
from bot.flags import parse_prompt
from bot.i18n import texts
from bot.policy import clean
from bot.policy.layers import CLASSIFIER_CHOICES, LayerVerdict, ServerPolicy
from bot.quota import Quota
from bot.translation import TranslationUnavailable, looks_english
from engine import image as pictures
from engine.faces import FaceCheckUnavailable, count_faces
from engine.journal import Job, JobState, Journal, is_storage_fault
from engine.presets import get_preset
from engine.request import InvalidRequest, RenderRequest, build_request

log = logging.getLogger(__name__)


class Intake(CoreBase):
    async def submit_text(self, who: Requester, text: str, *, local_files: bool = False, **kw: Any) -> Answer:
        """Free text with inline flags. ``local_files`` is for the console alone: there `--image
        PATH` names a file on the bot's own machine, which no chat member may make it read."""
        try:
            parsed = parse_prompt(text)
        except InvalidRequest as exc:
            return refused("invalid", texts.invalid_request(exc))
        if parsed.image_path is not None:
            if not local_files:
                return refused("invalid", texts.IMAGE_PATHS_CONSOLE_ONLY)
            try:
                kw["image"] = await asyncio.to_thread(_read_local, parsed.image_path)
            except OSError as exc:
                return refused("invalid", texts.cannot_read_file(parsed.image_path, exc.strerror or str(exc)))
        return await self.submit(who, parsed.prompt, parsed.options, **kw)

    async def submit(
        self,
        who: Requester,
        prompt: str,
        options: dict[str, Any] | None = None,
        *,
        parent_id: int | None = None,
        reply: dict[str, Any] | None = None,
        image: bytes | None = None,
        post_id: str | None = None,
    ) -> Answer:
        """Queue a prompt, or refuse it. `post_id`: the network post it came from, so the same
        post read twice becomes one job (the second call answers `duplicate`)."""
        options = dict(options or {})
        if who.language:
            # The job's later messages (status, clip, failure) are sent from other tasks: they
            # read the requester's language here.
            reply = {**(reply or {}), "lang": who.language}
        model = options.pop("model", None) or self.settings.model
        if model not in self.models:
            return refused("invalid", texts.model_unavailable(model, self.models))
        if image is not None:
            picture = await self._picture(who, model, prompt, options, image)
            if isinstance(picture, Answer):
                return picture
            options["image"] = picture
        elif options.get("image") and not (await self.guild_config(who.guild_id)).image_input:
            # A re-roll of a picture's clip after the moderators turned pictures off.
            return refused("images_off", texts.IMAGES_OFF)
        if isinstance(options.get("negative_prompt"), str):
            # Stored, shown by /show and written into the clip like the prompt: cleaned the same way.
            options["negative_prompt"] = clean(options["negative_prompt"])
        model_prompt, note = prompt, None
        if not looks_english(prompt):
            model_prompt, note = await self._for_model(prompt)
            if model_prompt != prompt:  # the model reads the translation; the member sees theirs
                reply = {**(reply or {}), "prompt": clean(prompt)}
        try:
            request = build_request(clean(model_prompt), model=get_preset(model), **options)
        except InvalidRequest as exc:
            return refused("invalid", texts.invalid_request(exc))
        except TypeError:
            return refused("invalid", texts.OPTIONS_CLASH)

        try:
            cfg, doomed = await self.db.run(self._before_policy, who)
            server = self.server_policy(cfg)
            # The prompt as typed: cleaning drops bidi overrides, which the policy reads. A prompt
            # admission refuses anyway gets the lists alone (a refusal by them still counts).
            verdict = self.layers.lists(prompt, server) if doomed else await self.layers.check(prompt, server)
            if verdict.allowed and model_prompt != prompt:
                # What the model reads passes the lists too: they know English best.
                verdict = self.layers.lists(model_prompt, server)
            job, refusal, new = await self.db.run(
                self._intake, who, request, verdict, parent_id, reply, post_id
            )
        except Exception as exc:
            if not is_storage_fault(exc):
                raise
            # The machine's fault, not the member's: a plain refusal, and the reason in the log.
            self.intake_faults.failed(
                "journal", f"intake: cannot record prompts in {self.settings.resolved_db_path} ({exc})"
            )
            return refused("unavailable", texts.CANNOT_TAKE_PROMPTS)
        self.intake_faults.worked("journal", "intake: prompts are recorded")
        if not new:
            return Answer("duplicate", "", job_id=job.id if job else None)
        if refusal is not None:
            category = refusal.category or refusal.reason
            if job is not None:
                self.events.emit(JobEvent.of("refused", job, reason=refusal.reason, category=category))
            # A post's refusal names its recorded job: the network adapter tells it from one
            # refused before anything was recorded (bad flags), which it notes itself.
            return refused(
                refusal.reason,
                refusal.text,
                retry_after_s=refusal.retry_after_s,
                category=refusal.category,
                data={"layer": refusal.layer} if refusal.layer else {},
                job_id=job.id if post_id is not None and job is not None else None,
            )
        self.events.emit(JobEvent.of("queued", job, surface=job.adapter))
        if self.runtime is not None:
            self.runtime.wake()
        pos = await self.db.position(job.id)
        dispatcher = self.dispatchers.get(job.adapter)
        if pos is not None and dispatcher is not None:
            dispatcher.note_position(job.id, pos.position, pos.eta_s)
        position, eta_s = (pos.position, pos.eta_s) if pos else (0, 0.0)
        said = texts.queued(job.id, texts.queue_line(position, eta_s))
        return Answer(
            "queued",
            f"{said} {note}" if note else said,
            job_id=job.id,
            position=position,
            eta_s=eta_s,
            data={"note": note} if note else {},
        )

    async def _for_model(self, prompt: str) -> tuple[str, str]:
        """What the model reads of a prompt that is not in English, and the sentence saying so:
        the owner's translation when there is one that answers, else the prompt and a tip."""
        if self.translator is not None:
            try:
                return await self.translator.translate(prompt), texts.TRANSLATED
            except TranslationUnavailable as exc:
                log.warning("prompt left untranslated: %s", exc)
        return prompt, texts.NOT_ENGLISH

    def server_policy(self, cfg: admission.GuildConfig) -> ServerPolicy:
        """A server's settings as the policy's layers read them; unknown layers read as "off"."""
        choice = cfg.classifier or self.settings.classifier
        return ServerPolicy(
            classifier=choice if choice in CLASSIFIER_CHOICES else "off",
            disabled=frozenset(cfg.disabled_categories),
            blocked_words=cfg.blocked_words,
            allowed_phrases=cfg.allowed_phrases,
            owner_phrases=cfg.owner_phrases,
        )

    def _before_policy(self, journal: Journal, who: Requester) -> tuple[admission.GuildConfig, bool]:
        """The server's settings, and whether admission will refuse this member anyway."""
        cfg = admission.guild_config(journal, who.guild_id)
        limits = admission.Limits.resolve(self.settings, cfg)
        doomed = admission.refused_anyway(
            journal, user_id=who.user_id, guild_id=who.guild_id, limits=limits, cfg=cfg
        )
        return cfg, doomed

    def _intake(
        self,
        journal: Journal,
        who: Requester,
        request: RenderRequest,
        verdict: LayerVerdict,
        parent_id: int | None,
        reply: dict[str, Any] | None,
        post_id: str | None = None,
    ) -> tuple[Job | None, admission.Refusal | None, bool]:
        """The policy's verdict, then admission, in the transaction that records the job."""
        settings = self.settings

        def admit(journal: Journal) -> admission.Refusal | None:
            cfg = admission.guild_config(journal, who.guild_id)  # as of the lock: a pause counts
            if not verdict.allowed:
                journal.audit(
                    "refused", actor_id=None, guild_id=who.guild_id, user_id=who.user_id,
                    category=verdict.category, detail=texts.refused_by(verdict.layer, verdict.reason),
                )  # fmt: skip
                text = verdict.message
                if verdict.reason == "policy":
                    text = texts.policy_refusal(verdict.category, text)
                    text = f"{text} {texts.appeal_hint(verdict.category, who.guild_id is not None)}"
                return admission.Refusal(verdict.reason, text, category=verdict.category, layer=verdict.layer)
            limits = admission.Limits.resolve(settings, cfg)
            return admission.check(
                journal, user_id=who.user_id, guild_id=who.guild_id, limits=limits, cfg=cfg,
                quota=Quota.resolve(settings, cfg, who.roles),
            )  # fmt: skip

        journal_cfg = admission.guild_config(journal, who.guild_id)
        job = {
            "user_id": who.user_id,
            "user_name": who.user_name,
            "guild_id": who.guild_id,
            "channel_id": who.channel_id,
            "adapter": who.surface or self.adapter.name,
            "parent_id": parent_id,
            "reply": reply,
            "priority": Quota.resolve(settings, journal_cfg, who.roles).priority,
        }
        if post_id is not None:
            return journal.enqueue_post(job["adapter"], post_id, request, admit, **job)
        return (*journal.enqueue_if(request, admit, **job), True)

    async def _picture(
        self, who: Requester, model: str, prompt: str, options: dict[str, Any], data: bytes
    ) -> str | Answer:
        """An uploaded picture, checked and stored, or the refusal saying why not.

        Cheapest first: the server's switch, then the request without the picture (so a bad
        option never costs a decode), then the bytes, then the face check, off the loop.
        """
        cfg = await self.guild_config(who.guild_id)
        if not cfg.image_input:
            return refused("images_off", texts.IMAGES_OFF)
        try:
            build_request(clean(prompt), model=get_preset(model), **{**options, "image": "pending"})
        except InvalidRequest as exc:
            return refused("invalid", texts.invalid_request(exc))
        except TypeError:
            return refused("invalid", texts.OPTIONS_CLASH)
        try:
            cleaned = await asyncio.to_thread(pictures.clean, data)
        except pictures.BadImage as exc:
            return refused("invalid", texts.invalid_request(exc))
        if not cfg.allow_faces:
            try:
                faces = await asyncio.to_thread(count_faces, cleaned.png)
            except FaceCheckUnavailable as exc:
                log.warning("pictures refused: %s", exc)
                return refused("images_off", texts.FACE_CHECK_MISSING)
            if faces:
                return refused("face", texts.FACE_IN_PICTURE)
        if self.settings.output_check:
            # The same detector and threshold every rendered clip faces, before any GPU time.
            score = await asyncio.to_thread(_picture_score, cleaned.png)
            threshold = cfg.output_threshold
            if threshold is None:
                threshold = self.settings.output_check_threshold
            if score is not None and score >= threshold:
                return refused("picture_flagged", texts.PICTURE_FLAGGED)
        path = await asyncio.to_thread(cleaned.save, self.settings.resolved_images_dir.resolve())
        return str(path)

    async def extend(self, who: Requester, job_id: int, prompt: str = "", **kw: Any) -> Answer:
        """Continue a finished clip from its last frames, as a new fair job of its own.

        The same options (size, fps, seed) so the join does not jump; the same prompt unless a
        new one is given. The chain's whole length is capped by the server's owners' setting.
        """
        job = await self._own_clip(who, job_id)
        if isinstance(job, Answer):
            return job
        if job.state not in (JobState.RENDERED, JobState.DELIVERED) or not job.clip_path:
            return refused("not_ready", texts.EXTEND_NOT_READY)
        preset = get_preset(job.request.model)
        parsed_prompt, extra = job.request.prompt, {}
        if prompt.strip():
            try:
                parsed = parse_prompt(prompt)
            except InvalidRequest as exc:
                return refused("invalid", texts.invalid_request(exc))
            parsed_prompt, extra = parsed.prompt or job.request.prompt, parsed.options
        options = _options_of(job) | extra | {"extend": job.clip_path}
        options.pop("image", None)
        options.pop("loop", None)
        # The pipeline re-renders the last `extend_overlap` frames to continue from them, so a
        # segment is that overlap plus the new frames (by default as many as the clip had).
        own = job.request.frames - (preset.extend_overlap if job.request.extend else preset.frame_offset)
        new = extra.get("frames", max(1, own))
        if not isinstance(new, int) or isinstance(new, bool) or new < 1:
            return refused("invalid", texts.OPTIONS_CLASH)
        options["frames"] = preset.round_frames(preset.extend_overlap + new)
        added = options["frames"] - preset.extend_overlap
        total_s = await self._chain_seconds(job) + added / job.request.fps
        cfg = await self.guild_config(who.guild_id)
        limit_s = min(60.0, cfg.max_chain_seconds or self.settings.max_chain_seconds)
        if total_s > limit_s + 1e-6:
            return refused("too_long", texts.chain_too_long(total_s, limit_s))
        return await self.submit(who, parsed_prompt, options, parent_id=job.id, **kw)

    async def _chain_seconds(self, job: Job) -> float:
        """The length of the clip a member sees for ``job``: its own frames, and for an
        extension the clips before it less each overlap. At most ~60 steps (the 60 s cap)."""
        total, current, seen = 0.0, job, set()
        while current is not None and current.id not in seen:
            seen.add(current.id)
            r = current.request
            if not r.extend:
                return total + r.frames / r.fps
            overlap = get_preset(r.model).extend_overlap
            total += max(0, r.frames - overlap) / r.fps
            current = await self.db.get(current.parent_id) if current.parent_id else None
        return total

    async def _own_clip(self, who: Requester, job_id: int) -> Job | Answer:
        """The job to re-roll or remix, or the refusal: only its requester may (on every surface
        and path: buttons, commands, replies), and a job they cannot see does not exist for them."""
        job = await self.db.get(job_id)
        if job is None or not who.sees_job(job):
            return refused("not_found", texts.no_such_job(job_id))
        if job.user_id != who.user_id:
            return refused("not_yours", texts.NOT_YOUR_CLIP)
        return job

    async def reroll(self, who: Requester, job_id: int, **kw: Any) -> Answer:
        """The same prompt and options with a new seed."""
        job = await self._own_clip(who, job_id)
        if isinstance(job, Answer):
            return job
        options = _options_of(job)
        options.pop("seed")
        return await self.submit(who, job.request.prompt, options, parent_id=job.id, **kw)

    async def remix(self, who: Requester, job_id: int, prompt: str, **kw: Any) -> Answer:
        """A new prompt with the original's options and seed, so the change is the prompt alone."""
        job = await self._own_clip(who, job_id)
        if isinstance(job, Answer):
            return job
        try:
            parsed = parse_prompt(prompt)
        except InvalidRequest as exc:
            return refused("invalid", texts.invalid_request(exc))
        return await self.submit(
            who, parsed.prompt, _options_of(job) | parsed.options, parent_id=job.id, **kw
        )

    async def guild_config(self, guild_id: str | None) -> admission.GuildConfig:
        return await self.db.run(admission.guild_config, guild_id)

    async def language_of(self, guild_id: str | None, *preferred: object) -> str:
        """The language to answer someone in: the first of `preferred` that has a catalogue (a
        member's own app language, their server's), else the server's `/mod language`, else the
        bot's `PROMPTREEL_LANGUAGE`."""
        if any(i18n.supported(p) for p in preferred):
            return i18n.pick(*preferred)
        try:
            cfg = await self.guild_config(guild_id)
        except Exception as exc:
            if not is_storage_fault(exc):
                raise
            return i18n.pick(self.settings.language)  # intake itself says what is wrong
        return i18n.pick(cfg.language, self.settings.language)

    async def refusal_for_banned(self, who: Requester) -> Answer | None:
        """For actions that queue nothing (buttons): a banned user is refused there too."""
        reason = await self.db.ban_reason(who.user_id, who.guild_id)
        return None if reason is None else refused("banned", texts.BANNED)

    async def dms_allowed(self) -> bool:
        """DMs need the owner's setting and the moderators' bot-wide switch (`/mod dms`)."""
        return self.settings.allow_dms and (await self.guild_config(None)).allow_dms is not False


def _options_of(job: Job) -> dict[str, Any]:
    r = job.request
    return {
        "model": r.model,
        "negative_prompt": r.negative_prompt,
        "frames": r.frames,
        "fps": r.fps,
        "width": r.width,
        "height": r.height,
        "steps": r.steps,
        "guidance": r.guidance,
        "seed": r.seed,
        # A re-roll or remix of a picture's clip starts from the same stored picture.
        **({"image": r.image} if r.image else {}),
        **({"loop": True} if r.loop else {}),
        **({"extend": r.extend} if r.extend else {}),
    }


def _read_local(path: str) -> bytes:
    return Path(path).expanduser().read_bytes()


def _picture_score(png: bytes) -> float | None:
    """The output check's score of an upload; None without the detector (as for clips)."""
    import io

    import numpy as np
    from PIL import Image

    from engine.outputcheck import check_image, load_detector

    detector = load_detector()
    if detector is None:
        return None
    with Image.open(io.BytesIO(png)) as image:
        return check_image(detector, np.asarray(image.convert("RGB")))
