"""envfile.py: in-place, atomic, locked updates that python-dotenv reads back exactly."""

from __future__ import annotations

import io
import multiprocessing
import os
import stat
import string
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import given, settings
from hypothesis import strategies as st

from sage200_doctor.config.envfile import quote, render, update_env_file
from sage200_doctor.config.settings import Secret, load_settings

KEY = "SAGE200_REFRESH_TOKEN"
ORIGINAL = (
    "# Sage 200 settings\n"
    "SAGE200_CLIENT_ID=client-1\n"
    "\n"
    "export SAGE200_REFRESH_TOKEN=old-refresh  # rotated by sage200-doctor\n"
    "SAGE200_SITE_ID='site'\n"
)


def values(path: Path) -> dict[str, str | None]:
    return dict(dotenv_values(path, interpolate=False))


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def env(tmp_path: Path) -> Path:
    path = tmp_path / ".env"
    path.write_text(ORIGINAL)
    path.chmod(0o640)
    return path


# --- rewriting in place ---------------------------------------------------------------------


def test_only_the_named_key_changes(env: Path) -> None:
    update_env_file(env, {KEY: "new-refresh"})
    assert env.read_text() == ORIGINAL.replace(
        "SAGE200_REFRESH_TOKEN=old-refresh", 'SAGE200_REFRESH_TOKEN="new-refresh"'
    )
    assert values(env) == {
        "SAGE200_CLIENT_ID": "client-1",
        KEY: "new-refresh",
        "SAGE200_SITE_ID": "site",
    }


def test_backup_holds_the_previous_content(env: Path) -> None:
    backup = update_env_file(env, {KEY: "new-refresh"})
    assert backup == env.with_name(".env.bak")
    assert backup.read_text() == ORIGINAL
    assert mode_of(backup) == 0o600


def test_permission_bits_are_kept(env: Path) -> None:
    update_env_file(env, {KEY: "new-refresh"})
    assert mode_of(env) == 0o640


def test_new_file_is_created_private_without_backup(tmp_path: Path) -> None:
    path = tmp_path / "fresh.env"
    assert update_env_file(path, {KEY: "first", "SAGE200_CLIENT_ID": "c"}) is None
    assert mode_of(path) == 0o600
    assert path.read_text() == f'{KEY}="first"\nSAGE200_CLIENT_ID="c"\n'
    assert not path.with_name("fresh.env.bak").exists()


def test_missing_keys_are_appended_with_the_file_line_ending(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"# windows file\r\nSAGE200_CLIENT_ID=c")  # no final line break
    update_env_file(path, {KEY: "r"})
    assert (
        path.read_bytes()
        == b'# windows file\r\nSAGE200_CLIENT_ID=c\r\nSAGE200_REFRESH_TOKEN="r"\r\n'
    )


