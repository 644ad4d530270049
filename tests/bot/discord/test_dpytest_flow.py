"""Message flows through discord.py's real state machine (dpytest): mention → thread → follow-up, limits, no pings."""

from __future__ import annotations

import re
import time
from typing import Any

import discord
import discord.ext.test as dpytest

from bot.discord.client import RagBot
from bot.discord.render import DRAFT_HEADER
from bot.discord.replies import APOLOGY
from retrieval.library import Library
from retrieval.types import CANNOT_ANSWER
from tests.support.dpy import post, sent_in


def _channel_payloads(payloads: list[dict[str, Any]], channel_id: int) -> list[dict[str, Any]]:
    return [p for p in payloads if p["channel_id"] == channel_id]


async def test_mention_is_answered_in_a_thread_started_from_the_message(
    dpy_bot: RagBot, payloads: list[dict[str, Any]]
) -> None:
    config = dpytest.get_config()
    channel, member = config.guilds[0].text_channels[0], config.members[0]
    asked = await dpytest.message(
        f"<@{dpy_bot.user.id}> what exercises were mentioned?", channel=channel, member=member
    )

    thread = channel.guild.get_thread(asked.id)
    assert isinstance(thread, discord.Thread) and thread.parent_id == channel.id
    assert thread.name == "what exercises were mentioned?"
    reply = dpytest.get_message()
    assert reply.channel.id == thread.id
    assert "North Pacific" in reply.content and "Sea of Japan" in reply.content
    assert reply.embeds and reply.embeds[0].title == "Sources"
    assert "[1]" in reply.embeds[0].description and "[2]" in reply.embeds[0].description
    assert not _channel_payloads(payloads, channel.id), "nothing is posted in the channel itself"


# A thread about the sample article: each follow-up leans on the turns before it; the article never says how many
# ships took part. Each turn: what is asked, the facts its cited quotes must hold, and facts they must not hold.
CONVERSATION = [
    ("what exercises were mentioned?", ["North Pacific", "Sea of Japan"], []),
    ("where was the second one?", ["Sea of Japan"], ["North Pacific"]),
    ("who described it as the largest of its kind?", ["Putin"], []),
    ("and what about the first one?", ["North Pacific"], ["Sea of Japan"]),
    ("how many ships took part?", None, []),
]


async def test_a_five_turn_thread_is_answered_turn_by_turn_or_abstains_where_the_article_is_silent(
    dpy_bot: RagBot, library: Any
) -> None:
    config = dpytest.get_config()
    channel, member = config.guilds[0].text_channels[0], config.members[0]
    cog = dpy_bot.get_cog("Ask")
    thread = None
    for number, (question, facts, not_facts) in enumerate(CONVERSATION, start=1):
        if thread is None:
            asked = await dpytest.message(f"<@{dpy_bot.user.id}> {question}", channel=channel, member=member)
            thread = channel.guild.get_thread(asked.id)
            assert isinstance(thread, discord.Thread)
        else:
            asked = await dpytest.message(question, channel=thread, member=member)  # no mention needed in the thread
        reply = dpytest.get_message()
        assert reply.channel.id == thread.id, f"turn {number} is answered in the thread"
        quotes = " ".join(cog.turns[asked.id].quotes)
        if facts is None:
            assert reply.content == CANNOT_ANSWER and not quotes, f"turn {number} abstains"
            continue
        for fact in facts:
            assert fact in quotes and fact in reply.content, f"turn {number}: {fact!r} is cited"
        for fact in not_facts:
            assert fact not in quotes, f"turn {number}: {fact!r} belongs to another part of the thread"


async def test_the_thread_is_read_back_as_turns_with_quotes_after_a_restart(dpy_bot: RagBot) -> None:
    config = dpytest.get_config()
    channel, member = config.guilds[0].text_channels[0], config.members[0]
    asked = await dpytest.message(f"<@{dpy_bot.user.id}> what exercises were mentioned?", channel=channel, member=member)
    dpytest.get_message()
    thread = channel.guild.get_thread(asked.id)
    await dpytest.message("thanks!", channel=thread, member=member)
    follow = await dpytest.message("where was the second one?", channel=thread, member=member)
    dpytest.get_message()
    cog = dpy_bot.get_cog("Ask")
    remembered = await cog.thread_turns(thread, before=follow)
    cog.turns.clear()  # what a restarted bot knows: only the thread itself
    [turn] = await cog.thread_turns(thread, before=follow)
    assert turn.question == "what exercises were mentioned?" and turn.quotes == remembered[0].quotes
    assert any("North Pacific" in q for q in turn.quotes) and any("Sea of Japan" in q for q in turn.quotes)


