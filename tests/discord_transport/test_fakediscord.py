"""Self-tests of tests/fakediscord against the real discord.py client (no Promptreel code)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakediscord import FakeDiscord, FakeUser

CHANNEL_MESSAGES = "POST /channels/{channel_id}/messages"
CALLBACK = "POST /interactions/{interaction_id}/{token}/callback"
FOLLOWUP = "POST /webhooks/{application_id}/{token}"


def _intents(*, message_content: bool = False) -> discord.Intents:
    intents = discord.Intents.default()
    intents.message_content = message_content
    return intents


async def _wait(fut: asyncio.Future[Any] | asyncio.Event, timeout: float = 2.0) -> Any:  # noqa: ASYNC109
    if isinstance(fut, asyncio.Event):
        return await asyncio.wait_for(fut.wait(), timeout)
    return await asyncio.wait_for(fut, timeout)


async def test_login_gets_ready_and_guild(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = discord.Client(intents=_intents())
    ready = asyncio.Event()
    client.event(_make_on_ready(ready))

    loop = asyncio.get_running_loop()
    started = loop.time()
    async with fake.run_client(client):
        await _wait(ready)
        assert loop.time() - started < 1.5
        assert fake.api_base == discord.http.Route.BASE
        assert client.user is not None and client.user.id == fake.bot_user.id
        assert client.application_id == fake.application_id
        guild = client.get_guild(fake.guild_id)
        assert guild is not None and not guild.unavailable
        assert guild.name == fake.guild_name
        channel = guild.get_channel(fake.channel_id)
        assert isinstance(channel, discord.TextChannel) and channel.name == "general"
        assert [r.name for r in guild.roles] == ["@everyone", fake.bot_user.username]
        assert guild.me is not None and guild.me.get_role(fake.bot_role_id) is not None
        assert channel.permissions_for(guild.me).attach_files

    # login used the bot token; the gateway got one IDENTIFY with the client's intents
    me = fake.find_requests("GET /users/@me")
    assert me and me[0].authorization == f"Bot {fake.token}"
    assert fake.find_requests("GET /oauth2/applications/@me", ok=True)
    assert fake.identify_payloads[0]["intents"] == _intents().value
    # patch undone after the client stopped
    assert discord.http.Route.BASE == "https://discord.com/api/v10"
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"


def _make_on_ready(ready: asyncio.Event):
    async def on_ready() -> None:
        ready.set()

    return on_ready


async def test_bad_token_raises_login_failure(fake_discord: FakeDiscord) -> None:
    client = discord.Client(intents=_intents())
    with pytest.raises(discord.LoginFailure):
        await fake_discord.start_client(client, token="not-the-token")
    assert client.is_closed()
    assert fake_discord.find_requests("GET /users/@me")[0].status == 401
    assert not fake_discord.sessions  # never reached the gateway
    assert discord.http.Route.BASE == "https://discord.com/api/v10"


async def test_disallowed_privileged_intent_raises(fake_discord: FakeDiscord) -> None:
    fake_discord.allowed_privileged_intents = 0
    client = discord.Client(intents=_intents(message_content=True))
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await fake_discord.start_client(client)


async def test_message_create_reaches_on_message(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = discord.Client(intents=_intents(message_content=True))
    received: asyncio.Queue[discord.Message] = asyncio.Queue()

    @client.event
    async def on_message(message: discord.Message) -> None:
        await received.put(message)

    async with fake.run_client(client):
        assert client.user is not None
        bob = fake.add_user("bob")
        sent = await fake.dispatch_message(
            f"{client.user.mention} render a cat", author=bob, mentions=[client.user]
        )
        msg = await _wait(asyncio.ensure_future(received.get()))
        assert msg.id == int(sent["id"])
        assert msg.content == f"{client.user.mention} render a cat"
        assert msg.author.id == bob.id and isinstance(msg.author, discord.Member)
        assert msg.guild is not None and msg.guild.id == fake.guild_id
        assert msg.channel.id == fake.channel_id
        assert client.user in msg.mentions

        # DM variant: no guild, DM channel; the bot's reply lands on the DM channel id
        await fake.dispatch_message("hello in private", dm=True)
        dm = await _wait(asyncio.ensure_future(received.get()))
        assert dm.guild is None and isinstance(dm.channel, discord.DMChannel)
        assert dm.author.id == fake.user.id and dm.content == "hello in private"
        mark = fake.mark()
        await dm.channel.send("hi back")
        rec = await fake.wait_for_request(CHANNEL_MESSAGES, since=mark)
        assert int(rec.params["channel_id"]) == fake.dm_channel_id(fake.user)


async def test_message_content_intent_is_enforced(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = discord.Client(intents=_intents(message_content=False))
    received: asyncio.Queue[discord.Message] = asyncio.Queue()

    @client.event
    async def on_message(message: discord.Message) -> None:
        await received.put(message)

    async with fake.run_client(client):
        assert client.user is not None
        await fake.dispatch_message("not for you")
        assert (await _wait(asyncio.ensure_future(received.get()))).content == ""
        await fake.dispatch_message(f"{client.user.mention} for you", mentions=[client.user])
        assert (await _wait(asyncio.ensure_future(received.get()))).content.endswith("for you")
        await fake.dispatch_message("dm is fine", dm=True)
        assert (await _wait(asyncio.ensure_future(received.get()))).content == "dm is fine"


async def test_handler_errors_are_captured(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = _TreeClient()

    @client.event
    async def on_message(message: discord.Message) -> None:
        raise RuntimeError("handler blew up")

    @client.tree.command(description="fails")
    async def broken(interaction: discord.Interaction) -> None:
        raise ValueError("command blew up")

    async with fake.run_client(client):
        await fake.dispatch_message("x")
        await fake.wait_for(lambda: len(fake.client_errors) == 1, timeout=2.0)
        await fake.dispatch_command("broken")
        await fake.wait_for(lambda: len(fake.client_errors) == 2, timeout=2.0)
    (event, exc), (where, cmd_exc) = fake.client_errors
    assert event == "on_message" and isinstance(exc, RuntimeError)
    assert where == "app_command:broken" and isinstance(cmd_exc, app_commands.CommandInvokeError)
    assert isinstance(cmd_exc.original, ValueError)


async def test_factory_fixture_custom_guild(make_fake_discord) -> None:
    fake = await make_fake_discord(text_channels=("general", "renders"), extra_roles=("Renderer",))
    renderer = fake.add_user("carol", roles=[fake.role_ids["Renderer"]])
    client = discord.Client(intents=discord.Intents.all())
    async with fake.run_client(client):
        guild = client.get_guild(fake.guild_id)
        assert guild is not None
        assert sorted(c.name for c in guild.text_channels) == ["general", "renders"]
        member = guild.get_member(renderer.id)  # members intent: every member arrives in GUILD_CREATE
        assert member is not None and [r.name for r in member.roles[1:]] == ["Renderer"]
        assert guild.chunked


class _TreeClient(discord.Client):
    def __init__(self) -> None:
        super().__init__(intents=_intents())
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        await self.tree.sync()


async def test_slash_command_is_invoked_and_replies_via_callback(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = _TreeClient()
    invoked: asyncio.Future[tuple[str, int, discord.Interaction]] = asyncio.get_running_loop().create_future()

    @client.tree.command(description="Render a prompt")
    @app_commands.describe(prompt="what to render", seconds="clip length")
    async def render(interaction: discord.Interaction, prompt: str, seconds: int = 2) -> None:
        await interaction.response.send_message(f"rendering {prompt!r} for {seconds}s")
        invoked.set_result((prompt, seconds, interaction))

    async with fake.run_client(client):
        # tree.sync() in setup_hook hit PUT and the fake echoed the command with an id
        put = fake.find_requests("PUT /applications/{application_id}/commands", ok=True)
        assert [c["name"] for c in put[0].json] == ["render"]
        assert fake.global_commands[0]["id"] and fake.global_commands[0]["options"][1]["type"] == 4

        fi = await fake.dispatch_command("render", {"prompt": "a red fox", "seconds": 4})
        prompt, seconds, interaction = await _wait(invoked)
        assert (prompt, seconds) == ("a red fox", 4)
        assert interaction.user.id == fake.user.id and interaction.guild_id == fake.guild_id
        assert interaction.filesize_limit == fake.upload_limit

        rec = await fake.wait_for_request(CALLBACK)
        assert rec.params["interaction_id"] == str(fi.id) and rec.params["token"] == fi.token
        assert rec.query.get("with_response") == "1"
        assert rec.authorization is None  # interaction routes are not bot-authenticated
        assert rec.json["type"] == 4 and rec.json["data"]["content"] == "rendering 'a red fox' for 4s"
        assert fi.acknowledged and fi.response_type == 4
        original = fake.original_response(fi)
        assert original is not None and original["content"] == "rendering 'a red fox' for 4s"


async def test_component_click_and_message_update(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = commands.Bot(command_prefix="!", intents=_intents())
    clicked: asyncio.Future[discord.Interaction] = asyncio.get_running_loop().create_future()

    class Confirm(discord.ui.View):
        @discord.ui.button(label="Cancel", custom_id="cancel-job")
        async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
            await interaction.response.edit_message(content="cancelled", view=None)
            clicked.set_result(interaction)

    async with fake.run_client(bot):
        channel = bot.get_channel(fake.channel_id)
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("render queued", view=Confirm())
        assert fake.messages[message.id]["components"][0]["components"][0]["custom_id"] == "cancel-job"

        fi = await fake.dispatch_component("cancel-job", message.id)
        interaction = await _wait(clicked)
        assert interaction.message is not None and interaction.message.id == message.id
        rec = await fake.wait_for_request(CALLBACK)
        assert rec.json["type"] == 7
        assert fake.messages[message.id]["content"] == "cancelled"
        assert fake.messages[message.id]["components"] == []
        assert fi.original_message_id == message.id


async def test_file_upload_arrives_as_multipart(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = discord.Client(intents=_intents())
    payload = bytes(range(256)) * 40  # 10 KiB of binary

    async with fake.run_client(client):
        channel = client.get_channel(fake.channel_id)
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("here is your clip", file=discord.File(io.BytesIO(payload), "clip.mp4"))

        rec = fake.find_requests(CHANNEL_MESSAGES)[-1]
        assert rec.multipart and rec.authorization == f"Bot {fake.token}"
        assert rec.json["content"] == "here is your clip"
        assert rec.json["attachments"][0]["filename"] == "clip.mp4"
        assert [(f.field, f.filename, f.data) for f in rec.files] == [("files[0]", "clip.mp4", payload)]

        assert len(message.attachments) == 1
        attachment = message.attachments[0]
        assert (attachment.filename, attachment.size, attachment.content_type) == (
            "clip.mp4",
            len(payload),
            "video/mp4",
        )
        assert await attachment.read() == payload  # served by the fake's CDN route
        assert fake.attachment_bytes(attachment.url) == payload
        assert fake.channel_messages(fake.channel_id)[0]["id"] == str(message.id)


async def test_rate_limit_is_retried(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = discord.Client(intents=_intents())
    async with fake.run_client(client):
        channel = client.get_channel(fake.channel_id)
        assert isinstance(channel, discord.TextChannel)
        fault = fake.rate_limit(CHANNEL_MESSAGES, retry_after=0.05)
        message = await asyncio.wait_for(channel.send("after the 429"), 2.0)

        recs = fake.find_requests(CHANNEL_MESSAGES)
        assert [r.status for r in recs] == [429, 200]
        assert recs[0].fault is fault and fault.remaining == 0
        assert fake.messages[message.id]["content"] == "after the 429"


async def test_cloudflare_style_429_is_not_retried(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = discord.Client(intents=_intents())
    async with fake.run_client(client):
        channel = client.get_channel(fake.channel_id)
        assert isinstance(channel, discord.TextChannel)
        fake.rate_limit(CHANNEL_MESSAGES, cloudflare=True)
        with pytest.raises(discord.HTTPException) as info:
            await channel.send("banned")
        assert info.value.status == 429
        assert len(fake.find_requests(CHANNEL_MESSAGES)) == 1


async def test_server_errors(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = discord.Client(intents=_intents())
    async with fake.run_client(client):
        channel = client.get_channel(fake.channel_id)
        assert isinstance(channel, discord.TextChannel)
        # 503 is not in discord.py's retry set {500, 502, 504, 524}: raised at once
        fake.server_error(CHANNEL_MESSAGES, status=503)
        with pytest.raises(discord.DiscordServerError) as info:
            await channel.send("x")
        assert info.value.status == 503
        # a single 500 is retried after discord.py's fixed 1 s back-off
        fake.server_error(CHANNEL_MESSAGES, status=500)
        await asyncio.wait_for(channel.send("y"), 3.0)
        assert [r.status for r in fake.find_requests(CHANNEL_MESSAGES)] == [503, 500, 200]


async def test_upload_over_limit_gives_413(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    fake.upload_limit = 1024
    client = discord.Client(intents=_intents())
    async with fake.run_client(client):
        channel = client.get_channel(fake.channel_id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send(file=discord.File(io.BytesIO(b"x" * 1024), "fits.bin"))
        with pytest.raises(discord.HTTPException) as info:
            await channel.send(file=discord.File(io.BytesIO(b"x" * 1025), "big.bin"))
        exc = info.value
        assert type(exc) is discord.HTTPException
        assert (exc.status, exc.code, exc.text) == (413, 40005, "Request entity too large")
        assert [r.status for r in fake.find_requests(CHANNEL_MESSAGES)] == [200, 413]


async def test_expired_interaction_token(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = _TreeClient()
    loop = asyncio.get_running_loop()
    deferred: asyncio.Future[None] = loop.create_future()
    gate = asyncio.Event()
    outcome: asyncio.Future[BaseException | None] = loop.create_future()
    late_gate = asyncio.Event()
    late_outcome: asyncio.Future[BaseException | None] = loop.create_future()

    @client.tree.command(description="slow render")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        deferred.set_result(None)
        await gate.wait()
        try:
            await interaction.followup.send("done")
        except Exception as exc:
            outcome.set_result(exc)
        else:
            outcome.set_result(None)

    @client.tree.command(description="too late")
    async def late(interaction: discord.Interaction) -> None:
        await late_gate.wait()
        try:
            await interaction.response.send_message("hi")
        except Exception as exc:
            late_outcome.set_result(exc)
        else:
            late_outcome.set_result(None)

    async with fake.run_client(client):
        fi = await fake.dispatch_command("slow")
        await _wait(deferred)
        assert fake.interaction_callbacks(fi)[0].json == {"type": 5}
        fake.expire_interaction(fi)  # as after the 15-minute token lifetime
        gate.set()
        exc = await _wait(outcome)
        # followups/edits of an expired token: plain HTTPException 401, code 50027
        assert type(exc) is discord.HTTPException
        assert (exc.status, exc.code, exc.text) == (401, 50027, "Invalid Webhook Token")
        assert fake.find_requests(FOLLOWUP)[-1].status == 401

        # the initial callback after the token expired (Discord: after 3 s): NotFound 10062
        fi2 = await fake.dispatch_command("late")
        fake.expire_interaction(fi2)
        late_gate.set()
        exc2 = await _wait(late_outcome)
        assert isinstance(exc2, discord.NotFound)
        assert (exc2.status, exc2.code, exc2.text) == (404, 10062, "Unknown interaction")


async def test_defer_then_edit_original_with_file(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = _TreeClient()
    done: asyncio.Future[discord.InteractionMessage] = asyncio.get_running_loop().create_future()

    @client.tree.command(description="render")
    async def render(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        msg = await interaction.edit_original_response(
            content="your clip", attachments=[discord.File(io.BytesIO(b"MP4DATA"), "out.mp4")]
        )
        done.set_result(msg)

    async with fake.run_client(client):
        fi = await fake.dispatch_command("render")
        msg = await _wait(done)
        rec = fake.find_requests("PATCH /webhooks/{application_id}/{token}/messages/@original")[0]
        assert rec.multipart and rec.files[0].data == b"MP4DATA" and rec.authorization is None
        original = fake.original_response(fi)
        assert original is not None and original["content"] == "your clip"
        assert original["flags"] == 64  # ephemeral kept, loading flag cleared
        assert msg.attachments[0].filename == "out.mp4"
        assert fake.attachment_bytes(original["attachments"][0]) == b"MP4DATA"


def test_fake_user_payload_shape() -> None:
    user = FakeUser(id=1, username="x")
    payload = user.to_payload()
    assert payload["id"] == "1" and payload["discriminator"] == "0" and "bot" not in payload


async def test_guild_command_with_user_and_attachment_options(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = _TreeClient()
    guild = discord.Object(id=fake.guild_id)
    got: asyncio.Future[tuple[discord.Member | discord.User, bytes, str]] = (
        asyncio.get_running_loop().create_future()
    )

    @client.tree.command(description="animate an image", guild=guild)
    async def animate(
        interaction: discord.Interaction, target: discord.Member, image: discord.Attachment
    ) -> None:
        got.set_result((target, await image.read(), image.filename))
        await interaction.response.send_message("ok", ephemeral=True)

    async with fake.run_client(client):
        await client.tree.sync(guild=guild)
        assert fake.guild_commands[fake.guild_id][0]["name"] == "animate"
        bob = fake.add_user("bob")
        fi = await fake.dispatch_command("animate", {"target": bob, "image": ("cat.png", b"\x89PNG fake")})
        assert fi.payload["data"]["guild_id"] == str(fake.guild_id)
        target, data, filename = await _wait(got)
        assert isinstance(target, discord.Member) and target.id == bob.id
        assert (data, filename) == (b"\x89PNG fake", "cat.png")
        await fake.wait_for_request(CALLBACK)
        original = fake.original_response(fi)
        assert original is not None and original["flags"] == 64


async def test_modal_round_trip_and_autocomplete(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = _TreeClient()
    submitted: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    class PromptModal(discord.ui.Modal, title="New render"):
        prompt: discord.ui.TextInput = discord.ui.TextInput(label="Prompt", custom_id="prompt-text")

        def __init__(self) -> None:
            super().__init__(custom_id="prompt-modal")

        async def on_submit(self, interaction: discord.Interaction) -> None:
            submitted.set_result(self.prompt.value)
            await interaction.response.send_message(f"queued {self.prompt.value}")

    async def style_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=s, value=s) for s in ("anime", "analog film") if s.startswith(current)
        ]

    @client.tree.command(description="open the prompt form")
    @app_commands.autocomplete(style=style_choices)
    async def new(interaction: discord.Interaction, style: str = "anime") -> None:
        await interaction.response.send_modal(PromptModal())

    async with fake.run_client(client):
        ac = await fake.dispatch_interaction(type=4, name="new", options={"style": "an"}, focused="style")
        rec = await fake.wait_for_request(CALLBACK)
        assert rec.json == {
            "type": 8,
            "data": {
                "choices": [
                    {"name": "anime", "value": "anime"},
                    {"name": "analog film", "value": "analog film"},
                ]
            },
        }
        assert ac.response_type == 8

        fi = await fake.dispatch_command("new")
        rec = await fake.wait_for_request(CALLBACK, count=2)
        assert rec.json["type"] == 9 and rec.json["data"]["custom_id"] == "prompt-modal"
        assert fi.response_type == 9

        sub = await fake.dispatch_modal_submit("prompt-modal", {"prompt-text": "a lighthouse at dusk"})
        assert await _wait(submitted) == "a lighthouse at dusk"
        await fake.wait_for_request(CALLBACK, count=3)
        original = fake.original_response(sub)
        assert original is not None and original["content"] == "queued a lighthouse at dusk"


async def test_reconnect_resume_and_reidentify(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = discord.Client(intents=_intents(message_content=True))
    ready_count = 0
    ready = asyncio.Event()
    resumed = asyncio.Event()
    messages: asyncio.Queue[discord.Message] = asyncio.Queue()

    @client.event
    async def on_ready() -> None:
        nonlocal ready_count
        ready_count += 1
        ready.set()

    @client.event
    async def on_resumed() -> None:
        resumed.set()

    async def no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
        pass  # discord.py's default sleeps 5 s before every non-initial IDENTIFY

    client.before_identify_hook = no_identify_delay  # type: ignore[method-assign]

    @client.event
    async def on_message(message: discord.Message) -> None:
        await messages.put(message)

    async with fake.run_client(client):
        await _wait(ready)
        await fake.reconnect_clients(resume=True)
        await _wait(resumed)
        assert len(fake.identify_payloads) == 1 and ready_count == 1

        ready.clear()
        await fake.reconnect_clients(resume=False)
        await _wait(ready)
        assert len(fake.identify_payloads) == 2 and ready_count == 2

        await fake.dispatch_message("still there?")
        assert (await _wait(asyncio.ensure_future(messages.get()))).content == "still there?"
