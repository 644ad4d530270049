"""The Discord bot: a commands.Bot subclass, its factory, and `main()` for `ragbot bot` / `python -m bot`."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.asking import Asker
from bot.discord.render import NO_PINGS
from bot.discord.replies import APOLOGY, SHUTTING_DOWN, send_private
from bot.discord.scope import collection_for
from bot.discord.settings import DiscordSettings
from retrieval import Library, RagbotError

log = logging.getLogger("ragbot.bot")

EXTENSIONS = ("bot.discord.cogs.ask", "bot.discord.cogs.library")
# How long in-flight answers may take to finish at shutdown: `docker stop` kills after 10 s.
SHUTDOWN_SECONDS = 8.0


def default_intents(message_content: bool = True) -> discord.Intents:
    """Guilds and guild messages, plus message content when wanted (privileged: enable it in the developer portal).

    Without message content Discord still sends the text of messages that mention the bot or
    reply to it, and slash commands need no intent: only un-addressed thread follow-ups are lost.
    """
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = message_content
    return wanted


class RagTree(app_commands.CommandTree):
    """The command tree with one last-resort error handler."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Expected failures get their message; anything else is logged with its traceback and apologised for."""
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(original, RagbotError):
            text = str(original)
        elif isinstance(error, app_commands.NoPrivateMessage):
            text = "Please use this command in a server: each server has its own library."
        elif isinstance(error, app_commands.MissingPermissions):
            text = "Sorry, only members with the Manage Server permission can do that."
        elif isinstance(error, app_commands.CheckFailure):
            text = "Sorry, you can't use this command here."
        else:
            name = interaction.command.qualified_name if interaction.command else "?"
            log.error("unexpected error in /%s", name, exc_info=original)
            text = APOLOGY
        try:
            await send_private(interaction, text)
        except discord.HTTPException:
            log.warning("could not tell the member about an error", exc_info=True)


class RagBot(commands.Bot):
    """ragbot on Discord: slash commands and mentions, answered from the server's library."""

    def __init__(
        self,
        settings: DiscordSettings,
        library: Library,
        *,
        sync_commands: bool | None = None,
        intents: discord.Intents | None = None,
    ) -> None:
        # The bot uses no voice: discord.py's warnings about missing voice libraries would only mislead.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents or default_intents(settings.discord_message_content),
            allowed_mentions=NO_PINGS,
            tree_cls=RagTree,
            help_command=None,
            shard_count=settings.discord_shards or None,
        )
        self.settings = settings
        self.library = library
        self.asker = Asker(library, settings)
        self.sync_commands = sync_commands  # True: always; None: when the command set changed; False: never
        self.closing = False
        self.shutdown_seconds = SHUTDOWN_SECONDS
        self._in_flight: set[asyncio.Task[object]] = set()

    def collection(self, guild_id: int | None) -> str:
        """The library (collection) a server uses."""
        return collection_for(self.settings, guild_id)

    async def setup_hook(self) -> None:
        """Load the cogs, load the embedding model (before ready: the first answer is as fast as the next) and sync."""
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await asyncio.to_thread(self.library.warm)
        if self.library.generator_note:
            log.warning("%s", self.library.generator_note)
        await self.sync_if_needed()

    async def sync_if_needed(self) -> bool:
        """Sync the slash commands when asked to (`ragbot bot --sync`) or when they changed since the last sync.

        Syncing on every start is rate-limited by Discord and needless: the commands live on Discord's side.
        """
        if self.sync_commands is False:
            return False
        target = sync_target(self.settings)
        if target is not None:
            self.tree.copy_global_to(guild=target)
        where = f"guild-{target.id}" if target else "global"
        record = self.settings.data_dir / "discord-commands.json"
        synced_before = _read_json(record)
        fingerprint = command_fingerprint(self.tree, target)
        if self.sync_commands is None and synced_before.get(where) == fingerprint:
            log.info("slash commands unchanged since the last sync; not syncing (ragbot bot --sync forces it)")
            return False
        synced = await self.tree.sync(guild=target)
        log.info("synced %d slash commands %s", len(synced), f"to guild {target.id}" if target else "globally")
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({**synced_before, where: fingerprint}, indent=1))
        return True

    def check_open(self) -> None:
        """Raise RagbotError once the bot is shutting down: no new questions are taken."""
        if self.closing:
            raise RagbotError(SHUTTING_DOWN)

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        """Mark the current task as answering a question, so that shutdown waits for it."""
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            yield
        finally:
            self._in_flight.discard(task)

    async def close(self) -> None:
        """Stop taking questions, let those in flight finish (within SHUTDOWN_SECONDS) or apologise, then close."""
        if not self.closing:
            self.closing = True
            pending = {t for t in self._in_flight if t is not asyncio.current_task()}
            if pending:
                log.info("shutting down: finishing %d question(s) in flight", len(pending))
                _, late = await asyncio.wait(pending, timeout=self.shutdown_seconds)
                for task in late:  # each says so where its answer would have gone
                    task.cancel()
                if late:
                    log.warning("shutting down: %d question(s) did not finish in time", len(late))
                    await asyncio.wait(late, timeout=2)
        await super().close()


    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: mentions and thread follow-ups are handled by the ask cog's listener."""

    async def on_ready(self) -> None:
        """Log where the bot is and build each server's keyword index before its first question."""
        log.info("ready as %s in %d server(s)", self.user, len(self.guilds))
        for guild in self.guilds:
            await asyncio.to_thread(self.library.warm, self.collection(guild.id))