async def test_messages_that_do_not_mention_the_bot_are_ignored(dpy_bot: RagBot) -> None:
    config = dpytest.get_config()
    await dpytest.message(
        "what exercises were mentioned?", channel=config.guilds[0].text_channels[0], member=config.members[0]
    )
    assert dpytest.verify().message().nothing()


async def test_long_answer_is_split_under_2000_characters_with_sources_per_part(
    make_dpy_bot: Any, bot_settings: Any, library: Any
) -> None:
    from retrieval.types import Document

    bot = await make_dpy_bot(bot_settings, library)
    guild = dpytest.get_config().guilds[0]
    names = ["Vellmark", "Orsund", "Talvik", "Brennhavn", "Skarpnes", "Lodby", "Hammerfjord", "Kirkevag"]
    sentences = [
        f"The harbour of {name} was one of the fishing harbours mentioned in the review, a busy northern port where "
        "trawlers land cod, haddock and herring all year round, where the cold stores along the quay hold frozen fish "
        "for export, and where the harbour authority reported record landings, longer opening hours for the fish "
        "auction, new berths for the trawler fleet and a deeper channel for the cargo ships that carry the catch south."
        for name in names
    ]
    doc = Document("harbours", "https://example.org/harbours", "Northern *harbours* report", " ".join(sentences))
    library.ingest_documents([doc], bot.collection(guild.id))
    member = dpytest.get_config().members[0]
    await dpytest.message(
        f"<@{bot.user.id}> which fishing harbours were mentioned in the review?",
        channel=guild.text_channels[0],
        member=member,
    )
    replies = []
    while not dpytest.sent_queue.empty():
        replies.append(dpytest.get_message())
    assert len(replies) >= 2, "the answer (six ~440-character sentences) needs several messages"
    assert sum(len(r.content) for r in replies) > 2000
    for reply in replies:
        assert len(reply.content) <= 2000
        cited = {int(n) for n in re.findall(r"\[(\d+)\]", reply.content)}
        assert cited, "every part carries at least one marker"
        described = reply.embeds[0].description
        assert all(f"**[{n}]**" in described for n in cited), "every marker in a part resolves in that part's sources"
        assert len(reply.embeds[0]) <= 6000 and len(described) <= 4096
        assert "https://example.org/harbours" in described
        assert "\\*harbours\\*" in described, "markdown in titles is escaped"


async def test_mentions_in_articles_are_shown_but_never_delivered(
    make_dpy_bot: Any, bot_settings: Any, library: Any, payloads: list[dict[str, Any]]
) -> None:
    from retrieval.types import Document

    bot = await make_dpy_bot(bot_settings, library)
    config = dpytest.get_config()
    guild, victim = config.guilds[0], config.members[1]
    text = (
        f"The storm warning from the harbour master to @everyone and <@{victim.id}> closed the quay for three days. "
        "The ferries stayed in port."
    )
    library.ingest_documents([Document("memo", "memo.txt", "Memo to @here", text)], bot.collection(guild.id))
    await dpytest.message(
        f"<@{bot.user.id}> what did the storm warning close?", channel=guild.text_channels[0], member=config.members[0]
    )
    reply = dpytest.get_message()
    assert "@everyone" in reply.content and f"<@{victim.id}>" in reply.content  # shown as written
    sent = [p for p in payloads if "content" in p]
    # What Discord decides pings by: no parsed kinds (everyone, roles, users) and no explicit ids.
    assert sent and all(p["allowed_mentions"] == {"parse": []} for p in sent)


async def test_a_document_of_one_server_is_never_cited_in_another(
    make_dpy_bot: Any, bot_settings: Any, library: Any
) -> None:
    from retrieval.types import Document

    bot = await make_dpy_bot(bot_settings, library)
    config = dpytest.get_config()
    guild_a, guild_b = config.guilds
    member_a = next(m for m in config.members if m.guild.id == guild_a.id)
    member_b = next(m for m in config.members if m.guild.id == guild_b.id)
    secret = Document(
        "lighthouse",
        "lighthouse.txt",
        "The Korrin lighthouse",
        "The Korrin lighthouse was painted green and white in 1931 by the keeper Ada Brandt. It guards the northern reef.",
    )
    library.ingest_documents([secret], bot.collection(guild_a.id))
    from tests.support.dpy import add_sample

    add_sample(library, bot.collection(guild_b.id))  # server B has a library, just not this document
    question = "who painted the Korrin lighthouse green and white?"

    await dpytest.message(f"<@{bot.user.id}> {question}", channel=guild_b.text_channels[0], member=member_b)
    in_b = dpytest.get_message()
    assert "Ada Brandt" not in in_b.content and "lighthouse" not in (in_b.embeds[0].description if in_b.embeds else "")

    await dpytest.message(f"<@{bot.user.id}> {question}", channel=guild_a.text_channels[0], member=member_a)
    in_a = dpytest.get_message()
    assert "Ada Brandt" in in_a.content and "Korrin lighthouse" in in_a.embeds[0].description


