"""/sources, /ingest and /forget called directly with strict fakes, on the real engine: what the member sees."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import discord
import pytest

from bot.discord.client import RagBot, create_bot
from bot.discord.cogs.library import EXPIRED, SourcesView
from bot.discord.render import NO_PINGS
from bot.discord.settings import DiscordSettings
from retrieval.ingest.loaders import SAMPLE_DOC_ID
from retrieval.library import Library
from retrieval.types import Document
from tests.support.dpy import GUILD
from tests.support.fakes import fake_attachment, fake_interaction, shown, texts

ARTICLE = b"# Harbour news\n\nThe Korrin lighthouse was painted green and white in 1931 by the keeper Ada Brandt.\n"


def cog(bot: RagBot) -> Any:
    return bot.get_cog("Library")


# -- /sources ---------------------------------------------------------------------------------------


async def test_sources_lists_this_servers_documents(slash_bot: RagBot, sample_guild: int) -> None:
    interaction = fake_interaction(guild_id=sample_guild)
    await cog(slash_bot).sources.callback(cog(slash_bot), interaction)
    interaction.response.defer.assert_awaited_once_with(thinking=True, ephemeral=True)
    sent = interaction.followup.send.call_args.kwargs
    embed = sent["embed"]
    assert embed.title == "Library — 1 document"
    assert "Moscow and Beijing hold similar views" in embed.description and "belousov-beijing.txt" in embed.description
    assert embed.footer.text == "Page 1/1" and "view" not in sent and sent["ephemeral"] is True


async def test_sources_of_an_empty_library_says_how_to_fill_it(slash_bot: RagBot) -> None:
    interaction = fake_interaction(guild_id=4242)
    await cog(slash_bot).sources.callback(cog(slash_bot), interaction)
    assert "/ingest" in interaction.followup.send.call_args.kwargs["embed"].description


async def test_sources_pages_turn_with_buttons_for_the_member_who_asked(slash_bot: RagBot, library: Library) -> None:
    docs = [
        Document(f"doc-{i:02}", f"https://example.org/{i}", f"Report number {i:02}", f"Report {i} text. It is short.")
        for i in range(23)
    ]
    library.ingest_documents(docs, slash_bot.collection(GUILD))
    interaction = fake_interaction(user_id=5)
    await cog(slash_bot).sources.callback(cog(slash_bot), interaction)
    sent = interaction.followup.send.call_args.kwargs
    view: SourcesView = sent["view"]
    assert sent["embed"].footer.text == "Page 1/3" and sent["embed"].title == "Library — 23 documents"
    assert view.previous.disabled and not view.next.disabled

    press = fake_interaction(user_id=5)
    assert await view.interaction_check(press)
    await view.next.callback(press)
    page2 = press.response.edit_message.call_args.kwargs["embed"]
    assert page2.footer.text == "Page 2/3" and "Report number" in page2.description
    assert page2.description != sent["embed"].description

    stranger = fake_interaction(user_id=6)
    assert not await view.interaction_check(stranger)
    assert shown(stranger)[0]["ephemeral"] is True

    await view.on_timeout()  # 300 s without a press: the buttons are greyed out and the page says why
    expired = interaction.edit_original_response.call_args.kwargs
    assert expired["view"] is view and view.previous.disabled and view.next.disabled
    assert expired["embed"].footer.text == f"Page 2/3 · {EXPIRED}"


# -- /ingest ----------------------------------------------------------------------------------------


async def test_admin_ingests_an_attachment_into_this_servers_library(slash_bot: RagBot, library: Library) -> None:
    interaction = fake_interaction(manage_guild=True)
    attachment = fake_attachment("harbour.md", ARTICLE)
    await cog(slash_bot).ingest.callback(cog(slash_bot), interaction, attachment, None)

    interaction.response.defer.assert_awaited_once_with(thinking=True, ephemeral=True)
    assert interaction.followup.send.call_args.kwargs["content"].startswith("Added 1 document(s)")
    [doc] = library.sources(slash_bot.collection(GUILD))
    assert doc.title == "Harbour news" and doc.source == "discord-attachment:harbour.md"
    answer = library.ask("who painted the Korrin lighthouse?", collection=slash_bot.collection(GUILD))
    assert "Ada Brandt" in answer.text
    assert library.sources(slash_bot.collection(GUILD + 1)) == []


WIRE_STORY = (
    "# Harbour news\n\nThe Korrin lighthouse was painted green and white in 1931 by the keeper Ada Brandt. "
    "She used forty litres of paint and finished the work in nine days, according to the harbour records. "
    "The lighthouse has guided fishing boats into the bay since the village was founded. "
    "Visitors can climb its ninety steps on Sundays between May and September.\n"
)


async def test_admin_is_told_about_a_near_duplicate_and_chooses_to_skip_it(slash_bot: RagBot, library: Library) -> None:
    first = fake_interaction(manage_guild=True)
    await cog(slash_bot).ingest.callback(cog(slash_bot), first, fake_attachment("wire.md", WIRE_STORY.encode()), None)
    assert texts(first).startswith("Added 1 document(s)")

    # The same wire story from a second outlet, with its own byline: reported, and kept by default.
    copy = (WIRE_STORY + "Reporting by the Coast Gazette.\n").encode()
    kept = fake_interaction(manage_guild=True)
    await cog(slash_bot).ingest.callback(cog(slash_bot), kept, fake_attachment("gazette.md", copy), None)
    said = texts(kept)
    assert "discord-attachment:gazette.md looks like a near-duplicate of discord-attachment:wire.md" in said
    assert "kept it anyway" in said and "duplicates: skip" in said
    assert len(library.sources(slash_bot.collection(GUILD))) == 2

    # A third copy with duplicates=skip is reported and left out.
    skipped = fake_interaction(manage_guild=True)
    third = (WIRE_STORY + "Reporting by the Bay Herald.\n").encode()
    await cog(slash_bot).ingest.callback(cog(slash_bot), skipped, fake_attachment("herald.md", third), None, "skip")
    said = texts(skipped)
    assert "discord-attachment:herald.md looks like a near-duplicate of" in said and "skipped it" in said
    assert "Added" not in said
    assert sorted(d.source for d in library.sources(slash_bot.collection(GUILD))) == [
        "discord-attachment:gazette.md", "discord-attachment:wire.md"
    ]


async def test_whom_discord_lets_use_ingest_can_use_it(slash_bot: RagBot, library: Library) -> None:
    # Discord only delivers /ingest to members the server allows (Manage Server by default, or a role an admin chose
    # under Integrations); a member without Manage Server who got through was allowed by such an override.
    interaction = fake_interaction(manage_guild=False)
    await cog(slash_bot).ingest.callback(cog(slash_bot), interaction, fake_attachment("harbour.md", ARTICLE), None)
    assert texts(interaction).startswith("Added 1 document(s)")
    assert [d.title for d in library.sources(slash_bot.collection(GUILD))] == ["Harbour news"]


OTHER_ARTICLE = b"# Observatory notes\n\nThe Brenn observatory opened its new telescope dome in 1968 under director Ilse Marr.\n"


async def test_a_same_named_upload_by_another_member_adds_a_document_and_replaces_nothing(
    slash_bot: RagBot, library: Library
) -> None:
    first = fake_interaction(user_id=1, manage_guild=True)
    await cog(slash_bot).ingest.callback(cog(slash_bot), first, fake_attachment("observatory.txt", ARTICLE), None)
    second = fake_interaction(user_id=2, manage_guild=True)
    await cog(slash_bot).ingest.callback(cog(slash_bot), second, fake_attachment("observatory.txt", OTHER_ARTICLE), None)

    said = texts(second)
    assert said.startswith("Added 1 document(s)") and "Updated" not in said
    assert "**Harbour news** (observatory.txt, added " in said and "same file name and is still in the library" in said
    collection = slash_bot.collection(GUILD)
    assert sorted(d.title for d in library.sources(collection)) == ["Harbour news", "Observatory notes"]
    assert "Ada Brandt" in library.ask("who painted the Korrin lighthouse?", collection=collection).text

    again = fake_interaction(user_id=2, manage_guild=True)  # the very same file again changes nothing
    await cog(slash_bot).ingest.callback(cog(slash_bot), again, fake_attachment("observatory.txt", OTHER_ARTICLE), None)
    assert "already in the library, unchanged" in texts(again) and len(library.sources(collection)) == 2


async def test_replacing_a_document_is_an_explicit_choice_and_the_reply_says_what_was_replaced(
    slash_bot: RagBot, library: Library
) -> None:
    library_cog = cog(slash_bot)
    first = fake_interaction(manage_guild=True)
    await library_cog.ingest.callback(library_cog, first, fake_attachment("observatory.txt", ARTICLE), None)
    [choice] = await library_cog.ingest_autocomplete(fake_interaction(manage_guild=True), "harbour")
    update = fake_interaction(manage_guild=True)
    await library_cog.ingest.callback(
        library_cog, update, fake_attachment("observatory.txt", OTHER_ARTICLE), None, None, choice.value
    )
    said = texts(update)
    assert said.startswith("Added 1 document(s)") and "Replaced **Harbour news** (observatory.txt, added " in said
    assert [d.title for d in library.sources(slash_bot.collection(GUILD))] == ["Observatory notes"]


async def test_a_file_added_from_a_message_links_its_sources_to_that_message(
    slash_bot: RagBot, library: Library
) -> None:
    from bot.discord.render import render_answer
    from tests.support.fakes import fake_message

    message = fake_message([fake_attachment("harbour.md", ARTICLE)], jump_url="https://discord.com/channels/1001/5/77")
    interaction = fake_interaction(manage_guild=True)
    library_cog = cog(slash_bot)
    await library_cog.add_from_message_menu.callback(interaction, message)
    assert texts(interaction).startswith("Added 1 document(s)")
    answer = library.ask("who painted the Korrin lighthouse?", collection=slash_bot.collection(GUILD))
    [reply] = render_answer(answer)
    assert "**[1]** [Harbour news](https://discord.com/channels/1001/5/77)" in reply.embed.description


async def test_library_changes_are_logged_for_operators(
    slash_bot: RagBot, library: Library, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="bot.discord.cogs.library")
    library_cog = cog(slash_bot)
    await library_cog.ingest.callback(
        library_cog, fake_interaction(user_id=42, manage_guild=True), fake_attachment("harbour.md", ARTICLE), None
    )
    [doc] = library.sources(slash_bot.collection(GUILD))
    await library_cog.forget.callback(library_cog, fake_interaction(user_id=43, manage_guild=True), doc.doc_id)
    ingest, forget = [r.getMessage() for r in caplog.records if r.name == "bot.discord.cogs.library"]
    assert ingest.startswith(f"ingest guild={GUILD} user=42 source='harbour.md' added=['{doc.doc_id}']")
    assert forget == f"forget guild={GUILD} user=43 doc_id='{doc.doc_id}' removed=True"
    assert "Ada Brandt" not in ingest, "no document text in the log"


@pytest.mark.parametrize(
    ("filename", "data", "expected"),
    [
        ("slides.pdf", b"%PDF-1.4", "I can read .txt, .md, .html and .jsonl files, not slides.pdf."),
        ("empty.txt", b"   \n", "Skipped discord-attachment:empty.txt: the file is empty."),
    ],
)
async def test_unusable_files_get_a_clear_reason(
    slash_bot: RagBot, library: Library, filename: str, data: bytes, expected: str
) -> None:
    interaction = fake_interaction(manage_guild=True)
    await cog(slash_bot).ingest.callback(cog(slash_bot), interaction, fake_attachment(filename, data), None)
    assert texts(interaction).strip() == expected
    assert library.sources(slash_bot.collection(GUILD)) == []


async def test_ingest_needs_exactly_one_of_file_and_url(slash_bot: RagBot) -> None:
    interaction = fake_interaction(manage_guild=True)
    await cog(slash_bot).ingest.callback(cog(slash_bot), interaction, None, None)
    assert shown(interaction) == [
        {"content": "Attach one file or give one URL to add.", "ephemeral": True, "allowed_mentions": NO_PINGS}
    ]


@pytest.fixture
def local_page() -> Iterator[str]:
    """An article served on 127.0.0.1."""
    page = (
        b"<html><head><title>Korrin lighthouse</title></head><body><article><p>"
        + ARTICLE[15:] * 3
        + b"</p></article></body></html>"
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/lighthouse.html"
    server.shutdown()
    server.server_close()


async def test_admin_ingests_a_web_page(bot_settings: DiscordSettings, embedder: Any, local_page: str) -> None:
    settings = bot_settings.model_copy(
        update={"allowed_hosts": ["127.0.0.1"]}
    )  # the fetcher refuses loopback otherwise
    library = Library(settings, embedder=embedder)
    bot = create_bot(settings, library, sync_commands=False)
    await bot.setup_hook()
    interaction = fake_interaction(manage_guild=True)
    await cog(bot).ingest.callback(cog(bot), interaction, None, local_page)

    assert interaction.followup.send.call_args.kwargs["content"].startswith("Added 1 document(s)")
    [doc] = library.sources(bot.collection(GUILD))
    assert doc.source == local_page
    assert "Ada Brandt" in library.ask("who painted the Korrin lighthouse?", collection=bot.collection(GUILD)).text


async def test_the_engines_reason_for_not_fetching_a_url_is_shown_to_the_admin(
    slash_bot: RagBot, library: Library, local_page: str
) -> None:
    interaction = fake_interaction(manage_guild=True)
    await cog(slash_bot).ingest.callback(cog(slash_bot), interaction, None, local_page)  # loopback: refused by default
    reply = interaction.followup.send.call_args.kwargs["content"]
    assert reply.startswith(f"Skipped {local_page}: ") and "loopback" in reply
    assert library.sources(slash_bot.collection(GUILD)) == []


async def test_a_malformed_url_is_refused_before_any_work(slash_bot: RagBot) -> None:
    interaction = fake_interaction(manage_guild=True)
    await cog(slash_bot).ingest.callback(cog(slash_bot), interaction, None, "ftp://example.org/x")
    assert shown(interaction)[0]["content"] == "The URL must start with http:// or https://."
    interaction.response.defer.assert_not_awaited()


# -- /forget ----------------------------------------------------------------------------------------


async def test_forget_autocompletes_titles_and_removes_the_chosen_document(
    slash_bot: RagBot, sample_guild: int, library: Library
) -> None:
    library_cog = cog(slash_bot)
    typing = fake_interaction(guild_id=sample_guild, manage_guild=True)
    choices = await library_cog.forget_autocomplete(typing, "beijing")
    assert [c.value for c in choices] == [SAMPLE_DOC_ID] and choices[0].name.startswith("Moscow and Beijing")
    assert await library_cog.forget_autocomplete(typing, "no such words") == []

    interaction = fake_interaction(guild_id=sample_guild, manage_guild=True)
    await library_cog.forget.callback(library_cog, interaction, choices[0].value)
    content = interaction.followup.send.call_args.kwargs["content"]
    assert content.startswith("Forgot **Moscow and Beijing hold similar views")
    assert library.sources(slash_bot.collection(sample_guild)) == []


async def test_forget_of_a_long_document_id_goes_through_its_short_choice_value(
    slash_bot: RagBot, library: Library
) -> None:
    long_id = "/very/long/path/" + "x" * 150 + ".txt"
    library.ingest_documents(
        [Document(long_id, long_id, "Long path doc", "Some text here. More text.")], slash_bot.collection(GUILD)
    )
    interaction = fake_interaction(manage_guild=True)
    [choice] = await cog(slash_bot).forget_autocomplete(interaction, "long path")
    assert len(choice.value) <= 100
    await cog(slash_bot).forget.callback(cog(slash_bot), interaction, choice.value)
    assert interaction.followup.send.call_args.kwargs["content"] == "Forgot **Long path doc**."
    assert library.sources(slash_bot.collection(GUILD)) == []


async def test_forget_of_an_unknown_document_says_so(slash_bot: RagBot, sample_guild: int) -> None:
    interaction = fake_interaction(guild_id=sample_guild, manage_guild=True)
    await cog(slash_bot).forget.callback(cog(slash_bot), interaction, "nothing-like-this")
    assert "There is no document 'nothing-like-this'" in interaction.followup.send.call_args.kwargs["content"]


def test_admin_commands_are_hidden_from_members_without_manage_server(slash_bot: RagBot) -> None:
    for name, kind in (("ingest", None), ("forget", None), ("Add to library", discord.AppCommandType.message)):
        command = slash_bot.tree.get_command(name, type=kind or discord.AppCommandType.chat_input)
        assert command is not None and command.default_permissions == discord.Permissions(manage_guild=True)
    assert slash_bot.tree.get_command("ask").default_permissions is None
