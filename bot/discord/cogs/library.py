"""The server's library: `/sources` for everyone; `/ingest`, "Add to library" and `/forget` for whom the server allows
(Manage Server by default; Discord's per-command overrides under Integrations decide)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.render import NO_PINGS, UPLOAD_PREFIX, escape, source_name, sources_pages
from bot.discord.replies import send_private
from retrieval import SUPPORTED_SUFFIXES, IngestReport, RagbotError, SourceInfo, Upload

if TYPE_CHECKING:
    from bot.discord.client import RagBot

log = logging.getLogger(__name__)

EXPIRED = "These buttons have expired: run /sources again to turn the pages."
CHOICE_CHARS = 100  # Discord's limit for an autocomplete choice's name and value
MAX_CHOICES = 25
_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)


class SourcesView(discord.ui.View):
    """Previous/next buttons over pages of the library listing, for the member who asked."""

    def __init__(self, pages: list[discord.Embed], owner_id: int, timeout: float = 300) -> None:
        super().__init__(timeout=timeout)
        self.pages = pages
        self.owner_id = owner_id
        self.page = 0
        self.interaction: discord.Interaction | None = None  # the /sources call whose message shows the pages
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= len(self.pages) - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only the member who ran /sources turns its pages."""
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            content="Run /sources to browse the library yourself.", ephemeral=True, allowed_mentions=NO_PINGS
        )
        return False

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        self.page = max(0, min(page, len(self.pages) - 1))
        self._update_buttons()
        await interaction.response.edit_message(embed=self.pages[self.page], view=self, allowed_mentions=NO_PINGS)

    async def on_timeout(self) -> None:
        """Grey the buttons out and say so: Discord would otherwise answer a press with "This interaction failed"."""
        self.previous.disabled = self.next.disabled = True
        if self.interaction is None:
            return
        embed = self.pages[self.page].copy()
        embed.set_footer(text=f"{embed.footer.text} · {EXPIRED}" if embed.footer.text else EXPIRED)
        try:
            await self.interaction.edit_original_response(embed=embed, view=self, allowed_mentions=NO_PINGS)
        except discord.HTTPException:
            log.info("could not mark the /sources buttons as expired", exc_info=True)

    @discord.ui.button(label="◀ Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button[SourcesView]) -> None:
        """Show the previous page."""
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button[SourcesView]) -> None:
        """Show the next page."""
        await self._show(interaction, self.page + 1)


async def _followup(interaction: discord.Interaction, text: str) -> None:
    """The private reply to a deferred command (cut to one message)."""
    await interaction.followup.send(content=text[:2000], ephemeral=True, allowed_mentions=NO_PINGS)


