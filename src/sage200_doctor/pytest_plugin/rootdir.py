"""`--sage200-env FILE` (with a space) must not move pytest's rootdir.

pytest finds its rootdir and configuration file before it loads any plugin, so at that moment
it does not know `--sage200-env` takes a value: in `pytest --sage200-env site.env` it takes
`site.env` for a test path, and the rootdir and ini file are searched from that file's folder.
The user's own pytest configuration (their `addopts`, `testpaths`) is then silently ignored.
`--sage200-env=site.env` does not have the problem.

Once our option is known (`pytest_load_initial_conftests`, before the command line is parsed for
good), this works the setup out again as if FILE had not been taken for a path and, where it
differs, puts the right rootdir, ini file and `addopts` in place. It relies on a few of pytest's
own attributes; if those are not there, or the options of the configuration pytest found are not
where pytest puts them (so they cannot be taken back), it refuses with a usage error that says
to use the `=` form.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

OPTION = "--sage200-env"


def env_value_given_with_a_space(args: Sequence[str]) -> str | None:
    """FILE when the command line has `--sage200-env FILE` (not `--sage200-env=FILE`)."""
    for index, arg in enumerate(args[:-1]):
        if arg == OPTION:
            return args[index + 1]
    return None


def restore_setup(config: pytest.Config, args: list[str]) -> None:
    """Redo pytest's rootdir/ini choice without FILE; fix it up where FILE moved it."""
    if env_value_given_with_a_space(config.invocation_params.args) is None:
        return
    from _pytest.config.findpaths import determine_setup

    namespace = config.known_args_namespace
    rootpath, inipath, inicfg, ignored = determine_setup(
        inifile=namespace.inifilename,
        override_ini=namespace.override_ini,
        args=list(namespace.file_or_dir),
        rootdir_cmd_arg=namespace.rootdir or None,
        invocation_dir=config.invocation_params.dir,
    )
    if (rootpath, inipath) == (config.rootpath, config.inipath):
        return
    if not _has_pytest_internals(config) or not _drop_addopts_applied(config, args):
        raise pytest.UsageError(
            f"use {OPTION}=FILE (with '='): written as '{OPTION} FILE', pytest takes FILE for a "
            f"test path before sage200-doctor is loaded, and chose the rootdir {config.rootpath} "
            f"instead of {rootpath}."
        )
    chosen_by_pytest = str(config.inipath.parent if config.inipath else config.rootpath)
    _apply(config, args, rootpath, inipath, inicfg, ignored)
    if config.known_args_namespace.confcutdir == chosen_by_pytest:  # not the user's own
        config.known_args_namespace.confcutdir = str(inipath.parent if inipath else rootpath)


def _drop_addopts_applied(config: pytest.Config, args: list[str]) -> bool:
    """Take back the addopts of the configuration FILE's folder led to (pytest put them first);
    False when they are not where pytest puts them, so they cannot be taken back safely."""
    applied = config._validate_args(config.getini("addopts"), "via addopts config")
    if args[: len(applied)] != applied:
        return False
    del args[: len(applied)]
    return True


def _has_pytest_internals(config: pytest.Config) -> bool:
    return all(hasattr(config, name) for name in ("_rootpath", "_inipath", "_inicfg", "_inicache"))


def _apply(
    config: pytest.Config,
    args: list[str],
    rootpath: Path,
    inipath: Path | None,
    inicfg: object,
    ignored: Sequence[str],
) -> None:
    config._rootpath = rootpath
    config._inipath = inipath
    config._inicfg = inicfg  # type: ignore[assignment] # pytest's own ConfigDict
    config._ignored_config_files = ignored
    config._inicache.clear()
    config._parser.extra_info["rootdir"] = str(rootpath)
    config._parser.extra_info["inifile"] = str(inipath)
    addopts = config._validate_args(config.getini("addopts"), "via addopts config")
    # The right configuration's addopts, as pytest would have applied them; plugins they name
    # with -p are loaded now, since pytest has already looked for those.
    args[:] = [*addopts, *args]
    config.pluginmanager.consider_preparse(addopts, exclude_only=False)
