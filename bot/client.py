"""The Discord bot: a commands.Bot subclass, its factory, and `main()` for `ragbot bot` / `python -m bot`."""

from __future__ import annotations

import asyncio
import logging
import sys

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.asking import Asker
from bot.render import NO_PINGS
from bot.replies import APOLOGY, send_private
from bot.scope import collection_for
from retrieval.errors import RagbotError
from retrieval.library import Library
from retrieval.settings import Settings

log = logging.getLogger("ragbot.bot")

EXTENSIONS = ("bot.cogs.ask", "bot.cogs.library")


def default_intents() -> discord.Intents:
    """Guilds and guild messages, plus message content (privileged: enable it in the developer portal)."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = True  # follow-ups in an answer thread do not mention the bot
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
        settings: Settings,
        library: Library,
        *,
        sync_commands: bool = True,
        intents: discord.Intents | None = None,
    ) -> None:
        # The bot uses no voice: discord.py's warnings about missing voice libraries would only mislead.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents or default_intents(),
            allowed_mentions=NO_PINGS,
            tree_cls=RagTree,
            help_command=None,
        )
        self.settings = settings
        self.library = library
        self.asker = Asker(library, settings)
        self.sync_commands = sync_commands

    def collection(self, guild_id: int | None) -> str:
        """The library (collection) a server uses."""
        return collection_for(self.settings, guild_id)

    async def setup_hook(self) -> None:
        """Load the cogs, load the embedding model (before ready: the first answer is as fast as the next) and sync."""
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await asyncio.to_thread(self.library.warm)
        if self.sync_commands:
            target = sync_target(self.settings)
            if target is not None:
                self.tree.copy_global_to(guild=target)
            synced = await self.tree.sync(guild=target)
            log.info("synced %d slash commands %s", len(synced), f"to guild {target.id}" if target else "globally")

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: mentions and thread follow-ups are handled by the ask cog's listener."""

    async def on_ready(self) -> None:
        """Log where the bot is and build each server's keyword index before its first question."""
        log.info("ready as %s in %d server(s)", self.user, len(self.guilds))
        for guild in self.guilds:
            await asyncio.to_thread(self.library.warm, self.collection(guild.id))


def sync_target(settings: Settings) -> discord.Object | None:
    """The development server to sync slash commands to (instant), or None for a global sync."""
    return discord.Object(id=settings.discord_dev_guild) if settings.discord_dev_guild else None


def create_bot(
    settings: Settings,
    library: Library | None = None,
    *,
    sync_commands: bool = True,
    intents: discord.Intents | None = None,
) -> RagBot:
    """A ready-to-start bot for these settings (and engine, built from the settings when not given)."""
    return RagBot(settings, library or Library(settings), sync_commands=sync_commands, intents=intents)


def main(settings: Settings) -> int:
    """Run the bot until interrupted; returns the exit status. Problems at start-up are one sentence on stderr."""
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        print(
            "ragbot: DISCORD_TOKEN is not set: put the bot token from the Discord developer portal in .env or the environment.",
            file=sys.stderr,
        )
        return 1
    if not logging.getLogger().handlers:  # a host program (or a test) may have set logging up already
        discord.utils.setup_logging(level=logging.DEBUG if settings.debug else logging.INFO, root=True)
    bot = create_bot(settings)
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
            "ragbot: Discord refused the Message Content intent: enable it under Bot → Privileged Gateway Intents in the developer portal.",
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
    async with bot:
        await bot.start(token)