def test_crlf_bom_and_inline_comments_survive(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(
        b"\xef\xbb\xbfA=1\r\nSAGE200_REFRESH_TOKEN='old' # keep me\r\nSAGE200_ACCESS_TOKEN= # none\r\n"
    )
    update_env_file(path, {KEY: "new", "SAGE200_ACCESS_TOKEN": "t"})
    assert path.read_bytes() == (
        b"\xef\xbb\xbfA=1\r\n"
        b'SAGE200_REFRESH_TOKEN="new" # keep me\r\n'
        b'SAGE200_ACCESS_TOKEN= "t" # none\r\n'
    )
    assert load_settings(path, environ={}).settings.access_token == Secret("t")


def test_multi_line_values_and_duplicates_are_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(f'{KEY}="line one\nline two"\nB=2\n{KEY}=again\n')
    update_env_file(path, {KEY: "single"})
    assert path.read_text() == f'{KEY}="single"\nB=2\n{KEY}="single"\n'


def test_key_without_value_gets_one(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(f"{KEY}\nB=2\n")
    update_env_file(path, {KEY: "v"})
    assert values(path) == {KEY: "v", "B": "2"}


def test_bytes_that_are_not_utf8_are_kept_exactly(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"# caf\xe9\nNOTE=\x93quoted\x94\nSAGE200_REFRESH_TOKEN=old\n")
    update_env_file(path, {KEY: "new"})
    assert path.read_bytes() == b'# caf\xe9\nNOTE=\x93quoted\x94\nSAGE200_REFRESH_TOKEN="new"\n'


def test_symlinked_file_is_updated_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "secrets" / "sage.env"
    real.parent.mkdir()
    real.write_text(f"{KEY}=old\n")
    link = tmp_path / ".env"
    link.symlink_to(real)
    backup = update_env_file(link, {KEY: "new"})
    assert link.is_symlink()
    assert values(real) == {KEY: "new"}
    assert backup == real.with_name("sage.env.bak")


def test_no_temporary_files_are_left_behind(env: Path) -> None:
    update_env_file(env, {KEY: "a"})
    update_env_file(env, {KEY: "b"})
    assert sorted(p.name for p in env.parent.iterdir()) == [".env", ".env.bak"]


# --- refusing unsafe writes -----------------------------------------------------------------


@pytest.mark.parametrize("key", ["", "1ABC", "A B", "A=B", "A#"])
def test_invalid_keys_are_refused(env: Path, key: str) -> None:
    with pytest.raises(ValueError, match="not a valid"):
        update_env_file(env, {key: "x"})
    assert env.read_text() == ORIGINAL


def test_value_that_cannot_be_utf8_is_refused_without_showing_it(env: Path) -> None:
    with pytest.raises(ValueError, match=KEY) as raised:
        update_env_file(env, {KEY: "abc\udc80def"})
    assert "abc" not in str(raised.value)
    assert env.read_text() == ORIGINAL


def test_a_rewrite_that_would_not_read_back_is_refused(tmp_path: Path) -> None:
    # The old value never closes its quote: appending a quoted line would be swallowed by it.
    path = tmp_path / ".env"
    broken = f'{KEY}="unclosed\nOTHER=1\n'
    path.write_text(broken)
    with pytest.raises(ValueError, match="file left as is"):
        update_env_file(path, {KEY: "new"})
    assert path.read_text() == broken


def test_failed_replace_leaves_the_old_file_and_no_temporary(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace

    def fail_on_target(source: str, destination: Path) -> None:
        if Path(destination) == env:
            raise OSError(28, "No space left on device")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", fail_on_target)
    with pytest.raises(OSError, match="No space"):
        update_env_file(env, {KEY: "new"})
    assert env.read_text() == ORIGINAL
    assert not [p for p in env.parent.iterdir() if p.name.endswith(".tmp")]


# --- concurrency ----------------------------------------------------------------------------


def _writer(path: str, worker: int, rounds: int) -> None:
    for round_number in range(rounds):
        update_env_file(
            Path(path),
            {KEY: f"token-{worker}-{round_number}", f"WORKER_{worker}": str(round_number)},
        )


def test_concurrent_updates_leave_a_valid_file(env: Path) -> None:
    workers, rounds = 4, 15
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_writer, args=(str(env), worker, rounds))
        for worker in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * workers
    final = values(env)
    written = {f"token-{w}-{r}" for w in range(workers) for r in range(rounds)}
    assert final[KEY] in written
    # With the lock, no update is lost: every worker's own key holds its last round.
    for worker in range(workers):
        assert final[f"WORKER_{worker}"] == str(rounds - 1)
    assert final["SAGE200_CLIENT_ID"] == "client-1"
    assert final["SAGE200_SITE_ID"] == "site"
    assert env.read_text().startswith("# Sage 200 settings\n")


# --- round trips ----------------------------------------------------------------------------

TRICKY = st.sampled_from(["", " ", '"', "'", "#", " #", "$", "${HOME}", "=", "\\", "\\'", '\\"'])
PRINTABLE = st.text(alphabet=string.printable, max_size=40)
ANYTHING = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
VALUES = st.one_of(PRINTABLE, ANYTHING, st.lists(TRICKY, max_size=6).map("".join))


@given(value=VALUES)
def test_quote_round_trips_through_dotenv(value: str) -> None:
    parsed = dotenv_values(stream=io.StringIO(f"K={quote(value)}\n"), interpolate=False)
    assert parsed == {"K": value}


@given(value=VALUES, original=VALUES)
def test_render_round_trips_and_keeps_other_keys(value: str, original: str) -> None:
    before = f"# c\nA=1\nexport {KEY}={quote(original)} # note\nB='2'\n".encode()
    after = render(before, {KEY: value})
    parsed = dotenv_values(stream=io.StringIO(after.decode()), interpolate=False)
    assert parsed == {"A": "1", KEY: value, "B": "2"}
    assert after.startswith(b"# c\nA=1\nexport ")
    assert after.endswith(b" # note\nB='2'\n")


@settings(max_examples=40, deadline=None)
@given(value=VALUES.filter(bool))
def test_update_round_trips_through_the_settings_loader(
    tmp_path_factory: pytest.TempPathFactory, value: str
) -> None:
    path = tmp_path_factory.mktemp("roundtrip") / ".env"
    update_env_file(path, {KEY: value, "SAGE200_CLIENT_ID": value})
    assert values(path) == {KEY: value, "SAGE200_CLIENT_ID": value}
    loaded = load_settings(path, environ={})
    assert loaded.settings.refresh_token == Secret(value)
    assert loaded.settings.client_id == value