async def _thread_with_an_answer(bot: RagBot) -> tuple[discord.Thread, discord.Member, discord.Message]:
    config = dpytest.get_config()
    channel, member = config.guilds[0].text_channels[0], config.members[0]
    asked = await dpytest.message(f"<@{bot.user.id}> what exercises were mentioned?", channel=channel, member=member)
    answer = dpytest.get_message()
    thread = channel.guild.get_thread(asked.id)
    assert isinstance(thread, discord.Thread) and answer.channel.id == thread.id
    return thread, member, answer


async def test_in_its_threads_the_bot_answers_only_what_is_asked_of_it(
    dpy_bot: RagBot, payloads: list[dict[str, Any]]
) -> None:
    thread, member, answer = await _thread_with_an_answer(dpy_bot)
    other = dpytest.get_config().members[1]
    before = len(sent_in(payloads, thread.id))

    await post(thread, member, "thanks!")  # chat
    await post(thread, other, f"<@{member.id}> did you read the whole article?")  # to another member
    await post(thread, member, "")  # an image or a sticker: no text
    await post(thread, member, "", kind=discord.MessageType.pins_add)  # system messages
    await post(thread, member, "", kind=discord.MessageType.recipient_add)
    assert dpytest.verify().message().nothing() and len(sent_in(payloads, thread.id)) == before

    await post(thread, member, "and where was the second one")  # reads as a question without its question mark
    assert "Sea of Japan" in dpytest.get_message().content
    await post(thread, other, "hmm, the patrol", reply_to=answer)  # a reply to the bot is addressed to it
    assert dpytest.get_message().channel.id == thread.id
    await post(thread, other, f"<@{dpy_bot.user.id}> the patrol")  # and so is a mention
    assert dpytest.get_message().channel.id == thread.id


async def test_refusals_in_the_mention_path_are_reactions_not_messages(
    make_dpy_bot: Any, bot_settings: Any, library: Any, payloads: list[dict[str, Any]]
) -> None:
    from tests.support.dpy import add_sample

    bot = await make_dpy_bot(bot_settings.model_copy(update={"cooldown_seconds": 3600}), library)
    config = dpytest.get_config()
    channel, member, other = config.guilds[0].text_channels[0], config.members[0], config.members[1]
    add_sample(library, bot.collection(channel.guild.id))
    await dpytest.message(f"<@{bot.user.id}> what exercises were mentioned?", channel=channel, member=member)
    assert "North Pacific" in dpytest.get_message().content
    sent = len(payloads)

    second = await dpytest.message(f"<@{bot.user.id}> where was the patrol?", channel=channel, member=member)
    assert [str(r.emoji) for r in second.reactions] == ["⏳"], "too soon: a reaction"
    assert channel.guild.get_thread(second.id) is None, "no thread is started for a refused question"

    empty = await dpytest.message(f"<@{bot.user.id}>", channel=channel, member=other)
    assert [str(r.emoji) for r in empty.reactions] == ["❔"], "nothing asked: a reaction"

    gate = bot.asker.gate
    gate.running, gate.queued = gate.concurrent, 0  # every slot taken and no room in the line
    busy = await dpytest.message(f"<@{bot.user.id}> where was the patrol?", channel=channel, member=other)
    assert [str(r.emoji) for r in busy.reactions] == ["🚦"], "busy: a reaction"
    gate.running = 0
    assert dpytest.verify().message().nothing() and len(payloads) == sent, "nothing was posted"


