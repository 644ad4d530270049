import re
from pathlib import Path

from retrieval.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _env_name(name: str) -> str:
    field = Settings.model_fields[name]
    alias = field.validation_alias
    return alias.choices[0] if alias is not None else f"RAGBOT_{name.upper()}"  # type: ignore[union-attr]


def test_env_example_lists_every_setting_with_a_comment() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z_0-9]+)=", text, re.MULTILINE))
    assert listed == {_env_name(n) for n in Settings.model_fields}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z_0-9]+=", line):
            assert lines[i - 1].startswith("#"), f"{line} has no comment above it"


def test_env_example_parses_to_the_defaults() -> None:
    from_example = Settings(_env_file=str(ROOT / ".env.example"))  # type: ignore[call-arg]
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert from_example.model_dump() == defaults.model_dump()


def test_environment_overrides_and_token_alias(monkeypatch) -> None:
    monkeypatch.setenv("RAGBOT_K", "7")
    monkeypatch.setenv("DISCORD_TOKEN", "abc.def")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.k == 7
    assert s.discord_token is not None and s.discord_token.get_secret_value() == "abc.def"
    assert "abc.def" not in repr(s)