class LibraryCog(commands.Cog, name="Library"):
    """What the server's library holds, and changing it."""

    def __init__(self, bot: RagBot) -> None:
        self.bot = bot
        # Context menus cannot be declared in a cog's body; this one is added to the tree while the cog is loaded.
        self.add_from_message_menu = app_commands.ContextMenu(name="Add to library", callback=self.add_from_message)
        self.add_from_message_menu.guild_only = True
        self.add_from_message_menu.default_permissions = discord.Permissions(manage_guild=True)
        bot.tree.add_command(self.add_from_message_menu)

    async def cog_unload(self) -> None:
        """Take the context menu off the tree with the cog."""
        self.bot.tree.remove_command(self.add_from_message_menu.name, type=self.add_from_message_menu.type)

    def _collection(self, interaction: discord.Interaction) -> str:
        return self.bot.collection(interaction.guild_id)

    @app_commands.command(name="sources")
    @app_commands.guild_only()
    async def sources(self, interaction: discord.Interaction) -> None:
        """List the documents in this server's library."""
        await interaction.response.defer(thinking=True, ephemeral=True)
        docs = await asyncio.to_thread(self.bot.library.sources, self._collection(interaction))
        pages = sources_pages(docs)
        if len(pages) == 1:
            await interaction.followup.send(embed=pages[0], ephemeral=True, allowed_mentions=NO_PINGS)
        else:
            view = SourcesView(pages, interaction.user.id)
            view.interaction = interaction
            await interaction.followup.send(embed=pages[0], view=view, ephemeral=True, allowed_mentions=NO_PINGS)

    @app_commands.command(name="ingest")
    @app_commands.describe(
        file="A .txt, .md, .html or .jsonl file to add",
        url="A web page to add",
        duplicates="What to do with an article that repeats one already in the library (default: the server's setting)",
        replace="A document this one replaces (start typing its title); without it nothing is replaced",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)  # Discord enforces it; admins can hand it to a role
    async def ingest(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment | None = None,
        url: str | None = None,
        duplicates: Literal["keep", "skip"] | None = None,
        replace: str | None = None,
    ) -> None:
        """Add an attached file or a web page to this server's library."""
        if (file is None) == (url is None):
            await send_private(interaction, "Attach one file or give one URL to add.")
            return
        if url is not None and not _URL.match(url.strip()):
            await send_private(interaction, "The URL must start with http:// or https://.")
            return
        if file is not None:
            problem = self._check_file(file)
            if problem:
                await send_private(interaction, problem)
                return
        await interaction.response.defer(thinking=True, ephemeral=True)
        collection = self._collection(interaction)
        before = await asyncio.to_thread(self.bot.library.sources, collection)
        old = None
        if replace is not None:
            old = resolve_document(before, replace)
            if old is None:
                await _followup(interaction, f"There is no document {escape(replace)!r} to replace in this server's library (see /sources).")
                return
        try:
            if file is not None:
                data = await file.read()
                upload = Upload(file.filename, data, f"{UPLOAD_PREFIX}{file.filename}", upload_id(file.filename, data))
                report = await asyncio.to_thread(self.bot.library.ingest_uploads, [upload], collection, duplicates)
            else:
                assert url is not None
                target = url.strip()
                report = await asyncio.to_thread(lambda: self.bot.library.ingest([target], collection, duplicates=duplicates))
        except (RagbotError, discord.HTTPException) as exc:
            await send_private(interaction, f"Could not add it: {exc}")
            return
        lines = [describe_report(report)]
        landed = set(report.added + report.replaced + report.unchanged)
        if old is not None and landed and old.doc_id not in landed:
            await asyncio.to_thread(self.bot.library.forget, old.doc_id, collection)
            lines.append(f"Replaced {describe_document(old)} with it.")
        elif old is not None and not landed:
            lines.append(f"{describe_document(old)} was not replaced, since nothing new was added.")
        if file is not None:
            namesakes = [d for d in before if d.source == f"{UPLOAD_PREFIX}{file.filename}" and d.doc_id not in landed]
            for doc in namesakes:
                if old is None or doc.doc_id != old.doc_id:
                    lines.append(
                        f"{describe_document(doc)} has the same file name and is still in the library: "
                        "to replace it, run /ingest again with replace."
                    )
        self._log_change(interaction, "ingest", report, replaced=old.doc_id if old and landed else None, what=url or (file.filename if file else ""))
        await _followup(interaction, "\n".join(lines))

    @ingest.autocomplete("replace")
    async def ingest_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """Documents whose title or id contains what was typed so far."""
        docs = await asyncio.to_thread(self.bot.library.sources, self._collection(interaction))
        return document_choices(docs, current)

    async def add_from_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Add a message's attached files to this server's library; their sources link back to the message."""
        files = [a for a in message.attachments if Path(a.filename).suffix.lower() in SUPPORTED_SUFFIXES]
        if not files:
            await send_private(interaction, "That message has no .txt, .md, .html or .jsonl file attached.")
            return
        problems = [p for p in (self._check_file(a) for a in files) if p]
        if problems:
            await send_private(interaction, problems[0])
            return
        await interaction.response.defer(thinking=True, ephemeral=True)
        collection = self._collection(interaction)
        try:
            uploads = [
                Upload(attachment.filename, await attachment.read(), message.jump_url, f"discord-message:{message.id}:{attachment.id}")
                for attachment in files
            ]
            report = await asyncio.to_thread(self.bot.library.ingest_uploads, uploads, collection)
        except (RagbotError, discord.HTTPException) as exc:
            await send_private(interaction, f"Could not add it: {exc}")
            return
        self._log_change(interaction, "ingest", report, what=message.jump_url)
        await _followup(interaction, describe_report(report))

    def _log_change(
        self, interaction: discord.Interaction, action: str, report: IngestReport, replaced: str | None = None, what: str = ""
    ) -> None:
        """Who changed which server's library, and how: one line for operators."""
        log.info(
            "%s guild=%s user=%s source=%r added=%s updated=%s unchanged=%d problems=%d replaced=%s",
            action, interaction.guild_id, interaction.user.id, what, report.added, report.replaced,
            len(report.unchanged), len(report.problems), replaced,
        )

    def _check_file(self, file: discord.Attachment) -> str | None:
        suffix = Path(file.filename).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            return f"I can read .txt, .md, .html and .jsonl files, not {escape(file.filename)}."
        limit = self.bot.settings.max_file_bytes
        if file.size > limit:
            return f"The file is {file.size:,} bytes, over the {limit:,}-byte limit."
        return None

    @app_commands.command(name="forget")
    @app_commands.describe(document="The document to remove (start typing its title)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)  # Discord enforces it; admins can hand it to a role
    async def forget(self, interaction: discord.Interaction, document: str) -> None:
        """Remove a document from this server's library."""
        await interaction.response.defer(thinking=True, ephemeral=True)
        collection = self._collection(interaction)
        docs = await asyncio.to_thread(self.bot.library.sources, collection)
        doc = resolve_document(docs, document)
        if doc is None:
            await _followup(interaction, f"There is no document {escape(document)!r} in this server's library (see /sources).")
            return
        removed = await asyncio.to_thread(self.bot.library.forget, doc.doc_id, collection)
        log.info("forget guild=%s user=%s doc_id=%r removed=%s", interaction.guild_id, interaction.user.id, doc.doc_id, removed)
        text = f"Forgot **{escape(doc.title)}**." if removed else f"**{escape(doc.title)}** was already gone."
        await _followup(interaction, text)

    @forget.autocomplete("document")
    async def forget_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Documents whose title or id contains what was typed so far."""
        docs = await asyncio.to_thread(self.bot.library.sources, self._collection(interaction))
        return document_choices(docs, current)


def choice_value(doc: SourceInfo) -> str:
    """What an autocomplete choice sends back: the id when short enough, else a hash key."""
    return doc.doc_id if len(doc.doc_id) <= CHOICE_CHARS else f"#{doc.content_hash}"


def document_choices(docs: list[SourceInfo], current: str) -> list[app_commands.Choice[str]]:
    """Up to 25 choices matching `current` in a title or id."""
    needle = current.strip().lower()
    matches = [d for d in docs if needle in d.title.lower() or needle in d.doc_id.lower()]
    choices = []
    for doc in matches[:MAX_CHOICES]:
        name = doc.title if len(doc.title) <= CHOICE_CHARS else doc.title[: CHOICE_CHARS - 1] + "…"
        choices.append(app_commands.Choice(name=name or doc.doc_id[:CHOICE_CHARS], value=choice_value(doc)))
    return choices


def resolve_document(docs: list[SourceInfo], value: str) -> SourceInfo | None:
    """The document an autocomplete value (or a typed id or exact title) names."""
    for doc in docs:
        if value in (doc.doc_id, choice_value(doc)):
            return doc
    titled = [d for d in docs if d.title.strip().lower() == value.strip().lower()]
    return titled[0] if len(titled) == 1 else None


def upload_id(filename: str, data: bytes) -> str:
    """An uploaded file's document id, from its name and content: another member's same-named file is another document."""
    digest = hashlib.sha256(filename.encode() + b"\0" + data).hexdigest()[:24]
    return f"discord-upload:{digest}"


def describe_document(doc: SourceInfo) -> str:
    """A document as the member knows it: title, file name or address, and when it was added."""
    return f"**{escape(doc.title or doc.doc_id)}** ({escape(source_name(doc.source))}, added {doc.added_at[:10]})"


def describe_report(report: IngestReport) -> str:
    """An ingest report as one short message."""
    lines = []
    if report.added:
        lines.append(f"Added {len(report.added)} document(s) ({report.chunks} passages).")
    if report.replaced:
        lines.append(f"Updated {len(report.replaced)} document(s).")
    if report.unchanged:
        lines.append(f"{len(report.unchanged)} document(s) were already in the library, unchanged.")
    for dup in report.duplicates[:5]:
        verb = "kept it anyway" if dup.action == "kept" else "skipped it"
        lines.append(
            f"{escape(dup.source)} looks like a near-duplicate of {escape(dup.of_source)} "
            f"({dup.similarity:.0%} of the text shared): {verb}"
            + (" (use duplicates: skip to leave such copies out)." if dup.action == "kept" else " (use duplicates: keep to add it).")
        )
    if len(report.duplicates) > 5:
        lines.append(f"…and {len(report.duplicates) - 5} more near-duplicate(s).")
    for problem in report.problems[:5]:
        lines.append(f"Skipped {escape(str(problem))}")
    if len(report.problems) > 5:
        lines.append(f"…and {len(report.problems) - 5} more problem(s).")
    return "\n".join(lines)[:2000] or "Nothing was added."


async def setup(bot: RagBot) -> None:
    """Load the cog (extension entry point)."""
    await bot.add_cog(LibraryCog(bot))