class _DraftShown:
    """Stands in for `DraftingChatModel.drafted`: set once a draft edit with answer text reached Discord."""

    def __init__(self, payloads: list[dict[str, Any]]) -> None:
        self.payloads = payloads

    def wait(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any("edit" in p and str(p.get("content", "")).startswith(DRAFT_HEADER) and "Pacific" in p["content"]
                   for p in list(self.payloads)):
                return True
            time.sleep(0.02)
        return False


async def test_mention_with_a_streaming_generator_shows_a_draft_then_the_verified_answer(
    make_dpy_bot: Any, bot_settings: Any, embedder: Any, payloads: list[dict[str, Any]]
) -> None:
    from tests.support.dpy import add_sample, drafting_library

    settings = bot_settings.model_copy(update={"generator": "llamacpp"})
    library, _ = drafting_library(settings, embedder, drafted=_DraftShown(payloads))
    bot = await make_dpy_bot(settings, library)
    config = dpytest.get_config()
    channel, member = config.guilds[0].text_channels[0], config.members[0]
    add_sample(library, bot.collection(channel.guild.id))

    asked = await dpytest.message(f"<@{bot.user.id}> what exercises were mentioned?", channel=channel, member=member)
    thread = channel.guild.get_thread(asked.id)
    assert isinstance(thread, discord.Thread)
    in_thread = _channel_payloads(payloads, thread.id)
    [draft_post] = [p for p in in_thread if "edit" not in p]
    assert draft_post["content"].startswith(DRAFT_HEADER), "the reply starts as a marked draft"
    edits = [p for p in in_thread if "edit" in p]
    drafts = [p for p in edits if str(p.get("content", "")).startswith(DRAFT_HEADER)]
    assert drafts and "Pacific" in drafts[-1]["content"], "tokens were shown while they arrived"
    final = edits[-1]
    assert not final["content"].startswith(DRAFT_HEADER)
    assert "North Pacific" in final["content"] and "[1]" in final["content"] and "[2]" in final["content"]
    assert final["embeds"][0]["title"] == "Sources"
    assert all(p["allowed_mentions"]["parse"] == [] for p in in_thread)
    assert not _channel_payloads(payloads, channel.id), "nothing is posted in the channel itself"


class FailingLibrary(Library):
    """The real engine that breaks mid-answer (after streaming a few tokens when a generator streams)."""

    def ask(self, question: Any, *args: Any, on_token: Any = None, **kwargs: Any) -> Any:
        if on_token is not None:
            on_token("The drills were ")
            time.sleep(0.3)  # long enough for the draft to be shown
        raise ZeroDivisionError("boom")


async def test_an_error_in_the_mention_path_is_said_in_the_thread_not_the_channel(
    make_dpy_bot: Any, bot_settings: Any, embedder: Any, payloads: list[dict[str, Any]]
) -> None:
    library = FailingLibrary(bot_settings, embedder=embedder)
    bot = await make_dpy_bot(bot_settings, library)
    config = dpytest.get_config()
    channel, member = config.guilds[0].text_channels[0], config.members[0]
    asked = await dpytest.message(f"<@{bot.user.id}> what exercises were mentioned?", channel=channel, member=member)
    thread = channel.guild.get_thread(asked.id)
    assert isinstance(thread, discord.Thread)
    assert [p["content"] for p in sent_in(payloads, thread.id)] == [APOLOGY]
    assert not sent_in(payloads, channel.id), "nothing in the channel: the thread has the apology"


async def test_a_failed_stream_replaces_its_draft_with_the_apology(
    make_dpy_bot: Any, bot_settings: Any, embedder: Any, payloads: list[dict[str, Any]]
) -> None:
    settings = bot_settings.model_copy(update={"generator": "llamacpp"})
    bot = await make_dpy_bot(settings, FailingLibrary(settings, embedder=embedder))
    config = dpytest.get_config()
    channel, member = config.guilds[0].text_channels[0], config.members[0]
    asked = await dpytest.message(f"<@{bot.user.id}> what exercises were mentioned?", channel=channel, member=member)
    in_thread = sent_in(payloads, channel.guild.get_thread(asked.id).id)
    [draft] = [p for p in in_thread if "edit" not in p]
    assert draft["content"].startswith(DRAFT_HEADER)
    # the only message in the thread is the draft, and its last edit turned it into the apology
    assert in_thread[-1]["content"] == APOLOGY and in_thread[-1].get("edit"), "no draft is left behind"
    assert not sent_in(payloads, channel.id)


async def test_without_the_message_content_intent_mentions_and_replies_still_work(
    make_dpy_bot: Any, bot_settings: Any, library: Any, payloads: list[dict[str, Any]]
) -> None:
    from tests.support.dpy import add_sample

    bot = await make_dpy_bot(bot_settings.model_copy(update={"discord_message_content": False}), library)
    assert not bot.intents.message_content
    add_sample(library, bot.collection(dpytest.get_config().guilds[0].id))
    thread, member, answer = await _thread_with_an_answer(bot)
    assert "North Pacific" in answer.content
    before = len(sent_in(payloads, thread.id))
    await post(thread, member, "")  # "where was the second one?" as Discord delivers it without the intent
    assert len(sent_in(payloads, thread.id)) == before, "no 'the question is empty' for text the bot cannot see"
    await post(thread, member, "where was the second one?", reply_to=answer)  # replies carry their text
    assert "Sea of Japan" in dpytest.get_message().content


async def test_a_list_answer_that_stops_before_the_end_of_the_list_says_so(
    make_dpy_bot: Any, bot_settings: Any, library: Any
) -> None:
    from bot.discord.render import MORE_IN_LIST
    from retrieval.types import Document

    bot = await make_dpy_bot(bot_settings, library)
    guild = dpytest.get_config().guilds[0]
    events = [
        "a rowing race", "a choir concert", "a fish market", "a kite contest", "a puppet show", "a poetry reading",
        "a dance night", "a cheese fair", "a film evening", "a chess match", "a bread bake-off",
    ]
    text = "The Vell harbour festival opened on Friday with a lantern parade. " + " ".join(
        f"The festival also had {e}." for e in events
    )
    library.ingest_documents([Document("fest", "fest.txt", "Vell harbour festival", text)], bot.collection(guild.id))
    await dpytest.message(
        f"<@{bot.user.id}> which events were held at the Vell harbour festival?",
        channel=guild.text_channels[0], member=dpytest.get_config().members[0],
    )
    reply = dpytest.get_message()
    assert "lantern parade" in reply.content and "bread bake-off" not in reply.content  # twelve items, nine shown
    assert reply.embeds[0].footer.text == MORE_IN_LIST


async def test_each_question_is_logged_with_its_outcome_and_latency_and_its_words_only_when_asked(
    make_dpy_bot: Any, bot_settings: Any, library: Any, caplog: Any
) -> None:
    import logging

    from tests.support.dpy import add_sample

    caplog.set_level(logging.INFO, logger="bot.discord.cogs.ask")
    for log_content in (False, True):
        bot = await make_dpy_bot(bot_settings.model_copy(update={"log_content": log_content}), library)
        config = dpytest.get_config()
        guild = config.guilds[0]
        add_sample(library, bot.collection(guild.id))
        caplog.clear()
        await dpytest.message(
            f"<@{bot.user.id}> what exercises were mentioned?", channel=guild.text_channels[0], member=config.members[0]
        )
        dpytest.get_message()
        [line] = [r.getMessage() for r in caplog.records if r.name == "bot.discord.cogs.ask"]
        assert re.fullmatch(
            rf"question guild={guild.id} path=mention outcome=answered citations=2 ms=\d+"
            + (r" question='what exercises were mentioned\?'" if log_content else ""),
            line,
        ), line


async def test_a_mention_that_has_to_wait_shows_its_place_in_line_then_the_answer_in_its_place(
    make_dpy_bot: Any, bot_settings: Any, library: Any, payloads: list[dict[str, Any]]
) -> None:
    import asyncio

    from bot.discord.render import render_waiting
    from tests.support.dpy import add_sample

    bot = await make_dpy_bot(bot_settings.model_copy(update={"max_concurrent_questions": 1}), library)
    config = dpytest.get_config()
    channel, member = config.guilds[0].text_channels[0], config.members[0]
    add_sample(library, bot.collection(channel.guild.id))
    release = asyncio.Event()

    async def hold() -> None:
        async with bot.asker.gate.slot():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    asking = asyncio.create_task(
        dpytest.message(f"<@{bot.user.id}> what exercises were mentioned?", channel=channel, member=member)
    )
    try:
        for _ in range(500):  # the question waits behind the held slot, and says so
            if any(p.get("content") == render_waiting(1) for p in payloads):
                break
            await asyncio.sleep(0.01)
        assert any(p.get("content") == render_waiting(1) for p in payloads), "the place in line is shown"
    finally:
        release.set()
        asked = await asking
        await holder
    in_thread = sent_in(payloads, channel.guild.get_thread(asked.id).id)
    assert [p["content"] for p in in_thread if "edit" not in p] == [render_waiting(1)], "one message in the thread"
    assert "North Pacific" in in_thread[-1]["content"] and in_thread[-1]["embeds"][0]["title"] == "Sources"