class ShardedRagBot(RagBot, commands.AutoShardedBot):
    """The bot on several gateway shards in one process (RAGBOT_DISCORD_SHARDS; Discord requires it from 2,500 servers)."""


def sync_target(settings: DiscordSettings) -> discord.Object | None:
    """The development server to sync slash commands to (instant), or None for a global sync."""
    return discord.Object(id=settings.discord_dev_guild) if settings.discord_dev_guild else None


def command_fingerprint(tree: app_commands.CommandTree, guild: discord.Object | None) -> str:
    """A hash of the slash commands as Discord would be sent them (changes when a command, option or text does)."""
    payload = [c.to_dict(tree) for c in tree.get_commands(guild=guild)]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _read_json(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def create_bot(
    settings: DiscordSettings,
    library: Library | None = None,
    *,
    sync_commands: bool | None = None,
    intents: discord.Intents | None = None,
) -> RagBot:
    """A ready-to-start bot for these settings (and engine, built from the settings when not given)."""
    kind = RagBot if settings.discord_shards is None else ShardedRagBot
    return kind(settings, library or Library(settings), sync_commands=sync_commands, intents=intents)


def main(settings: DiscordSettings, sync: bool = False) -> int:
    """Run the bot until interrupted or stopped; returns the exit status. Problems at start-up are one sentence on stderr.

    `sync` re-syncs the slash commands even when they did not change.
    """
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        print(
            "ragbot: DISCORD_TOKEN is not set: put the bot token from the Discord developer portal in .env or the environment.",
            file=sys.stderr,
        )
        return 1
    if not logging.getLogger().handlers:  # a host program (or a test) may have set logging up already
        discord.utils.setup_logging(level=logging.DEBUG if settings.debug else logging.INFO, root=True)
    bot = create_bot(settings, sync_commands=True if sync else None)
    try:
        asyncio.run(_run(bot, settings.discord_token.get_secret_value()))
    except discord.LoginFailure:
        print(
            "ragbot: Discord rejected the token in DISCORD_TOKEN: copy it again from the developer portal (Bot → Reset Token).",
            file=sys.stderr,
        )
        return 1
    except discord.PrivilegedIntentsRequired:
        print(
            "ragbot: Discord refused the Message Content intent: enable it under Bot → Privileged Gateway Intents in the developer portal, "
            "or set RAGBOT_DISCORD_MESSAGE_CONTENT=false.",
            file=sys.stderr,
        )
        return 1
    except RagbotError as exc:
        print(f"ragbot: {exc}", file=sys.stderr)
        return 1
    except (aiohttp.ClientConnectionError, discord.GatewayNotFound) as exc:
        print(f"ragbot: could not reach Discord ({type(exc).__name__}): check the network connection and try again.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


async def _run(bot: RagBot, token: str) -> None:
    """Run until the connection ends; SIGTERM (systemd, docker) and SIGINT close the bot the same gentle way."""
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' event loop
            loop.add_signal_handler(sig, _stop, bot, sig, stopping)
    async with bot:
        await bot.start(token)
    if stopping:
        await asyncio.gather(*stopping)


def _stop(bot: RagBot, sig: signal.Signals, stopping: list[asyncio.Task[None]]) -> None:
    if not stopping:
        log.info("%s received: closing", sig.name)
        stopping.append(asyncio.ensure_future(bot.close()))
